import type { FastifyInstance, FastifyRequest } from 'fastify';
import { CaregapsError } from '@caregaps/core';
import { PURPOSES, type Principal, type Purpose } from '@caregaps/access';

/** What an authenticator is, apart from what it does: checked when the server is created. */
export interface AuthenticatorMeta {
  /** Lower-case name, `a-z`, `0-9` and `-`, e.g. `development` or `oidc`. */
  name: string;
  /** The authenticator's own version, `x.y.z`. */
  version: string;
  /** What it checks, in one line. */
  description: string;
  /** `false` for anything that must never face real users (every page then says so). */
  production: boolean;
}

/** A signed-in user: who they are for the access layer and for which purposes they may ask. */
export interface Session {
  /** Stable id of the signed-in identity (shown, and used to select it again). */
  id: string;
  /** How the UI names them, e.g. "Dr Lee, GP at Barnet synthetic practice 1". */
  label: string;
  principal: Principal;
  /** The purposes this user may declare; the first is the default. Never empty. */
  purposes: readonly Purpose[];
  /** Whether this identity is a source system allowed to send records to `POST /fhir`. */
  submitsRecords: boolean;
}

/**
 * An authenticator plugin: `meta`, and `authenticate`, which names the session of a request or `undefined` (then
 * every page but the authenticator's own answers 401). `register` adds the authenticator's own routes (a sign-in
 * page, a callback); they are the only routes reachable without a session.
 */
export interface Authenticator {
  readonly meta: AuthenticatorMeta;
  authenticate(request: FastifyRequest): Session | undefined | Promise<Session | undefined>;
  register?(app: FastifyInstance): void | Promise<void>;
  /** Where the UI sends someone without a session (default `/login`). */
  readonly signInPath?: string;
}

const NAME = /^[a-z][a-z0-9-]*$/;
const VERSION = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/;

/** Checks an authenticator's `meta` and shape; throws `CG_SERVER_PLUGIN` saying what is wrong. */
export function checkAuthenticator(candidate: unknown): Authenticator {
  const problems: string[] = [];
  const a = candidate as Partial<Authenticator> | null;
  const meta = (a && typeof a === 'object' ? a.meta : undefined) as Partial<AuthenticatorMeta> | undefined;
  if (!meta || typeof meta !== 'object') problems.push('meta is missing');
  else {
    if (typeof meta.name !== 'string' || !NAME.test(meta.name)) problems.push('meta.name must be lower-case a-z, 0-9 and -');
    if (typeof meta.version !== 'string' || !VERSION.test(meta.version)) problems.push('meta.version must be x.y.z');
    if (typeof meta.description !== 'string' || meta.description.trim() === '') problems.push('meta.description must say what it checks');
    if (typeof meta.production !== 'boolean') problems.push('meta.production must be true or false');
  }
  if (typeof a?.authenticate !== 'function') problems.push('authenticate must be a function');
  if (a?.register !== undefined && typeof a.register !== 'function') problems.push('register must be a function when present');
  if (problems.length) throw new CaregapsError('CG_SERVER_PLUGIN', `The authenticator ${String(meta?.name ?? '(unnamed)')} cannot be used: ${problems.join('; ')}`);
  return a as Authenticator;
}

/** The purpose a request declares (`?purpose=`), or the session's default; `undefined` when it may not declare it. */
export function purposeOf(session: Session, asked: unknown): Purpose | undefined {
  if (asked === undefined || asked === '') return session.purposes[0];
  return PURPOSES.includes(asked as Purpose) && session.purposes.includes(asked as Purpose) ? (asked as Purpose) : undefined;
}
