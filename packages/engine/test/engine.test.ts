import { Readable } from 'node:stream';
import { CompiledRegistry, PatientStore, evaluatePopulation, loadRegistries, preparePatient, readRecords, type CaregapsRecord } from '@caregaps/core';
import { from, Subject } from 'rxjs';
import { describe, expect, it, vi } from 'vitest';
import { Engine, type Change, type RegistryCounts } from '../src/index.js';
import { HorizonQueue } from '../src/partition/horizons.js';
import { CODESETS, FIXTURE_REGISTRIES, ORGANISATIONS, batchResults, codesFor } from './helpers.js';
import { population } from './population.js';

const loaded = loadRegistries(FIXTURE_REGISTRIES, CODESETS);
const codes = codesFor(loaded.index, loaded.compiled);
const ASOF = '2025-03-31';
const records = population(120, codes, 3);
/** One partition in this thread: these tests read the batch order of results and spy on evaluations. */
const engineOf = () => new Engine({ ...loaded, asOf: ASOF, organisations: ORGANISATIONS, partitions: 1, workerThreads: false });
const DM = [...loaded.index.codeset('DM_COD')!.codes.keys()][0]!;
const HBA = [...loaded.index.codeset('IFCCHBAM_COD')!.codes.keys()][0]!;
const NHS = '9434765919';
const patient: CaregapsRecord = { kind: 'patient', nhsNumber: NHS, birthDate: '1960-05-01', sex: 'female', practice: 'P1', registeredFrom: '2000-01-01' };

describe('ingest', () => {
  it('takes an rxjs Observable, an async iterable and an iterable alike', async () => {
    const expected = batchResults(records, loaded.index, loaded.compiled, ASOF);
    for (const source of [from(records), Readable.from(records), records]) {
      const engine = engineOf();
      expect(await engine.ingest(source)).toEqual({ accepted: records.length, quarantined: 0, stale: 0 });
      expect([...engine.results()]).toEqual(expected);
    }
  });

  it('quarantines bad input with its line and reason, and goes on', async () => {
    const engine = engineOf();
    const text = [JSON.stringify(patient), '{"kind":"event"', JSON.stringify({ ...patient, nhsNumber: '1234567890' })].join('\n');
    const summary = await engine.ingest(readRecords(Readable.from([text]), { file: 'feed.ndjson' }));
    expect(summary).toEqual({ accepted: 1, quarantined: 2, stale: 0 });
    const raw = await engine.ingest([{ kind: 'event', id: 'x1', nhsNumber: NHS, code: DM, date: '2025-02-30' }, 42], { file: 'api' });
    expect(raw).toEqual({ accepted: 0, quarantined: 2, stale: 0 });
    expect(engine.quarantine.items.map((q) => [q.code, q.file, q.line, q.recordId])).toEqual([
      ['CG_RECORD_JSON', 'feed.ndjson', 2, undefined],
      ['CG_RECORD_NHS_NUMBER', 'feed.ndjson', 3, undefined],
      ['CG_RECORD_DATE', 'api', 1, 'x1'],
      ['CG_RECORD_SCHEMA', 'api', 2, undefined],
    ]);
    expect(engine.patientCount).toBe(1);
  });

  it('in bulk, evaluates once at the end and still emits every change', async () => {
    const bulk = engineOf();
    const changes: Change[] = [];
    bulk.changes$.subscribe((c) => changes.push(c));
    const spy = vi.spyOn(CompiledRegistry.prototype, 'evaluate');
    await bulk.ingest(records, { bulk: true });
    const patients = new Set(records.filter((r) => r.kind === 'patient').map((r) => r.nhsNumber)).size;
    const calls = spy.mock.calls.length;
    spy.mockRestore();
    const expected = batchResults(records, loaded.index, loaded.compiled, ASOF);
    // At most once per patient and registry (the register gate spares the rest), and at least for every patient
    // the batch evaluation puts on a register.
    expect(calls).toBeLessThanOrEqual(patients * loaded.compiled.length);
    expect(calls).toBeGreaterThanOrEqual(expected.length);
    expect([...bulk.results()]).toEqual(expected);
    expect(changes.filter((c) => c.indicator === undefined && c.after === 'on')).toHaveLength(expected.length);
  });

  it('emits register entry, status changes and exit, with explanations when asked', async () => {
    const engine = new Engine({ ...loaded, asOf: ASOF, explainChanges: true });
    const changes: Change[] = [];
    engine.changes$.subscribe((c) => changes.push(c));
    engine.apply(patient);
    engine.apply({ kind: 'event', id: 'd1', nhsNumber: NHS, code: DM, date: '2020-01-01' });
    expect(changes.map((c) => [c.indicator, c.before, c.after])).toEqual([
      [undefined, 'off', 'on'],
      ['HBA58', null, 'gap'],
      ['HBA2', null, 'gap'],
    ]);
    expect(changes[1]!.explanation!.indicators['HBA58']!.numerator!.facts['IFCCHBA_VAL']).toEqual({ value: null, records: [] });
    changes.length = 0;
    engine.apply({ kind: 'event', id: 'h1', nhsNumber: NHS, code: HBA, date: '2025-01-10', value: 52 });
    expect(changes.map((c) => [c.indicator, c.before, c.after, c.asOf])).toEqual([['HBA58', 'gap', 'met', ASOF]]);
    expect(changes[0]!.explanation!.indicators['HBA58']!.numerator!.facts['IFCCHBA_VAL']).toEqual({ value: 52, records: ['h1'] });
    changes.length = 0;
    // The reading leaves the 12-month window when the next QOF year starts on 1 April 2025 (PPED becomes 2026-03-31).
    engine.advanceTo('2025-04-01');
    expect(changes.map((c) => [c.indicator, c.before, c.after, c.asOf])).toEqual([['HBA58', 'met', 'gap', '2025-04-01']]);
    changes.length = 0;
    engine.advanceTo('2025-04-02');
    expect(changes).toEqual([]);
    engine.apply({ kind: 'retract', id: 'd1', nhsNumber: NHS });
    expect(changes.map((c) => [c.indicator, c.before, c.after])).toEqual([
      ['HBA58', 'gap', null],
      ['HBA2', 'gap', null],
      [undefined, 'on', 'off'],
    ]);
    // Leaving: the register cascade says why (no diabetes code any more).
    expect(changes[2]!.explanation!.register.decidedBy).toEqual({ rule: 1, action: 'reject' });
  });
});

describe('time', () => {
  it('advancing one day re-evaluates only the patients whose horizon has passed', async () => {
    const engine = engineOf();
    await engine.ingest(population(400, codes, 9), { bulk: true });
    const spy = vi.spyOn(CompiledRegistry.prototype, 'evaluate');
    const queued = engine.queuedCount;
    engine.advanceTo('2025-04-01');
    const evaluated = spy.mock.calls.length;
    spy.mockRestore();
    expect(queued).toBeGreaterThan(100);
    // 1 April starts a QOF year: some windows move. Still, far fewer evaluations than patients × registries.
    expect(evaluated).toBeLessThan(engine.patientCount);
    const spy2 = vi.spyOn(CompiledRegistry.prototype, 'evaluate');
    engine.advanceTo('2025-04-02');
    expect(spy2.mock.calls.length).toBeLessThan(engine.patientCount / 20);
    spy2.mockRestore();
  });

  it('the horizon queue pops rows in day order and skips rescheduled entries', () => {
    const queue = new HorizonQueue();
    queue.schedule(0, 30);
    queue.schedule(1, 10);
    queue.schedule(2, 20);
    queue.schedule(3, 5);
    queue.schedule(3, 40); // rescheduled later: the old entry is stale
    queue.schedule(2, Infinity); // unqueued
    expect(queue.size).toBe(3);
    expect(queue.takeUntil(30)).toEqual([1, 0]);
    expect(queue.peekDay()).toBe(40);
    expect(queue.takeUntil(100)).toEqual([3]);
    expect(queue.size).toBe(0);
  });
});

describe('queries', () => {
  it("answers a patient's statuses with the same explanation as the batch evaluator", async () => {
    const engine = engineOf();
    await engine.ingest(records);
    const batch = batchResults(records, loaded.index, loaded.compiled, ASOF);
    const first = batch[0]!;
    const answer = engine.patient(first.nhsNumber)!;
    const registry = loaded.compiled[0]!;
    expect(answer.registries[0]!.indicators).toEqual(first.indicators);
    const store = new PatientStore();
    for (const r of records) store.apply(r);
    const prepared = preparePatient(store.get(first.nhsNumber)!, loaded.index)!;
    const [batchExplained] = [...evaluatePopulation([prepared], [registry], ASOF, { explain: true })];
    expect(answer.registries[0]!.explanation).toEqual(batchExplained!.explanation);
    expect(answer.registries[0]!.explanation!.register.decidedBy).toEqual({ rule: 2, action: 'select' });
    expect(engine.patient('9999999999')).toBeUndefined();
  });

  it('lists who is in which status, by organisation', async () => {
    const engine = engineOf();
    await engine.ingest(records);
    const batch = batchResults(records, loaded.index, loaded.compiled, ASOF);
    const practiceOf = new Map<string, string>();
    for (const r of records) if (r.kind === 'patient') practiceOf.set(r.nhsNumber, r.practice);
    const gaps = batch.filter((r) => r.indicators['HBA2'] === 'gap').map((r) => r.nhsNumber);
    expect([...engine.patients({ registry: 'dm-mini', indicator: 'HBA2', status: 'gap' })].sort()).toEqual(gaps.sort());
    const pcn1 = batch.filter((r) => ['P1', 'P2'].includes(practiceOf.get(r.nhsNumber)!)).map((r) => r.nhsNumber);
    expect([...engine.patients({ registry: 'dm-mini', organisation: 'PCN1' })].sort()).toEqual(pcn1.sort());
    expect(() => [...engine.patients({ registry: 'nope' })]).toThrowError(expect.objectContaining({ code: 'CG_USAGE' }));
  });

  it('counts with rates at every level, and streams them', async () => {
    const engine = engineOf();
    const seen: (RegistryCounts | undefined)[] = [];
    engine.counts$('dm-mini', 'ICB1').subscribe((c) => seen.push(c));
    const feed = new Subject<CaregapsRecord>();
    const done = engine.ingest(feed);
    for (const r of records) feed.next(r);
    feed.complete();
    await done;
    const icb = engine.counts('dm-mini', 'ICB1')!;
    const p1 = engine.counts('dm-mini', 'P1')!;
    const p9 = engine.counts('dm-mini', 'P9')!; // a practice with no organisation record counts only for itself
    const all = engine.counts('dm-mini')!;
    expect(all.register).toBe(icb.register + p9.register);
    expect(icb.register).toBeGreaterThan(p1.register);
    expect(icb.prevalence).toBeCloseTo(icb.register / icb.registered);
    const hba2 = icb.indicators['HBA2']!;
    expect(hba2.denominator).toBe(hba2.met + hba2.gap);
    expect(hba2.achievement).toBeCloseTo(hba2.met / (hba2.met + hba2.gap));
    expect(hba2.met + hba2.gap + hba2.excepted + hba2['not-applicable']).toBe(icb.register);
    expect(seen[0]!.register).toBe(0);
    expect(seen[seen.length - 1]).toEqual(icb);
  });

  it('exposes the stored record, including events that arrived before their patient', () => {
    const engine = engineOf();
    engine.apply({ kind: 'event', id: 'early', nhsNumber: NHS, code: DM, date: '2020-01-01' });
    expect(engine.record(NHS)!.patient).toBeUndefined();
    expect([...engine.record(NHS)!.events.values()].map((e) => e.id)).toEqual(['early']);
    expect(engine.patient(NHS)).toBeUndefined();
    engine.apply(patient);
    expect(engine.patient(NHS, { explain: false })!.registries[0]!.onRegister).toBe(true);
    expect([...engine.records()].map((r) => r.nhsNumber)).toEqual([NHS]);
  });

  it('refuses an organisation record that would make a cycle', () => {
    const engine = engineOf();
    expect(engine.apply({ kind: 'organisation', code: 'ICB1', name: 'ICB', type: 'icb', parent: 'P1' })).toBe(true);
    expect(engine.quarantine.items.map((q) => q.code)).toEqual(['CG_ENGINE_ORGANISATION_CYCLE']);
  });
});
