import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import * as client from 'openid-client';
import { CaregapsError } from '@caregaps/core';
import type { Authenticator, AuthenticatorMeta, Session } from './authenticator.js';
import { DEFAULT_CLAIMS, checkClaimMapping, sessionFromClaims, type ClaimMapping } from './claims.js';
import { esc, page } from './html.js';

const SESSION_COOKIE = 'caregaps-session';
const FLOW_COOKIE = 'caregaps-oidc-flow';
const CALLBACK = '/oidc/callback';
/** How long a sign-in may take at the identity provider. */
const FLOW_SECONDS = 600;

/** How the OpenID Connect authenticator is configured (a config file holds the same fields, see `loadOidcConfig`). */
export interface OidcOptions {
  /** The issuer URL; its `/.well-known/openid-configuration` is read at start. https, or http on a loopback address. */
  issuer: string;
  clientId: string;
  /** The client secret (confidential client); without it the client is public and relies on PKCE. */
  clientSecret?: string;
  /** Where this server is reached by the users' browsers, e.g. `https://caregaps.example.nhs.uk`: the callback is `<publicUrl>/oidc/callback`. */
  publicUrl: string;
  /** Scopes asked for (default `openid profile`). */
  scopes?: readonly string[];
  /** Which claims name the principal (defaults: `DEFAULT_CLAIMS`). */
  claims?: ClaimMapping;
  /** Also read the user info endpoint and merge its claims under the ID token's (default false). */
  userInfo?: boolean;
  /** How long a session lasts before the user signs in again (default 480 minutes). */
  sessionMinutes?: number;
}

const CONFIG_FIELDS = new Set(['issuer', 'clientId', 'clientSecretFile', 'publicUrl', 'scopes', 'claims', 'userInfo', 'sessionMinutes']);

/**
 * Reads an OpenID Connect config file (JSON): `issuer`, `clientId`, `clientSecretFile`, `publicUrl`, `scopes`,
 * `claims`, `userInfo`, `sessionMinutes`; `overrides` (command-line options) win over the file, which wins over `defaults`.
 */
export function loadOidcConfig(
  file: string | undefined,
  overrides: Partial<OidcOptions> & { clientSecretFile?: string } = {},
  defaults: Partial<Pick<OidcOptions, 'publicUrl'>> = {},
): OidcOptions {
  let doc: Record<string, unknown> = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new CaregapsError('CG_INPUT', `Cannot read the OpenID Connect config ${file}: ${(error as Error).message}`);
    }
    try {
      doc = JSON.parse(text) as Record<string, unknown>;
    } catch (error) {
      throw new CaregapsError('CG_SERVER_OIDC', `${file}: not valid JSON (${(error as Error).message})`);
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new CaregapsError('CG_SERVER_OIDC', `${file}: must be a JSON object`);
    for (const key of Object.keys(doc)) if (!CONFIG_FIELDS.has(key)) throw new CaregapsError('CG_SERVER_OIDC', `${file}: unknown field "${key}" (allowed: ${[...CONFIG_FIELDS].join(', ')})`);
  }
  const where = file ?? 'the OpenID Connect options';
  const merged: Record<string, unknown> = { ...defaults, ...doc, ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) };
  const text = (key: string, required: boolean): string | undefined => {
    const v = merged[key];
    if (v === undefined && !required) return undefined;
    if (typeof v !== 'string' || v === '') throw new CaregapsError('CG_SERVER_OIDC', `${where}: "${key}" must be a non-empty string`);
    return v;
  };
  const secretFile = text('clientSecretFile', false);
  let clientSecret = text('clientSecret', false);
  if (secretFile) {
    try {
      clientSecret = readFileSync(secretFile, 'utf8').trim();
    } catch (error) {
      throw new CaregapsError('CG_INPUT', `Cannot read the OpenID Connect client secret ${secretFile}: ${(error as Error).message}`);
    }
    if (!clientSecret) throw new CaregapsError('CG_SERVER_OIDC', `${secretFile}: the client secret file is empty`);
  }
  const scopes = merged['scopes'];
  if (scopes !== undefined && (!Array.isArray(scopes) || !scopes.every((s) => typeof s === 'string' && /^\S+$/.test(s)) || !scopes.includes('openid'))) {
    throw new CaregapsError('CG_SERVER_OIDC', `${where}: "scopes" must be an array of scope names including "openid"`);
  }
  const minutes = merged['sessionMinutes'];
  if (minutes !== undefined && (typeof minutes !== 'number' || !Number.isInteger(minutes) || minutes < 1 || minutes > 24 * 60)) {
    throw new CaregapsError('CG_SERVER_OIDC', `${where}: "sessionMinutes" must be a whole number from 1 to 1440`);
  }
  const userInfo = merged['userInfo'];
  if (userInfo !== undefined && typeof userInfo !== 'boolean') throw new CaregapsError('CG_SERVER_OIDC', `${where}: "userInfo" must be true or false`);
  return {
    issuer: text('issuer', true)!,
    clientId: text('clientId', true)!,
    ...(clientSecret ? { clientSecret } : {}),
    publicUrl: text('publicUrl', true)!,
    ...(scopes ? { scopes: scopes as string[] } : {}),
    claims: checkClaimMapping(merged['claims'], where),
    ...(userInfo !== undefined ? { userInfo } : {}),
    ...(minutes !== undefined ? { sessionMinutes: minutes } : {}),
  };
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

function checkedUrl(value: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new CaregapsError('CG_SERVER_OIDC', `${what} is not a URL: ${value}`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname))) {
    throw new CaregapsError('CG_SERVER_OIDC', `${what} must use https (plain http only on 127.0.0.1 or localhost, for testing): ${value}`);
  }
  return url;
}

interface Flow {
  state: string;
  nonce: string;
  verifier: string;
}

/**
 * The OpenID Connect authenticator (authorization code flow with PKCE, through `openid-client`): `/login` sends the
 * browser to the identity provider, `/oidc/callback` exchanges the code, verifies the ID token (issuer, audience,
 * signature, nonce, state) and maps its claims to a principal, kept in a signed, HTTP-only, same-site cookie that
 * expires after `sessionMinutes`. The provider's metadata is read now, so a wrong issuer fails at start.
 */
export async function oidcAuthenticator(options: OidcOptions): Promise<Authenticator> {
  const issuer = checkedUrl(options.issuer, 'The OpenID Connect issuer');
  const publicUrl = checkedUrl(options.publicUrl, 'The public URL');
  const redirectUri = new URL(CALLBACK, publicUrl).toString();
  const secure = publicUrl.protocol === 'https:';
  const mapping = options.claims ?? DEFAULT_CLAIMS;
  const sessionSeconds = (options.sessionMinutes ?? 480) * 60;
  let config: client.Configuration;
  try {
    config = await client.discovery(
      issuer,
      options.clientId,
      options.clientSecret,
      options.clientSecret ? client.ClientSecretBasic(options.clientSecret) : client.None(),
      issuer.protocol === 'http:' ? { execute: [client.allowInsecureRequests] } : undefined,
    );
  } catch (error) {
    throw new CaregapsError('CG_SERVER_OIDC', `Cannot read the OpenID Connect configuration of ${issuer.href}: ${(error as Error).message}. Check --oidc-issuer and that the provider is reachable.`);
  }
  const meta: AuthenticatorMeta = {
    name: 'oidc',
    version: '0.1.0',
    description: `OpenID Connect sign-in at ${issuer.href} (authorization code with PKCE)`,
    production: true,
  };
  const cookieOptions = { signed: true, httpOnly: true, sameSite: 'lax' as const, secure, path: '/' };

  const readSigned = <T>(request: FastifyRequest, name: string): T | undefined => {
    const raw = request.cookies[name];
    if (!raw) return undefined;
    const unsigned = request.unsignCookie(raw);
    if (!unsigned.valid || unsigned.value === null) return undefined;
    try {
      const value = JSON.parse(Buffer.from(unsigned.value, 'base64url').toString('utf8')) as { exp?: unknown } & T;
      return typeof value.exp === 'number' && value.exp > Date.now() ? value : undefined;
    } catch {
      return undefined;
    }
  };
  const writeSigned = (reply: FastifyReply, name: string, value: object, seconds: number, path = '/'): void => {
    const encoded = Buffer.from(JSON.stringify({ ...value, exp: Date.now() + seconds * 1000 })).toString('base64url');
    reply.setCookie(name, encoded, { ...cookieOptions, path, maxAge: seconds });
  };
  const failure = (reply: FastifyReply, message: string) =>
    reply.code(401).type('text/html; charset=utf-8').send(page({ title: 'Sign-in failed', authenticator: meta }, `<p class="message">${esc(message)}</p><p><a href="/login">Sign in again</a></p>`));

  return {
    meta,
    signInPath: '/login',
    authenticate: (request) => readSigned<{ session: Session }>(request, SESSION_COOKIE)?.session,
    register(app: FastifyInstance): void {
      app.get('/login', async (_request, reply) => {
        const flow: Flow = { state: client.randomState(), nonce: client.randomNonce(), verifier: client.randomPKCECodeVerifier() };
        const url = client.buildAuthorizationUrl(config, {
          redirect_uri: redirectUri,
          scope: (options.scopes ?? ['openid', 'profile']).join(' '),
          response_type: 'code',
          code_challenge: await client.calculatePKCECodeChallenge(flow.verifier),
          code_challenge_method: 'S256',
          state: flow.state,
          nonce: flow.nonce,
        });
        writeSigned(reply, FLOW_COOKIE, flow, FLOW_SECONDS, CALLBACK);
        return reply.redirect(url.href, 303);
      });
      app.get(CALLBACK, async (request, reply) => {
        const flow = readSigned<Flow>(request, FLOW_COOKIE);
        reply.clearCookie(FLOW_COOKIE, { path: CALLBACK });
        if (!flow) return failure(reply, 'The sign-in took too long or was not started here.');
        const current = new URL(redirectUri);
        current.search = new URL(request.url, 'http://callback').search;
        let session: Session;
        try {
          const tokens = await client.authorizationCodeGrant(config, current, {
            pkceCodeVerifier: flow.verifier,
            expectedState: flow.state,
            expectedNonce: flow.nonce,
            idTokenExpected: true,
          });
          const claims = { ...tokens.claims() } as Record<string, unknown>;
          const merged = options.userInfo ? { ...(await client.fetchUserInfo(config, tokens.access_token, String(claims['sub']))), ...claims } : claims;
          session = sessionFromClaims(merged, mapping);
        } catch (error) {
          request.log.warn({ err: error }, 'OpenID Connect sign-in refused');
          const reason = error instanceof CaregapsError ? error.message.split('\n')[0]! : `the identity provider's answer could not be verified (${(error as Error).message})`;
          return failure(reply, `Sign-in refused: ${reason}.`);
        }
        writeSigned(reply, SESSION_COOKIE, { session }, sessionSeconds);
        return reply.redirect('/dashboard', 303);
      });
      app.post('/logout', async (_request, reply) => {
        reply.clearCookie(SESSION_COOKIE, { path: '/' });
        const endSession = config.serverMetadata().end_session_endpoint
          ? `<p><a href="${esc(client.buildEndSessionUrl(config, { client_id: options.clientId }).href)}">Sign out of the identity provider too</a></p>`
          : '';
        return reply.type('text/html; charset=utf-8').send(page({ title: 'Signed out', authenticator: meta }, `<p class="message">You are signed out of Caregaps.</p>${endSession}<p><a href="/login">Sign in again</a></p>`));
      });
    },
  };
}
