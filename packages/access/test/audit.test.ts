/**
 * F1 audit completeness per access path, F3 tamper evidence (every modification, deletion, reordering and
 * truncation of an NDJSON log is detected), F4 audit minimisation, and access reports.
 */
import { createHash, createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import {
  AUDIT_FIELDS,
  AgreementRegistry,
  FileCheckpoint,
  MemoryAuditLog,
  NdjsonAuditLog,
  createAccess,
  readAuditKey,
  verifyAuditLog,
  type AccessView,
  type AuditCheckpoint,
} from '../src/index.js';
import { HOSPITAL, TODAY, nhsNumbers, organisations, sourceOf } from './fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'caregaps-audit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
/** The log's directory, and a separate one for what the log's writer must not be able to rewrite. */
const logs = join(dir, 'logs');
const vault = join(dir, 'vault');
mkdirSync(logs);
mkdirSync(vault);
const KEY = 'k'.repeat(16) + '-audit-key-for-tests-0123456789';

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

/** Every edit, deletion, duplication, swap and truncation of a log, and a torn last line. */
function mutations(lines: string[]): [string, string[]][] {
  const out: [string, string[]][] = [];
  const edit = (i: number, f: (e: Record<string, unknown>) => void) => {
    const copy = [...lines];
    const e = JSON.parse(copy[i]!) as Record<string, unknown>;
    f(e);
    copy[i] = JSON.stringify(e);
    return copy;
  };
  for (let i = 0; i < lines.length; i++) {
    out.push([`modify decision of ${i + 1}`, edit(i, (e) => (e.decision = e.decision === 'allow' ? 'deny' : 'allow'))]);
    out.push([`modify user of ${i + 1}`, edit(i, (e) => (e.user = 'someone-else'))]);
    out.push([`modify patient of ${i + 1}`, edit(i, (e) => (e.patient = C))]);
    out.push([`whitespace in ${i + 1}`, lines.map((l, j) => (j === i ? l.replace(',', ', ') : l))]);
    out.push([`delete ${i + 1}`, lines.filter((_, j) => j !== i)]);
    out.push([`duplicate ${i + 1}`, [...lines.slice(0, i + 1), lines[i]!, ...lines.slice(i + 1)]]);
    if (i + 1 < lines.length) {
      const swapped = [...lines];
      [swapped[i], swapped[i + 1]] = [swapped[i + 1]!, swapped[i]!];
      out.push([`swap ${i + 1} and ${i + 2}`, swapped]);
    }
    out.push([`truncate after ${i}`, lines.slice(0, i)]);
  }
  return out;
}

/**
 * What an attacker who can write the log does after a mutation: renumbers every entry, links each to the one
 * before and recomputes every MAC with the function they have (a plain SHA-256 without the key; the real HMAC
 * in the control with the key), and points a checkpoint at the new end.
 */
function rechain(lines: string[], macOf: (body: string) => string): { lines: string[]; checkpoint: AuditCheckpoint } {
  let prev = '0'.repeat(64);
  const out = lines.map((line, i) => {
    const { mac: _old, ...entry } = JSON.parse(line) as Record<string, unknown>;
    const body = JSON.stringify({ ...entry, seq: i + 1, prev });
    prev = macOf(body);
    return `${body.slice(0, -1)},"mac":"${prev}"}`;
  });
  return { lines: out, checkpoint: { count: out.length, mac: prev, time: TODAY.toISOString() } };
}

const plainSha256 = (body: string) => createHash('sha256').update(body).digest('hex');

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
          // The RBAC decision names the role data it was made with (the NRD-style data version).
          if (event.policy.includes('rbac@') && !/rbac@\d+\.\d+\.\d+\[caregaps-rbac-[^\]]+\]/.test(event.policy)) malformed++;
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

  test('H2/F1: every export is audited with its purpose, row count, patients and list hash', async () => {
    const audit = new MemoryAuditLog();
    const layer = createAccess({ source, audit, now: () => TODAY });
    const exported = await layer.as(GP1, 'direct-care').exportGapList({ registry: 'diabetes', indicator: 'DM020' });
    const event = audit.entries()[0]!;
    expect(event).toMatchObject({ activity: 'export-patient-list', purpose: 'direct-care', decision: 'allow', rowCount: exported.rowCount, patients: [A] });
    expect(event.listHash).toMatch(/^[0-9a-f]{64}$/);
    let exports = 0;
    let unaudited = 0;
    for (const principal of [GP1, GP2, PRIVACY, { user: 'x', roles: ['nobody'], organisation: HOSPITAL }]) {
      for (const purpose of ['direct-care', 'secondary-use'] as const) {
        for (const query of [{ registry: 'diabetes' }, { registry: 'diabetes', indicator: 'DM020' }, { registry: 'diabetes', status: 'met' as const }]) {
          exports++;
          const before = audit.lines.length;
          const result = await layer.as(principal, purpose).exportGapList(query).catch(() => undefined);
          const last = audit.entries().at(-1)!;
          const complete = last.activity === 'export-patient-list' && last.purpose === purpose && (result === undefined || (last.rowCount === result.rowCount && /^[0-9a-f]{64}$/.test(last.listHash ?? '')));
          if (audit.lines.length !== before + 1 || !complete) unaudited++;
        }
      }
    }
    console.log(`H2 export governance: exports ${exports}; unaudited or without purpose, row count and list hash ${unaudited}`);
    expect(unaudited).toBe(0);
  });

  test('F3: every edit, deletion, reordering and truncation is detected, even re-chained by an attacker without the key', async () => {
    const file = join(logs, 'audit.ndjson');
    const checkpoint = new FileCheckpoint(join(vault, 'audit.checkpoint'), file);
    const audit = await NdjsonAuditLog.open(file, { key: KEY, checkpoint });
    const layer = createAccess({ source, audit, now: () => TODAY });
    for (const principal of [GP1, GP2]) for (const [, path] of PATHS) await path(layer.as(principal, 'direct-care')).catch(() => undefined);
    audit.close();
    const anchor = checkpoint.read()!;
    expect(verifyAuditLog(file, KEY, anchor)).toMatchObject({ ok: true, entries: PATHS.length * 2 });
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    const hmac = (body: string) => createHmac('sha256', KEY).update(body).digest('hex');
    let tried = 0;
    let detected = 0;
    let detectedWithCheckpointWritable = 0;
    let controlVerified = 0;
    const copy = join(logs, 'mutated.ndjson');
    const verify = (mutated: string[], anchorUsed: AuditCheckpoint) => {
      writeFileSync(copy, mutated.length ? mutated.join('\n') + '\n' : '');
      return verifyAuditLog(copy, KEY, anchorUsed).ok;
    };
    for (const [name, mutated] of mutations(lines)) {
      tried++;
      // The attacker re-chains with plain hashes; the checkpoint store is out of their reach.
      const attack = name.startsWith('truncate') ? { lines: mutated, checkpoint: anchor } : rechain(mutated, plainSha256);
      if (!verify(attack.lines, anchor)) detected++;
      // If they could also rewrite the checkpoint, only the key still protects edits: truncation then passes.
      if (!verify(attack.lines, name.startsWith('truncate') ? rechain(mutated, hmac).checkpoint : attack.checkpoint)) detectedWithCheckpointWritable++;
      // Control: with the key and the checkpoint, the same re-chained logs verify, so the attack above is a real one.
      const insider = rechain(mutated, hmac);
      if (verify(insider.lines, insider.checkpoint)) controlVerified++;
    }
    // A torn last line and a log with no checkpoint are reported, not passed.
    const torn = verify([...lines.slice(0, -1), lines[lines.length - 1]!.slice(0, 40)], anchor);
    writeFileSync(copy, lines.join('\n') + '\n');
    const noCheckpoint = verifyAuditLog(copy, KEY, undefined);
    console.log(
      `F3 tamper evidence (keyed chain, attacker recomputes every plain hash): mutations tried ${tried}; detected ${detected} (${((100 * detected) / tried).toFixed(1)} %); ` +
        `with the checkpoint store writable too ${detectedWithCheckpointWritable} (truncations then pass: why checkpoints live elsewhere); ` +
        `control (key holder re-chains) verified ${controlVerified} of ${tried}`,
    );
    expect(detected).toBe(tried);
    expect(controlVerified).toBe(tried);
    expect(torn).toBe(false);
    expect(noCheckpoint.ok).toBe(false);
    expect(noCheckpoint.problems.some((p) => p.problem.includes('no checkpoint'))).toBe(true);
  });

  test('a key or checkpoint in the log directory, or a short key, is refused', () => {
    const file = join(logs, 'placement.ndjson');
    writeFileSync(join(logs, 'audit.key'), KEY);
    writeFileSync(join(vault, 'audit.key'), KEY + '\n');
    expect(() => readAuditKey(join(logs, 'audit.key'), file)).toThrow(expect.objectContaining({ code: 'CG_AUDIT_KEY' }));
    expect(readAuditKey(join(vault, 'audit.key'), file).toString()).toBe(KEY);
    expect(() => new FileCheckpoint(join(logs, 'cp.json'), file)).toThrow(expect.objectContaining({ code: 'CG_AUDIT_CHECKPOINT' }));
    expect(() => new NdjsonAuditLog(file, { key: 'short' })).toThrow(expect.objectContaining({ code: 'CG_AUDIT_KEY' }));
  });

  test('a log that does not verify, or is behind its checkpoint, is not reopened for appending; a good one continues its chain', async () => {
    const file = join(logs, 'reopen.ndjson');
    const checkpoint = new FileCheckpoint(join(vault, 'reopen.checkpoint'), file);
    const event = { id: 'd1', time: TODAY.toISOString(), user: 'u', roles: ['nurse'], organisation: 'P00001', purpose: 'direct-care', activity: 'view-patient-record', resource: 'patient-record', decision: 'deny' as const, policy: 'rbac@1.0.0', rule: 'r' };
    const first = await NdjsonAuditLog.open(file, { key: KEY, checkpoint });
    await first.append(event);
    first.close();
    const second = await NdjsonAuditLog.open(file, { key: KEY, checkpoint });
    await second.append({ ...event, id: 'd2' });
    second.close();
    expect(verifyAuditLog(file, KEY, checkpoint.read())).toMatchObject({ ok: true, entries: 2 });
    const good = readFileSync(file, 'utf8');
    writeFileSync(file, good.replace('"d1"', '"dX"'));
    await expect(NdjsonAuditLog.open(file, { key: KEY, checkpoint })).rejects.toMatchObject({ code: 'CG_AUDIT_TAMPERED' });
    writeFileSync(file, good.split('\n')[0] + '\n');
    await expect(NdjsonAuditLog.open(file, { key: KEY, checkpoint })).rejects.toMatchObject({ code: 'CG_AUDIT_TAMPERED' });
    writeFileSync(file, good);
    await expect(NdjsonAuditLog.open(file, { key: 'another-key-of-at-least-32-bytes!!', checkpoint })).rejects.toMatchObject({ code: 'CG_AUDIT_TAMPERED' });
  });

  test("access reports: a patient's report lists every access to them; a data controller's lists its staff and patients", async () => {
    const audit = new MemoryAuditLog();
    const layer = createAccess({ source, audit, now: () => TODAY });
    await layer.as(GP1, 'direct-care').patient(A!);
    await layer.as(GP2, 'direct-care').patient(A!).catch(() => undefined);
    await layer.as(GP1, 'direct-care').patients({ registry: 'diabetes', indicator: 'DM020' });
    await layer.as(GP2, 'direct-care').patient(C!);
    const report = await layer.as(PRIVACY, 'direct-care').auditReport({ patient: A! });
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

  test("F4/E2 audit reports are minimised: no other organisation's patient, no list hash, no clinical content", async () => {
    const audit = new MemoryAuditLog();
    const agreements = new AgreementRegistry();
    // The hospital's outreach team shares care of A (P00001) and C (P00002); both practices share statuses with it.
    for (const practice of ['P00001', 'P00002']) {
      const a = agreements.create({ title: 'Outreach', parties: [practice, HOSPITAL], dataCategories: ['registry-statuses', 'results'], purposes: ['direct-care'], start: '2024-01-01', end: null });
      agreements.sign(a.id, practice, 'x');
      agreements.sign(a.id, HOSPITAL, 'y');
    }
    const layer = createAccess({ source, audit, agreements, careTeams: [{ id: 'outreach', organisation: HOSPITAL, patients: [A!, C!] }], now: () => TODAY });
    const nurse = { user: 'outreach-nurse', roles: ['nurse'], organisation: HOSPITAL, careTeams: ['outreach'] };
    const list = await layer.as(nurse, 'direct-care').patients({ registry: 'diabetes', indicator: 'DM020' });
    expect(list.map((r) => r.nhsNumber).sort()).toEqual([A!, C!].sort());
    await layer.as(GP1, 'direct-care').patient(C!).catch(() => undefined); // P00001's own user tries P00002's patient
    await layer.as(GP2, 'direct-care').patient(C!);
    const officer = layer.as(PRIVACY, 'direct-care');
    const reports = [
      { allowed: [A!], entries: await officer.auditReport({ patient: A! }) },
      { allowed: [A!, B!], entries: await officer.auditReport({ organisation: 'P00001' }) },
    ];
    let scanned = 0;
    let leaked = 0;
    let disallowed = 0;
    for (const { allowed, entries } of reports) {
      for (const entry of entries) {
        scanned++;
        // The decision id is a random UUID whose hex digits can look like an NHS number: scan the rest.
        const { id: _decision, ...content } = entry;
        for (const nhs of JSON.stringify(content).match(/(?<!\d)\d{10}(?!\d)/g) ?? []) if (!allowed.includes(nhs)) leaked++;
        for (const field of Object.keys(entry)) if (['listHash', 'patient', ...CLINICAL_FIELDS].includes(field)) disallowed++;
      }
    }
    // The outreach list touched A: the patient's report shows it, naming only A.
    expect(reports[0]!.entries.map((e) => [e.user, e.patients])).toEqual([['outreach-nurse', [A]]]);
    // The controller sees its user's refused look at C, without C; and the outreach list, with A only.
    expect(reports[1]!.entries.map((e) => [e.user, e.decision, e.patients])).toEqual([
      ['outreach-nurse', 'allow', [A]],
      ['dr-one', 'deny', []],
      ['po', 'allow', [A]],
    ]);
    console.log(`F4/E2 audit reports: entries scanned ${scanned}; other organisations' NHS numbers shown ${leaked}; disallowed fields ${disallowed}`);
    expect(scanned).toBeGreaterThan(3);
    expect(leaked).toBe(0);
    expect(disallowed).toBe(0);
  });
});
