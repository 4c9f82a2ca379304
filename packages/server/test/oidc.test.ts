/**
 * The OpenID Connect authenticator end to end against a real OpenID provider (`oidc-provider`, the certified
 * Node.js implementation) started on 127.0.0.1 in the test: authorization code with PKCE, the provider's own login
 * and consent forms, the code exchanged and the ID token verified by `openid-client`, claims mapped to a principal,
 * and then the server's pages read through the access layer as that principal. No network beyond 127.0.0.1.
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import Provider from 'oidc-provider';
import { createServer, loadOidcConfig, oidcAuthenticator, sessionFromClaims, checkClaimMapping, DEFAULT_CLAIMS } from '@caregaps/server';
import type { FastifyInstance } from 'fastify';
import { serveSample, type Served } from './fixture.js';

/** The identity provider's users: what it releases about each (the claim names of DEFAULT_CLAIMS). */
const ACCOUNTS: Record<string, Record<string, unknown>> = {
  'lee-7731': { name: 'Dr Lee (OIDC)', roles: ['clinical-practitioner'], organisation: 'Z10001' },
  'an-2210': { name: 'Analyst (OIDC)', roles: 'analyst', organisation: 'QMJ', purposes: ['secondary-use'] },
  'nobody-1': { name: 'No organisation', roles: ['clinical-practitioner'] },
};

async function freePort(): Promise<number> {
  const probe = createNetServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as { port: number }).port;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** A cookie jar over fetch: cookies by name with their path, sent where the path matches; redirects by hand. */
class Browser {
  private readonly cookies = new Map<string, { value: string; path: string }>();

  async fetch(url: string, init: { method?: string; body?: URLSearchParams } = {}): Promise<Response> {
    const path = new URL(url).pathname;
    const cookie = [...this.cookies.entries()].filter(([, c]) => path.startsWith(c.path)).map(([name, c]) => `${name}=${c.value}`).join('; ');
    const response = await fetch(url, { method: init.method ?? 'GET', redirect: 'manual', headers: cookie ? { cookie } : {}, ...(init.body ? { body: init.body } : {}) });
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';').map((s) => s.trim());
      const at = pair!.indexOf('=');
      const name = pair!.slice(0, at);
      const value = pair!.slice(at + 1);
      const cookiePath = attributes.find((a) => a.toLowerCase().startsWith('path='))?.slice(5) ?? '/';
      const expired = attributes.some((a) => /^max-age=0$/i.test(a) || (/^expires=/i.test(a) && Date.parse(a.slice(8)) < Date.now()));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, { value, path: cookiePath });
    }
    return response;
  }

  cookie(name: string): string | undefined {
    return this.cookies.get(name)?.value;
  }

  setCookie(name: string, value: string): void {
    this.cookies.set(name, { value, path: '/' });
  }

  /**
   * Follows redirects from `start`; on the provider's login and consent pages fills in the form as `login`. Returns
   * the first answer that is neither a redirect nor a provider form.
   */
  async signIn(start: string, issuer: string, login: string): Promise<{ response: Response; url: string; html: string }> {
    let url = start;
    let body: URLSearchParams | undefined;
    for (let step = 0; step < 20; step++) {
      const response = await this.fetch(url, body ? { method: 'POST', body } : {});
      body = undefined;
      if (response.status >= 300 && response.status < 400) {
        url = new URL(response.headers.get('location')!, url).href;
        continue;
      }
      const html = await response.text();
      const prompt = /name="prompt" value="(\w+)"/.exec(html)?.[1];
      if (url.startsWith(issuer) && response.status === 200 && prompt) {
        url = new URL(/action="([^"]+)"/.exec(html)![1]!, url).href;
        body = new URLSearchParams(prompt === 'login' ? { prompt, login, password: 'any' } : { prompt });
        continue;
      }
      return { response, url, html };
    }
    throw new Error('too many redirects');
  }
}

let served: Served;
let app: FastifyInstance;
let idp: Server;
let issuer: string;
let origin: string;

beforeAll(async () => {
  served = await serveSample();
  const appPort = await freePort();
  origin = `http://127.0.0.1:${appPort}`;
  idp = createHttpServer();
  await new Promise<void>((resolve) => idp.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(idp.address() as { port: number }).port}`;
  const provider = new Provider(issuer, {
    clients: [{ client_id: 'caregaps', client_secret: 'a-test-secret-of-sufficient-length', redirect_uris: [`${origin}/oidc/callback`], grant_types: ['authorization_code'], response_types: ['code'] }],
    claims: { openid: ['sub'], profile: ['name', 'roles', 'organisation', 'care_teams', 'purposes'] },
    conformIdTokenClaims: false, // the profile claims go into the ID token, where the authenticator reads them
    findAccount: async (_ctx, id) => (ACCOUNTS[id] ? { accountId: id, claims: async () => ({ sub: id, ...ACCOUNTS[id] }) } : undefined),
    cookies: { keys: ['test-cookie-key-for-the-provider'] },
  });
  idp.on('request', provider.callback());
  const dir = mkdtempSync(join(tmpdir(), 'caregaps-oidc-'));
  writeFileSync(join(dir, 'secret'), 'a-test-secret-of-sufficient-length\n');
  const config = loadOidcConfig(undefined, { issuer, clientId: 'caregaps', clientSecretFile: join(dir, 'secret'), publicUrl: origin });
  app = await createServer({ ...served.host, authenticator: await oidcAuthenticator(config) });
  await app.listen({ host: '127.0.0.1', port: appPort });
});

afterAll(async () => {
  vi.restoreAllMocks();
  await app?.close();
  await served?.app.close();
  served?.host.engine.close();
  idp?.closeAllConnections();
  await new Promise((resolve) => idp?.close(resolve));
});

describe('OpenID Connect sign-in against a local provider', () => {
  it('signs a GP in through the provider and serves their own practice as that principal, audited under their id', async () => {
    const browser = new Browser();
    const first = await browser.fetch(`${origin}/dashboard`);
    expect(first.status).toBe(303);
    expect(first.headers.get('location')).toBe('/login');
    const { response, url, html } = await browser.signIn(`${origin}/dashboard`, issuer, 'lee-7731');
    expect(url).toBe(`${origin}/dashboard`);
    expect(response.status).toBe(200);
    expect(html).toContain('Signed in as <strong>Dr Lee (OIDC)</strong> (Z10001)');
    expect(html).not.toContain('not for production');
    const gaps = await (await browser.fetch(`${origin}/gaps?registry=diabetes&indicator=DM020`)).text();
    const rows = [...gaps.matchAll(/<tr data-nhs-number="(\d{10})">/g)].map((m) => m[1]!);
    expect(rows.length).toBeGreaterThan(0);
    for (const nhs of rows) expect(served.host.engine.record(nhs)?.patient?.practice).toBe('Z10001');
    const event = served.audit.entries().at(-1)!;
    expect(event).toMatchObject({ user: 'lee-7731', organisation: 'Z10001', roles: ['clinical-practitioner'], activity: 'view-patient-list', decision: 'allow' });
  });

  it('keeps the session in a signed, HTTP-only, same-site cookie; a forged one is ignored', async () => {
    const browser = new Browser();
    await browser.signIn(`${origin}/login`, issuer, 'lee-7731');
    const raw = await fetch(`${origin}/login`, { redirect: 'manual' });
    expect(raw.status).toBe(303);
    const value = browser.cookie('caregaps-session')!;
    expect(value).toBeTruthy();
    const forged = new Browser();
    const payload = Buffer.from(JSON.stringify({ session: { id: 'x', label: 'Forger', principal: { user: 'x', roles: ['clinical-practitioner'], organisation: 'Z10001' }, purposes: ['direct-care'], submitsRecords: true }, exp: Date.now() + 1e9 })).toString('base64url');
    forged.setCookie('caregaps-session', `${payload}.${value.split('.').at(-1)}`);
    expect((await forged.fetch(`${origin}/dashboard`)).status).toBe(303);
  });

  it('sets the session cookie HttpOnly and SameSite=Lax', async () => {
    const browser = new Browser();
    let setCookie = '';
    const original = browser.fetch.bind(browser);
    browser.fetch = async (url, init) => {
      const response = await original(url, init);
      for (const line of response.headers.getSetCookie()) if (line.startsWith('caregaps-session=')) setCookie = line;
      return response;
    };
    await browser.signIn(`${origin}/login`, issuer, 'lee-7731');
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Lax/i);
    expect(setCookie).toMatch(/Max-Age=28800/);
  });

  it('maps an analyst whose token names secondary use: anonymised dashboard, no gap list', async () => {
    const browser = new Browser();
    const { html } = await browser.signIn(`${origin}/login`, issuer, 'an-2210');
    expect(html).toContain('Analyst (OIDC)');
    expect(html).toContain('purpose <strong>secondary-use</strong>');
    expect((await browser.fetch(`${origin}/gaps.csv?registry=diabetes&indicator=DM020`)).status).toBe(403);
  });

  it('refuses a user whose token has no organisation, saying which claim is missing', async () => {
    const browser = new Browser();
    const { response, html } = await browser.signIn(`${origin}/login`, issuer, 'nobody-1');
    expect(response.status).toBe(401);
    expect(html).toContain('no organisation (ODS code) in claim &#34;organisation&#34;');
    expect(browser.cookie('caregaps-session')).toBeUndefined();
  });

  it('refuses a callback whose state does not match the sign-in it started', async () => {
    const browser = new Browser();
    await browser.fetch(`${origin}/login`);
    const response = await browser.fetch(`${origin}/oidc/callback?code=stolen&state=not-the-one&iss=${encodeURIComponent(issuer)}`);
    expect(response.status).toBe(401);
    expect(await response.text()).toContain('Sign-in refused');
    expect((await new Browser().fetch(`${origin}/oidc/callback?code=x&state=y`)).status).toBe(401);
  });

  it('ends the session when it expires and on sign-out', async () => {
    const browser = new Browser();
    await browser.signIn(`${origin}/login`, issuer, 'lee-7731');
    expect((await browser.fetch(`${origin}/dashboard`)).status).toBe(200);
    const now = Date.now();
    const clock = vi.spyOn(Date, 'now').mockReturnValue(now + 481 * 60_000);
    expect((await browser.fetch(`${origin}/dashboard`)).status).toBe(303);
    clock.mockRestore();
    expect((await browser.fetch(`${origin}/dashboard`)).status).toBe(200);
    const out = await browser.fetch(`${origin}/logout`, { method: 'POST' });
    expect(out.status).toBe(200);
    expect((await browser.fetch(`${origin}/dashboard`)).status).toBe(303);
  });

  it('fails at start when the issuer cannot be read, and refuses plain http off the loopback', async () => {
    await expect(oidcAuthenticator({ issuer: 'http://127.0.0.1:9/', clientId: 'c', publicUrl: origin })).rejects.toMatchObject({ code: 'CG_SERVER_OIDC' });
    await expect(oidcAuthenticator({ issuer: 'http://idp.example.org/', clientId: 'c', publicUrl: origin })).rejects.toThrow(/must use https/);
  });
});

describe('claim mapping', () => {
  it('maps nested claims and provider role values through roleMap, dropping unmapped roles', () => {
    const mapping = checkClaimMapping({ organisation: 'org.ods', roles: 'nrbac', roleMap: { 'S8000:G8000:R8000': 'clinical-practitioner' }, careTeams: 'teams' }, 'c.json');
    const session = sessionFromClaims({ sub: 'u1', org: { ods: 'Z10001' }, nrbac: ['S8000:G8000:R8000', 'S0000:G0000:R9999'], teams: 'ct-1 ct-2' }, mapping);
    expect(session.principal).toEqual({ user: 'u1', roles: ['clinical-practitioner'], organisation: 'Z10001', careTeams: ['ct-1', 'ct-2'] });
    expect(session.purposes).toEqual(['direct-care']);
    expect(session.submitsRecords).toBe(false);
  });

  it('reads own properties only and refuses wrong types and unknown purposes', () => {
    expect(() => sessionFromClaims(JSON.parse('{"sub":"u","__proto__":{"organisation":"Z1"},"roles":[]}'))).toThrow(/no organisation/);
    expect(() => sessionFromClaims({ sub: 'u', organisation: 'Z1', roles: [1] })).toThrow(/no roles/);
    expect(() => sessionFromClaims({ sub: 'u', organisation: 'Z1', roles: [], purposes: ['marketing'] })).toThrow(/no purpose/);
    expect(() => sessionFromClaims({ organisation: 'Z1', roles: [] })).toThrow(expect.objectContaining({ code: 'CG_SERVER_OIDC' }));
    expect(sessionFromClaims({ sub: 'u', organisation: 'Z1', roles: 'a b' }, DEFAULT_CLAIMS).principal.roles).toEqual(['a', 'b']);
  });

  it('refuses a malformed config, naming the field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'caregaps-oidc-config-'));
    const file = join(dir, 'oidc.json');
    writeFileSync(file, JSON.stringify({ issuer: 'https://idp.example.org', clientId: 'c', publicUrl: 'https://caregaps.example.org', admin: true }));
    expect(() => loadOidcConfig(file)).toThrow(/unknown field "admin"/);
    writeFileSync(file, JSON.stringify({ issuer: 'https://idp.example.org', clientId: 'c', publicUrl: 'https://caregaps.example.org', claims: { roles: 'a[0]' } }));
    expect(() => loadOidcConfig(file)).toThrow(/claims\.roles must be a claim name/);
    writeFileSync(file, JSON.stringify({ issuer: 'https://idp.example.org', publicUrl: 'https://caregaps.example.org' }));
    expect(() => loadOidcConfig(file)).toThrow(/"clientId" must be a non-empty string/);
    writeFileSync(file, JSON.stringify({ issuer: 'https://idp.example.org', clientId: 'c', publicUrl: 'https://caregaps.example.org', scopes: ['profile'] }));
    expect(() => loadOidcConfig(file)).toThrow(/including "openid"/);
  });
});
