/**
 * F1 audit completeness per access path, F3 tamper evidence (every modification, deletion, reordering and
 * truncation of an NDJSON log is detected), F4 audit minimisation, and access reports.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import {
  AUDIT_FIELDS,
  MemoryAuditLog,
  NdjsonAuditLog,
  createAccess,
  headFileOf,
  verifyAuditLog,
  type AccessView,
  type ChainedAuditEvent,
} from '../src/index.js';
import { HOSPITAL, TODAY, nhsNumbers, organisations, sourceOf } from './fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'caregaps-audit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const [A, B, C] = nhsNumbers(3);
const source = sourceOf(
  [
    { nhsNumber: A!, practice: 'P00001', diabetic: true, hba1c: 80, hospitalCholesterol: true },
    { nhsNumber: B!, practice: 'P00001', diabetic: true, hba1c: 50 },
    { nhsNumber: C!, practice: 'P00002', diabetic: true, hba1c: 85 },
  ],
  organisations(),
);
const GP1 = { user: 'dr-one', roles: ['clinical-practitioner'], organisation: 'P00001' };
const GP2 = { user: 'dr-two', roles: ['nurse'], organisation: 'P00002' };
const PRIVACY = { user: 'po', roles: ['privacy-officer'], organisation: 'P00001' };

/** Every access path, each with whether it is expected to succeed for the view it is given. */
const PATHS: [string, (v: AccessView) => Promise<unknown>][] = [
  ['record', (v) => v.patient(A!)],
  ['record of a patient elsewhere', (v) => v.patient(C!)],
  ['record of no one', (v) => v.patient(nhsNumbers(1, 900_000_000)[0]!)],
  ['list', (v) => v.patients({ registry: 'diabetes', indicator: 'DM020' })],
  ['list of an unknown registry', (v) => v.patients({ registry: 'no-such' })],
  ['export', (v) => v.exportGapList({ registry: 'diabetes' })],
  ['summary', (v) => v.summary({ level: 'pcn' })],
  ['audit report', (v) => v.auditReport({ patient: A! })],
];

const CLINICAL_FIELDS = ['code', 'value', 'values', 'unit', 'term', 'date', 'indicators', 'status', 'explanation', 'categories'];

function mutations(lines: string[]): [string, string[], boolean][] {
  const out: [string, string[], boolean][] = [];
  const edit = (i: number, f: (e: Record<string, unknown>) => void) => {
    const copy = [...lines];
    const e = JSON.parse(copy[i]!) as Record<string, unknown>;
    f(e);
    copy[i] = JSON.stringify(e);
    return copy;
  };
  for (let i = 0; i < lines.length; i++) {
    out.push([`modify decision of ${i + 1}`, edit(i, (e) => (e.decision = e.decision === 'allow' ? 'deny' : 'allow')), false]);
    out.push([`modify user of ${i + 1}`, edit(i, (e) => (e.user = 'someone-else')), false]);
    out.push([`modify patient of ${i + 1}`, edit(i, (e) => (e.patient = C)), false]);
    out.push([`whitespace in ${i + 1}`, lines.map((l, j) => (j === i ? l + ' ' : l)), false]);
    out.push([`delete ${i + 1}`, lines.filter((_, j) => j !== i), false]);
    out.push([`duplicate ${i + 1}`, [...lines.slice(0, i + 1), lines[i]!, ...lines.slice(i + 1)], false]);
    if (i + 1 < lines.length) {
      const swapped = [...lines];
      [swapped[i], swapped[i + 1]] = [swapped[i + 1]!, swapped[i]!];
      out.push([`swap ${i + 1} and ${i + 2}`, swapped, false]);
    }
    out.push([`truncate after ${i}`, lines.slice(0, i), false]);
  }
  out.push(['torn last line', [...lines.slice(0, -1), lines[lines.length - 1]!.slice(0, 20)], true]);
  return out;
}

describe('audit trail', () => {
  test('F1: exactly one audit event per attempt on every access path, allowed or denied, with every required field', async () => {
    const audit = new MemoryAuditLog();
    const layer = createAccess({ source, audit, now: () => TODAY });
    let attempts = 0;
    let malformed = 0;
    for (const principal of [GP1, GP2, PRIVACY, { user: 'x', roles: ['nobody'], organisation: HOSPITAL }]) {
      for (const purpose of ['direct-care', 'secondary-use'] as const) {
        for (const [, path] of PATHS) {
          const before = audit.lines.length;
          await path(layer.as(principal, purpose)).catch(() => undefined);
          attempts++;
          expect(audit.lines.length - before).toBe(1);
          const event = audit.entries()[audit.lines.length - 1]!;
          for (const field of ['id', 'time', 'user', 'roles', 'organisation', 'purpose', 'activity', 'resource', 'decision', 'policy', 'rule'] as const) {
            if (event[field] === undefined || event[field] === '') malformed++;
          }
          expect(event.user).toBe(principal.user);
          expect(event.purpose).toBe(purpose);
        }
      }
    }
    const ids = new Set(audit.entries().map((e) => e.id));
    console.log(`F1 audit completeness: attempts ${attempts}; events ${audit.lines.length}; missing ${attempts - audit.lines.length}; malformed ${malformed}; duplicate ids ${audit.lines.length - ids.size}`);
    expect(audit.lines.length).toBe(attempts);
    expect(malformed).toBe(0);
    expect(ids.size).toBe(attempts);

    // F4: only allow-listed fields, never clinical content (codes, values, terms, statuses).
    let disallowed = 0;
    for (const event of audit.entries()) {
      for (const key of Object.keys(event)) if (!AUDIT_FIELDS.includes(key) || CLINICAL_FIELDS.includes(key)) disallowed++;
      const text = JSON.stringify(event);
      if (text.includes('44054006') || text.includes('999791000000106') || text.includes('mmol')) disallowed++;
    }
    console.log(`F4 audit minimisation: events scanned ${audit.lines.length}; disallowed fields ${disallowed}`);
    expect(disallowed).toBe(0);
  });

  test('H2/F1: list and export events carry the purpose, row count, patients and list hash', async () => {
    const audit = new MemoryAuditLog();
    const layer = createAccess({ source, audit, now: () => TODAY });
    const exported = await layer.as(GP1, 'direct-care').exportGapList({ registry: 'diabetes', indicator: 'DM020' });
    const event = audit.entries()[0]!;
    expect(event).toMatchObject({ activity: 'export-patient-list', purpose: 'direct-care', decision: 'allow', rowCount: exported.rowCount, patients: [A] });
    expect(event.listHash).toMatch(/^[0-9a-f]{64}$/);
  });

  test('F3: every modification, deletion, reordering and truncation of the NDJSON log is detected', async () => {
    const file = join(dir, 'audit.ndjson');
    const layer = createAccess({ source, audit: new NdjsonAuditLog(file), now: () => TODAY });
    for (const principal of [GP1, GP2]) for (const [, path] of PATHS) await path(layer.as(principal, 'direct-care')).catch(() => undefined);
    expect(verifyAuditLog(file)).toMatchObject({ ok: true, entries: PATHS.length * 2 });
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    const head = readFileSync(headFileOf(file), 'utf8');
    let tried = 0;
    let detected = 0;
    for (const [, mutated, torn] of mutations(lines)) {
      if (mutated.join('\n') === lines.join('\n')) continue; // e.g. setting a field to the value it had
      const copy = join(dir, `m${tried}.ndjson`);
      writeFileSync(copy, mutated.join('\n') + (torn || mutated.length === 0 ? '' : '\n'));
      writeFileSync(headFileOf(copy), head);
      tried++;
      if (!verifyAuditLog(copy).ok) detected++;
      rmSync(copy);
      rmSync(headFileOf(copy));
    }
    // Without its head file, truncation cannot be seen; the verifier says so rather than passing.
    const headless = join(dir, 'headless.ndjson');
    writeFileSync(headless, lines.slice(0, 3).join('\n') + '\n');
    const noHead = verifyAuditLog(headless);
    console.log(`F3 tamper evidence: mutations tried ${tried}; detected ${detected} (${((100 * detected) / tried).toFixed(1)} %)`);
    expect(detected).toBe(tried);
    expect(noHead.ok).toBe(false);
    expect(noHead.problems.some((p) => p.problem.includes('no head file'))).toBe(true);
  });

  test('a log that does not verify is not reopened for appending; a good one continues its chain', () => {
    const file = join(dir, 'reopen.ndjson');
    const first = new NdjsonAuditLog(file);
    const event = { id: 'd1', time: TODAY.toISOString(), user: 'u', roles: ['nurse'], organisation: 'P00001', purpose: 'direct-care', activity: 'view-patient-record', resource: 'patient-record', decision: 'deny' as const, policy: 'rbac@1.0.0', rule: 'r' };
    first.append(event);
    const second = new NdjsonAuditLog(file);
    second.append({ ...event, id: 'd2' });
    expect(verifyAuditLog(file)).toMatchObject({ ok: true, entries: 2 });
    writeFileSync(file, readFileSync(file, 'utf8').replace('"d1"', '"dX"'));
    expect(() => new NdjsonAuditLog(file)).toThrow(expect.objectContaining({ code: 'CG_AUDIT_TAMPERED' }));
  });

  test("access reports: a patient's report lists every access to them; a data controller's lists its staff and patients", async () => {
    const audit = new MemoryAuditLog();
    const layer = createAccess({ source, audit, now: () => TODAY });
    await layer.as(GP1, 'direct-care').patient(A!);
    await layer.as(GP2, 'direct-care').patient(A!).catch(() => undefined);
    await layer.as(GP1, 'direct-care').patients({ registry: 'diabetes', indicator: 'DM020' });
    await layer.as(GP2, 'direct-care').patient(C!);
    const report: ChainedAuditEvent[] = await layer.as(PRIVACY, 'direct-care').auditReport({ patient: A! });
    expect(report.map((e) => [e.user, e.activity, e.decision])).toEqual([
      ['dr-one', 'view-patient-record', 'allow'],
      ['dr-two', 'view-patient-record', 'deny'],
      ['dr-one', 'view-patient-list', 'allow'],
    ]);
    const controller = await layer.as(PRIVACY, 'direct-care').auditReport({ organisation: 'P00001' });
    expect(controller.map((e) => e.user)).toEqual(['dr-one', 'dr-two', 'dr-one', 'po']);
    // Another practice's patient report is refused to this practice's privacy officer, and audited.
    await expect(layer.as(PRIVACY, 'direct-care').auditReport({ patient: C! })).rejects.toMatchObject({ code: 'CG_ACCESS_DENIED' });
    await expect(layer.as(PRIVACY, 'direct-care').auditReport({ organisation: 'P00002' })).rejects.toMatchObject({ code: 'CG_ACCESS_DENIED' });
    // A clinician may not produce reports.
    await expect(layer.as(GP1, 'direct-care').auditReport({ patient: A! })).rejects.toMatchObject({ code: 'CG_ACCESS_DENIED' });
    expect(audit.lines.length).toBe(9);
  });
});
