import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Io } from '@caregaps/cli';
import { serve } from '../src/commands/serve.js';
import { CODESETS, REGISTRIES, ROOT, run } from './run.js';

const io = () => {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => void out.push(t), err: (t: string) => void err.push(t), interactive: false } satisfies Io, out, err };
};

describe('caregaps serve', () => {
  it('serves the given records on 127.0.0.1 until stopped, with an audit log of every access', async () => {
    const audit = join(mkdtempSync(join(tmpdir(), 'caregaps-serve-test-')), 'audit.ndjson');
    const keys = mkdtempSync(join(tmpdir(), 'caregaps-serve-test-key-'));
    const auditKey = join(keys, 'audit.key');
    writeFileSync(auditKey, 'k'.repeat(40));
    const auditCheckpoint = join(keys, 'audit.checkpoint');
    const sample = join(ROOT, 'examples', 'sample-population');
    const { io: out, out: printed, err } = io();
    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    let served!: Promise<number>;
    const checks = new Promise<void>((resolve, reject) => {
      const onListening = async (url: string) => {
        try {
          expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
          const signIn = await fetch(`${url}/login`, { method: 'POST', body: 'principal=gp-barnet', headers: { 'content-type': 'application/x-www-form-urlencoded' }, redirect: 'manual' });
          expect(signIn.status).toBe(303);
          const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;
          const page = await fetch(`${url}/gaps?registry=diabetes&indicator=DM020`, { headers: { cookie } });
          expect(page.status).toBe(200);
          expect(await page.text()).toContain('<table id="gap-table">');
          resolve();
        } catch (error) {
          reject(error);
        } finally {
          stop();
        }
      };
      served = serve(
        out,
        { input: [join(sample, 'records.ndjson')], orgs: join(sample, 'organisations.ndjson'), asOf: '2025-03-31', port: '0', audit, auditKey, auditCheckpoint, registries: REGISTRIES, codesets: CODESETS, registry: ['diabetes'] },
        { stop: stopped, onListening: (url) => void onListening(url) },
      );
    });
    await checks;
    expect(await served).toBe(0);
    expect(printed.join('')).toMatch(/^Caregaps is serving http:\/\/127\.0\.0\.1:\d+\n$/);
    expect(err.join('')).toContain('not for production');
    expect(existsSync(audit)).toBe(true);
    expect(readFileSync(audit, 'utf8')).toContain('"activity":"view-patient-list"');
    const verified = await run('audit', 'verify', audit, '--key', auditKey, '--checkpoint', auditCheckpoint);
    expect(verified.code, verified.out + verified.err).toBe(0);
  });

  it('says what is missing without --demo, and refuses a bad port', async () => {
    const missing = await run('serve', '--as-of', '2025-03-31');
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('--input <records>');
    const unaudited = await run('serve', '--input', 'x.ndjson', '--as-of', '2025-03-31');
    expect(unaudited.code).toBe(2);
    expect(unaudited.err).toContain('--audit <log> --audit-key <file>');
    const port = await run('serve', '--demo', '--port', 'eighty');
    expect(port.code).toBe(2);
    expect(port.err).toContain('--port must be a whole number');
  });

  it('checks the OpenID Connect options before loading anything, and stops when the issuer cannot be read', async () => {
    const both = await run('serve', '--demo', '--oidc-issuer', 'https://idp.example.org', '--oidc-client-id', 'c', '--principals', 'p.json');
    expect(both.code).toBe(2);
    expect(both.err).toContain('--principals is for the development sign-in');
    const noId = await run('serve', '--demo', '--oidc-issuer', 'https://idp.example.org');
    expect(noId.code).toBe(2);
    expect(noId.err).toContain('"clientId" must be a non-empty string');
    const plain = await run('serve', '--demo', '--oidc-issuer', 'http://idp.example.org', '--oidc-client-id', 'c');
    expect(plain.code).toBe(2);
    expect(plain.err).toContain('must use https');
    const unreachable = await run('serve', '--demo', '--port', '8099', '--oidc-issuer', 'http://127.0.0.1:9/', '--oidc-client-id', 'c');
    expect(unreachable.code).toBe(2);
    expect(unreachable.err).toContain('CG_SERVER_OIDC');
    expect(unreachable.err).toContain('Cannot read the OpenID Connect configuration');
  });
});
