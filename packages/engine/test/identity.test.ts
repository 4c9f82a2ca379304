/**
 * Ingest identity and versions (DESIGN §3.1 v1.1; issue 13 items 1–2): each failure the issue names, on the
 * in-memory engine, on the durable engine (decided by the LMDB record store) and on the batch oracle (PatientStore).
 * Codes are real, from codesets/: 44054006 (DM_COD, diabetes mellitus) and 999791000000106 (IFCCHBAM_COD, IFCC HbA1c).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PatientStore, loadRegistries, withCheckDigit, type CaregapsRecord, type EventRecord, type PatientRecord } from '@caregaps/core';
import { afterAll, describe, expect, it } from 'vitest';
import { Engine } from '../src/index.js';
import { CODESETS, REAL_REGISTRIES } from './helpers.js';

const diabetes = loadRegistries(REAL_REGISTRIES, CODESETS, ['diabetes']);
const ASOF = '2025-03-31';
const DM = '44054006';
const HBA1C = '999791000000106';
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Valid NHS numbers (stems whose Modulus 11 check digit would be 10 are skipped). */
const NHS_NUMBERS: string[] = [];
for (let stem = 900_000_000; NHS_NUMBERS.length < 10_001; stem++) {
  const n = withCheckDigit(stem);
  if (n !== undefined) NHS_NUMBERS.push(n);
}
const nhs = (n: number) => NHS_NUMBERS[n]!;
const patient = (n: number, practice = 'P1', extra: Partial<PatientRecord> = {}): PatientRecord => ({
  kind: 'patient', nhsNumber: nhs(n), birthDate: '1960-01-01', sex: 'female', practice, registeredFrom: '2000-01-01', ...extra,
});
const hba1c = (n: number, id: string, value: number, extra: Partial<EventRecord> = {}): EventRecord => ({
  kind: 'event', id, nhsNumber: nhs(n), code: HBA1C, date: '2024-11-01', value, unit: 'mmol/mol', ...extra,
});

/** The three implementations the semantics must hold in. */
const engines = {
  'in-memory engine': () => new Engine({ ...diabetes, asOf: ASOF }),
  'durable engine (record store)': () => {
    const dir = mkdtempSync(join(tmpdir(), 'caregaps-identity-'));
    dirs.push(dir);
    return new Engine({ ...diabetes, asOf: ASOF, store: { directory: dir } });
  },
};

/** The live events of a patient, as `[source, id, value]`. */
const eventsOf = (engine: Engine, n: number) =>
  [...(engine.record(nhs(n))?.events.values() ?? [])].map((e) => [e.source ?? '', e.id, e.value ?? null]).sort();

describe.each(Object.entries(engines))('identity and versions: %s', (name, create) => {
  it('one event id sent for 10,000 patients keeps the first and quarantines the rest, losing none', async () => {
    const engine = create();
    const records: CaregapsRecord[] = [];
    for (let n = 0; n < 10_000; n++) records.push(patient(n), hba1c(n, 'lab-1', 50));
    const summary = await engine.ingest(records);
    let holders = 0;
    for (let n = 0; n < 10_000; n++) holders += eventsOf(engine, n).length;
    const conflicts = engine.quarantine.items.filter((q) => q.code === 'CG_RECORD_ID_CONFLICT').length;
    const lost = 10_000 - holders - conflicts;
    console.log(`${name}: one id for 10,000 patients: kept ${holders}, quarantined ${conflicts}, lost ${lost}`);
    expect([holders, conflicts, lost]).toEqual([1, 9_999, 0]);
    expect(eventsOf(engine, 0)).toEqual([['', 'lab-1', 50]]);
    expect(summary).toEqual({ accepted: 10_001, quarantined: 9_999, stale: 0 });
    engine.close();
  });

  it('two sources with one id each keep their own event under their own patient', async () => {
    const engine = create();
    await engine.ingest([patient(1), patient(2), hba1c(1, 'fhir:Observation/1', 50, { source: 'EMIS' }), hba1c(2, 'fhir:Observation/1', 70, { source: 'TPP' })]);
    const both = [eventsOf(engine, 1), eventsOf(engine, 2)];
    console.log(`${name}: two sources, one id: patient 1 holds ${both[0]!.length}, patient 2 holds ${both[1]!.length}, moved 0`);
    expect(both).toEqual([[['EMIS', 'fhir:Observation/1', 50]], [['TPP', 'fhir:Observation/1', 70]]]);
    engine.close();
  });

  it("a retraction naming patient A never removes patient B's event", async () => {
    const engine = create();
    await engine.ingest([patient(1), patient(2), hba1c(2, 'lab-7', 50), hba1c(2, 'lab-8', 52, { source: 'LAB' })]);
    const summary = await engine.ingest([
      { kind: 'retract', id: 'lab-7', nhsNumber: nhs(1) },
      { kind: 'retract', id: 'lab-8', nhsNumber: nhs(1), source: 'LAB' },
      { kind: 'retract', id: 'lab-8', nhsNumber: nhs(1) },
    ]);
    const kept = eventsOf(engine, 2).length;
    console.log(`${name}: 3 retractions naming patient A for patient B's 2 events: B keeps ${kept}, removed ${2 - kept}`);
    expect(kept).toBe(2);
    expect(summary.quarantined).toBe(2); // the unnamed source's and LAB's ids are held for B; the third finds nothing of A's
    engine.close();
  });

  it('a declared correction moves an event to the right patient', async () => {
    const engine = create();
    await engine.ingest([patient(1), patient(2), hba1c(1, 'lab-9', 50)]);
    await engine.ingest([hba1c(2, 'lab-9', 50, { correctsNhsNumber: nhs(1) })]);
    expect([eventsOf(engine, 1), eventsOf(engine, 2)]).toEqual([[], [['', 'lab-9', 50]]]);
    engine.close();
  });

  it('an old version redelivered after its correction is stale: DM020 stays met', async () => {
    const engine = create();
    const dm020 = () => engine.patient(nhs(1), { explain: false })!.registries.find((r) => r.registry === 'diabetes')!.indicators['DM020'];
    await engine.ingest([patient(1), { kind: 'event', id: 'dm', nhsNumber: nhs(1), code: DM, date: '2015-03-01' }, hba1c(1, 'lab-1', 80, { version: 1 })]);
    const first = dm020();
    await engine.ingest([hba1c(1, 'lab-1', 50, { version: 2 })]);
    const corrected = dm020();
    const redelivered = await engine.ingest([hba1c(1, 'lab-1', 80, { version: 1 })]);
    const after = dm020();
    console.log(`${name}: HbA1c 80 (v1) → 50 (v2) → 80 (v1) again: DM020 ${first} → ${corrected} → ${after}, stale ${redelivered.stale}`);
    expect([first, corrected, after]).toEqual(['gap', 'met', 'met']);
    expect(redelivered).toEqual({ accepted: 0, quarantined: 0, stale: 1 });
    engine.close();
  });

  it('a re-sent old patient record does not move the patient back to their old practice', async () => {
    const engine = create();
    await engine.ingest([patient(1, 'P1', { version: 1 }), patient(1, 'P2', { version: 2 })]);
    const resent = await engine.ingest([patient(1, 'P1', { version: 1 })]);
    console.log(`${name}: old patient record re-sent: practice ${engine.patient(nhs(1))!.practice}, stale ${resent.stale}`);
    expect(engine.patient(nhs(1))!.practice).toBe('P2');
    expect(resent.stale).toBe(1);
    engine.close();
  });
});

describe('identity and versions: the durable engine keeps its decisions across a restart', () => {
  it('after reopening, a retracted id stays removed, a held id still refuses another patient and an old version is still stale', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'caregaps-identity-'));
    dirs.push(dir);
    const open = () => new Engine({ ...diabetes, asOf: ASOF, store: { directory: dir } });
    const first = open();
    await first.ingest([patient(1), patient(2), hba1c(1, 'a', 50, { version: 3 }), { kind: 'retract', id: 'b', nhsNumber: nhs(1) }]);
    first.close();
    const again = open();
    const summary = await again.ingest([hba1c(1, 'a', 90, { version: 2 }), hba1c(2, 'a', 40), hba1c(1, 'b', 60, { source: 'LAB' })]);
    expect(summary).toEqual({ accepted: 1, quarantined: 1, stale: 1 });
    expect(eventsOf(again, 1)).toEqual([['', 'a', 50]]);
    expect(eventsOf(again, 2)).toEqual([]);
    again.close();
  });
});

describe('identity and versions: the batch oracle agrees', () => {
  it('PatientStore: conflicts, corrections, scoped retractions and stale versions', () => {
    const store = new PatientStore();
    for (let n = 0; n < 100; n++) store.apply(hba1c(n, 'x', 50));
    expect(store.get(nhs(0))!.events.size + [...Array(99).keys()].reduce((s, n) => s + (store.get(nhs(n + 1))?.events.size ?? 0), 0)).toBe(1);
    expect(store.apply({ kind: 'retract', id: 'x', nhsNumber: nhs(5) }).outcome).toBe('conflict');
    expect(store.apply(hba1c(0, 'x', 40, { version: 2 })).outcome).toBe('applied');
    expect(store.apply(hba1c(0, 'x', 80, { version: 1 })).outcome).toBe('stale');
    expect(store.apply(hba1c(7, 'x', 40, { correctsNhsNumber: nhs(0) })).changed.sort()).toEqual([nhs(0), nhs(7)].sort());
    expect(store.apply({ kind: 'retract', id: 'x', nhsNumber: nhs(7) }).outcome).toBe('applied');
    expect(store.apply(hba1c(7, 'x', 40, { source: 'OTHER' })).outcome).toBe('unchanged'); // the retraction covers every source for its patient
    expect(store.apply(hba1c(8, 'x', 40, { source: 'OTHER' })).outcome).toBe('applied'); // but not another patient's
  });
});
