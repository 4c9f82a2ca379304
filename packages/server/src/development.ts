import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { CaregapsError } from '@caregaps/core';
import { PURPOSES, type Purpose } from '@caregaps/access';
import type { Authenticator, AuthenticatorMeta, Session } from './authenticator.js';
import { esc, page } from './html.js';

const COOKIE = 'caregaps-dev-session';
const FIELDS = new Set(['id', 'label', 'user', 'roles', 'organisation', 'careTeams', 'purposes', 'submitsRecords']);

/** Reads and checks a principals file (`{ "principals": [...] }`); every problem names the entry and field. */
export function loadPrincipals(file: string): Session[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new CaregapsError('CG_INPUT', `Cannot read the principals file ${file}: ${(error as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw new CaregapsError('CG_SERVER_PRINCIPALS', `${file}: not valid JSON (${(error as Error).message})`);
  }
  return checkPrincipals(doc, file);
}

/** Checks principals given as data; `where` names the file in messages. */
export function checkPrincipals(doc: unknown, where = 'principals'): Session[] {
  const list = (doc as { principals?: unknown })?.principals;
  if (!Array.isArray(list) || list.length === 0) throw new CaregapsError('CG_SERVER_PRINCIPALS', `${where}: "principals" must be a non-empty array`);
  const seen = new Set<string>();
  return list.map((entry: unknown, i) => {
    const at = `${where}: principals[${i}]`;
    const fail = (what: string) => new CaregapsError('CG_SERVER_PRINCIPALS', `${at}: ${what}`);
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw fail('must be an object');
    const e = entry as Record<string, unknown>;
    for (const key of Object.keys(e)) if (!FIELDS.has(key)) throw fail(`unknown field "${key}" (allowed: ${[...FIELDS].join(', ')})`);
    for (const key of ['id', 'label', 'user', 'organisation']) if (typeof e[key] !== 'string' || e[key] === '') throw fail(`"${key}" must be a non-empty string`);
    if (!/^[a-z0-9][a-z0-9-]*$/.test(e['id'] as string)) throw fail('"id" must be lower-case letters, digits and -');
    if (seen.has(e['id'] as string)) throw fail(`"id" ${String(e['id'])} is used twice`);
    seen.add(e['id'] as string);
    const strings = (key: string) => Array.isArray(e[key]) && (e[key] as unknown[]).every((v) => typeof v === 'string');
    if (!strings('roles')) throw fail('"roles" must be an array of role names');
    if (e['careTeams'] !== undefined && !strings('careTeams')) throw fail('"careTeams" must be an array of care team ids');
    if (!strings('purposes') || (e['purposes'] as string[]).length === 0 || !(e['purposes'] as string[]).every((p) => PURPOSES.includes(p as Purpose))) {
      throw fail(`"purposes" must list one or more of ${PURPOSES.join(', ')}`);
    }
    if (e['submitsRecords'] !== undefined && typeof e['submitsRecords'] !== 'boolean') throw fail('"submitsRecords" must be true or false');
    return {
      id: e['id'] as string,
      label: e['label'] as string,
      principal: {
        user: e['user'] as string,
        roles: [...(e['roles'] as string[])],
        organisation: e['organisation'] as string,
        ...(e['careTeams'] ? { careTeams: [...(e['careTeams'] as string[])] } : {}),
      },
      purposes: [...(e['purposes'] as Purpose[])],
      submitsRecords: e['submitsRecords'] === true,
    };
  });
}

/** Options of the development authenticator. */
export interface DevelopmentAuthenticatorOptions {
  /** The principals anyone may act as: a file path, or the checked list. */
  principals: string | readonly Session[];
}

/**
 * The development authenticator: a sign-in page lists the principals of a file and anyone may pick one (kept in a
 * signed cookie). Not for production: `meta.production` is false, so every page carries a warning.
 */
export function developmentAuthenticator(options: DevelopmentAuthenticatorOptions): Authenticator {
  const sessions = typeof options.principals === 'string' ? loadPrincipals(options.principals) : checkPrincipals({ principals: options.principals.map(toEntry) });
  const byId = new Map(sessions.map((s) => [s.id, s]));
  const meta: AuthenticatorMeta = {
    name: 'development',
    version: '0.1.0',
    description: 'picks a principal from a file on a sign-in page; no password (not for production)',
    production: false,
  };
  const authenticate = (request: FastifyRequest): Session | undefined => {
    const raw = request.cookies[COOKIE];
    if (!raw) return undefined;
    const unsigned = request.unsignCookie(raw);
    return unsigned.valid && unsigned.value !== null ? byId.get(unsigned.value) : undefined;
  };
  return {
    meta,
    signInPath: '/login',
    authenticate,
    register(app: FastifyInstance): void {
      app.get('/login', async (request, reply) => {
        const current = authenticate(request);
        const options = sessions
          .map(
            (s, i) => `<li><input type="radio" name="principal" id="p-${esc(s.id)}" value="${esc(s.id)}"${(current ? current.id === s.id : i === 0) ? ' checked' : ''}>
<label for="p-${esc(s.id)}"><strong>${esc(s.label)}</strong> — ${esc(s.principal.roles.join(', '))} at ${esc(s.principal.organisation)}; purposes: ${esc(s.purposes.join(', '))}</label></li>`,
          )
          .join('\n');
        const body = `<form method="post" action="/login"><fieldset><legend>Act as</legend><ul class="choices">${options}</ul></fieldset>
<button type="submit">Sign in</button></form>`;
        return reply.type('text/html; charset=utf-8').send(page({ title: 'Sign in (development)', authenticator: meta }, body));
      });
      app.post('/login', async (request, reply) => {
        const id = (request.body as Record<string, unknown> | undefined)?.['principal'];
        const session = typeof id === 'string' ? byId.get(id) : undefined;
        if (!session) return reply.code(400).type('text/html; charset=utf-8').send(page({ title: 'Sign in (development)', authenticator: meta }, '<p class="message">Choose one of the listed users.</p><p><a href="/login">Back</a></p>'));
        reply.setCookie(COOKIE, session.id, { signed: true, httpOnly: true, sameSite: 'strict', path: '/' });
        return reply.redirect('/dashboard', 303);
      });
      app.post('/logout', async (_request, reply) => {
        reply.clearCookie(COOKIE, { path: '/' });
        return reply.redirect('/login', 303);
      });
    },
  };
}

function toEntry(s: Session): Record<string, unknown> {
  return { id: s.id, label: s.label, ...s.principal, roles: [...s.principal.roles], purposes: [...s.purposes], submitsRecords: s.submitsRecords };
}

/** A fresh secret for signing session cookies (sessions end when the process does). */
export function cookieSecret(): string {
  return randomBytes(32).toString('hex');
}
