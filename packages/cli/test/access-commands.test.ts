import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { withCheckDigit } from '@caregaps/core';
import { run } from './run.js';

const dir = mkdtempSync(join(tmpdir(), 'caregaps-summary-'));
const orgs = join(dir, 'organisations.ndjson');
const records = join(dir, 'records.ndjson');
writeFileSync(
  orgs,
  [
    { code: 'ICB01', name: 'Test ICB', type: 'icb', parent: null },
    { code: 'BOR01', name: 'Borough 1', type: 'borough', parent: 'ICB01' },
    { code: 'PCN11', name: 'PCN 1.1', type: 'pcn', parent: 'BOR01' },
    { code: 'P00001', name: 'Practice 1', type: 'practice', parent: 'PCN11' },
    { code: 'P00002', name: '=Practice 2', type: 'practice', parent: 'PCN11' },
    { code: 'P00003', name: 'Practice 3', type: 'practice', parent: 'PCN11' },
  ]
    .map((o) => JSON.stringify({ kind: 'organisation', ...o }))
    .join('\n') + '\n',
);
// 30 diabetic patients at P00001 (HbA1c 50: DM020 met), 3 at P00002, 20 at P00003 and 10 opted out at P00001.
const lines: string[] = [];
let stem = 400_000_000;
const add = (practice: string, optOuts: string[]) => {
  let nhs: string | undefined;
  while (!(nhs = withCheckDigit(stem++)));
  lines.push(JSON.stringify({ kind: 'patient', nhsNumber: nhs, birthDate: '1960-01-01', sex: 'male', practice, registeredFrom: '2010-01-01', optOuts }));
  lines.push(JSON.stringify({ kind: 'event', id: `${nhs}:dm`, nhsNumber: nhs, code: '44054006', date: '2015-03-01', source: practice }));
  lines.push(JSON.stringify({ kind: 'event', id: `${nhs}:a1c`, nhsNumber: nhs, code: '999791000000106', date: '2025-01-10', value: 50, source: practice }));
  return nhs;
};
const numbers = [...Array.from({ length: 30 }, () => add('P00001', [])), ...Array.from({ length: 3 }, () => add('P00002', [])), ...Array.from({ length: 20 }, () => add('P00003', [])), ...Array.from({ length: 10 }, () => add('P00001', ['national-data-opt-out']))];
writeFileSync(records, lines.join('\n') + '\nnot json\n');

describe('caregaps summary', () => {
  it('prints the suppressed anonymised table by practice as CSV, leaving out opted-out patients', async () => {
    const { code, out, err } = await run('summary', '--input', records, '--orgs', orgs, '--as-of', '2025-03-31', '--by', 'practice', '--registry', 'diabetes');
    expect(code).toBe(0);
    const rows = out.trim().split('\r\n');
    expect(rows[0]).toBe('level,organisation,name,registry,indicator,measure,count,denominator,rate');
    // 30 at P00001 (opted-out 10 left out) publish as 30; P00002's 3 are suppressed (its name neutralised), and so
    // is the next-smallest sibling P00003, or PCN11's total minus P00001 would give P00002.
    expect(rows).toContain('practice,P00001,Practice 1,diabetes,,registered,30,,');
    expect(rows).toContain(`practice,P00002,'=Practice 2,diabetes,,registered,*,,`);
    expect(rows).toContain('practice,P00003,Practice 3,diabetes,,registered,*,,');
    expect(rows).toContain('practice,P00001,Practice 1,diabetes,DM020,met,30,30,100');
    for (const nhs of numbers) expect(out).not.toContain(nhs);
    expect(err).toMatch(/quarantined \(CG_RECORD_JSON: 1\)/);
    expect(err).toMatch(/10 patients left out/);
  });

  it('prints JSON by PCN with --format json', async () => {
    const { code, out } = await run('summary', '--input', records, '--orgs', orgs, '--as-of', '2025-03-31', '--by', 'pcn', '--format', 'json');
    expect(code).toBe(0);
    const table = JSON.parse(out);
    expect(table).toMatchObject({ level: 'pcn', purpose: 'secondary-use', excludedPatients: 10 });
    // 53 rounds to 55 at PCN level.
    expect(table.rows.find((r: { measure: string; organisation: string }) => r.measure === 'registered' && r.organisation === 'PCN11').count).toBe(55);
  });

  it('refuses a bad level or format with a usage error', async () => {
    expect((await run('summary', '--input', records, '--orgs', orgs, '--as-of', '2025-03-31', '--by', 'country')).code).toBe(2);
    expect((await run('summary', '--input', records, '--orgs', orgs, '--as-of', '2025-03-31', '--format', 'xml')).code).toBe(2);
  });
});

describe('caregaps audit verify', () => {
  it('passes an intact log and fails an edited, re-chained or truncated one; needs the key, kept apart from the log', async () => {
    const logDir = join(dir, 'audit-logs');
    const vault = join(dir, 'audit-vault');
    mkdirSync(logDir, { recursive: true });
    mkdirSync(vault, { recursive: true });
    const log = join(logDir, 'audit.ndjson');
    const key = join(vault, 'audit.key');
    const checkpoint = join(vault, 'audit.checkpoint');
    writeFileSync(key, 'cli-test-audit-key-0123456789abcdef0123\n');
    const audited = ['--audit', log, '--audit-key', key, '--audit-checkpoint', checkpoint];
    for (let i = 0; i < 3; i++) expect((await run('summary', '--input', records, '--orgs', orgs, '--as-of', '2025-03-31', ...audited, '--user', 'analyst-1')).code).toBe(0);
    const ok = await run('audit', 'verify', log, '--key', key, '--checkpoint', checkpoint);
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/ok: 3 entries/);
    const text = readFileSync(log, 'utf8');
    writeFileSync(log, text.replace('analyst-1', 'analyst-2'));
    const edited = await run('audit', 'verify', log, '--key', key, '--checkpoint', checkpoint);
    expect(edited.code).toBe(1);
    expect(edited.out).toMatch(/CG_AUDIT_TAMPERED/);
    writeFileSync(log, text.split('\n').slice(0, 2).join('\n') + '\n');
    const truncated = await run('audit', 'verify', log, '--key', key, '--checkpoint', checkpoint);
    expect(truncated.code).toBe(1);
    expect(truncated.out).toMatch(/records 3 entries, the log has 2/);
    // Without a checkpoint truncation cannot be seen, and the verifier says so rather than passing.
    expect((await run('audit', 'verify', log, '--key', key)).code).toBe(1);
    // A key in the log's own directory, or no key, is refused as a usage problem.
    writeFileSync(join(logDir, 'audit.key'), 'cli-test-audit-key-0123456789abcdef0123');
    expect((await run('audit', 'verify', log, '--key', join(logDir, 'audit.key'))).code).toBe(2);
    expect((await run('audit', 'verify', log)).code).toBe(2);
    expect((await run('summary', '--input', records, '--orgs', orgs, '--as-of', '2025-03-31', '--audit', log)).code).toBe(2);
    expect((await run('audit', 'verify', join(dir, 'none.ndjson'), '--key', key)).code).toBe(2);
  });
});
