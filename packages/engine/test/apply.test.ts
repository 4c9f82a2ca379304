/**
 * The in-memory apply path (issue 10): without a durable store the engine runs its partitions in the calling thread
 * and keeps each temporary store's write transaction open across applies, committing every HELD_RECORDS records, on
 * a timer, and before other writes. Whatever was or was not committed when a record arrived, every verdict, status,
 * count and record view must be what the batch evaluator and the batch identity model (`PatientStore`) give for the
 * same records — the oracles share none of the engine's code.
 */
import { availableParallelism } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { PatientStore, loadRegistries, withCheckDigit, type CaregapsRecord, type EventRecord } from '@caregaps/core';
import { describe, expect, it } from 'vitest';
import { Engine, type Change } from '../src/index.js';
import { partitionOf } from '../src/router.js';
import { HELD_RECORDS } from '../src/store/record-store.js';
import { CODESETS, FIXTURE_REGISTRIES, ORGANISATIONS, batchCounts, batchResults, codesFor, engineCounts } from './helpers.js';
import { population, random } from './population.js';

const loaded = loadRegistries(FIXTURE_REGISTRIES, CODESETS);
const codes = codesFor(loaded.index, loaded.compiled);
const ASOF = '2025-03-31';

/**
 * More than two held transactions' worth of records, with the trouble identity rules decide: events resent for
 * another patient (conflicts), declared moves (`correctsNhsNumber`), older versions (stale), retractions with and
 * without a source, and a second source reusing ids.
 */
function troubledStream(seed: number): CaregapsRecord[] {
  const rnd = random(seed);
  const base = population(1_600, codes, seed);
  const out: CaregapsRecord[] = [];
  const events: EventRecord[] = [];
  const nhsNumbers = [...new Set(base.map((r) => (r.kind === 'organisation' ? undefined : r.nhsNumber)).filter((n): n is string => n !== undefined))];
  const other = () => nhsNumbers[Math.floor(rnd() * nhsNumbers.length)]!;
  for (const record of base) {
    out.push(record);
    if (record.kind !== 'event') continue;
    events.push(record);
    const earlier = events[Math.floor(rnd() * events.length)]!;
    const roll = rnd();
    if (roll < 0.03) out.push({ ...earlier, nhsNumber: other() }); // held for another patient: a conflict
    else if (roll < 0.05) out.push({ ...earlier, nhsNumber: other(), correctsNhsNumber: earlier.nhsNumber }); // a declared move
    else if (roll < 0.08) out.push({ ...earlier, source: 'S2', version: 2 }, { ...earlier, source: 'S2', version: 1, value: 99 }); // a second source; then stale
    else if (roll < 0.09) out.push({ kind: 'retract', id: earlier.id, nhsNumber: earlier.nhsNumber }); // every source, this patient
    else if (roll < 0.1) out.push({ kind: 'retract', id: earlier.id, nhsNumber: earlier.nhsNumber, source: 'S2' });
  }
  return out;
}

/** A patient's stored records as comparable values: the patient record and the live events by identity. */
function view(state: { patient?: unknown; events: Map<string, EventRecord> } | undefined): { patient: unknown; events: [string, EventRecord][] } | undefined {
  if (state === undefined || (state.patient === undefined && state.events.size === 0)) return undefined;
  return { patient: state.patient, events: [...state.events].sort(([a], [b]) => (a < b ? -1 : 1)) };
}

describe('in-memory apply path', () => {
  it('runs one partition in the calling thread unless worker threads or more partitions are asked for', () => {
    const engines = [
      new Engine({ ...loaded, asOf: ASOF }),
      new Engine({ ...loaded, asOf: ASOF, partitions: 3 }),
      new Engine({ ...loaded, asOf: ASOF, workerThreads: true }),
      new Engine({ ...loaded, asOf: ASOF, workerThreads: false, partitions: 2 }),
    ];
    expect(engines.map((e) => e.partitions)).toEqual([1, 3, availableParallelism(), 2]);
    for (const e of engines) e.close();
  });

  it.each([1, 2, 4])(
    'single applies across held-transaction commits and timer commits equal the batch evaluation and identity model (%i partitions)',
    async (partitions) => {
      const records = troubledStream(partitions);
      expect(records.length).toBeGreaterThan(2 * HELD_RECORDS);
      const engine = new Engine({ ...loaded, asOf: ASOF, organisations: ORGANISATIONS, partitions, workerThreads: false });
      const changes: Change[] = [];
      engine.changes$.subscribe((c) => changes.push(c));
      const oracle = new PatientStore();
      let conflicts = 0;
      const verdicts = { accepted: 0, refused: 0 };
      for (let i = 0; i < records.length; i++) {
        const record = records[i]!;
        const outcome = oracle.apply(record).outcome;
        if (outcome === 'conflict') conflicts++;
        const accepted = engine.apply(record);
        expect(accepted, `record ${i}: ${JSON.stringify(record)}`).toBe(outcome !== 'conflict' && outcome !== 'stale');
        verdicts[accepted ? 'accepted' : 'refused']++;
        if (i % 997 === 0 && record.kind !== 'organisation') {
          // The record view reads what the open transaction holds, committed or not.
          expect(view(engine.record(record.nhsNumber))).toEqual(view(oracle.get(record.nhsNumber)));
        }
        // Once, the event loop runs long enough for the timer to commit what is held.
        if (i === 3_000) await sleep(120);
      }
      expect([...engine.results()].sort(byPatient)).toEqual(batchResults(records, loaded.index, loaded.compiled, ASOF).sort(byPatient));
      expect(engineCounts(engine, loaded.compiled)).toEqual(batchCounts(records, loaded.index, loaded.compiled, ASOF));
      expect(engine.quarantine.items.filter((q) => q.code === 'CG_RECORD_ID_CONFLICT').length).toBe(conflicts);
      expect(engine.storedQuarantine().length).toBe(conflicts);
      for (const expected of oracle.values()) expect(view(engine.record(expected.nhsNumber))).toEqual(view(expected));
      // The change stream, replayed from nothing, ends where the batch evaluation is.
      const onRegister = new Set<string>();
      for (const c of changes) if (c.indicator === undefined) (c.after === 'on' ? onRegister.add.bind(onRegister) : onRegister.delete.bind(onRegister))(`${c.nhsNumber}|${c.registry}`);
      expect([...onRegister].sort()).toEqual(batchResults(records, loaded.index, loaded.compiled, ASOF).map((r) => `${r.nhsNumber}|${r.registry}`).sort());
      console.log(`in-memory apply, ${partitions} partition(s): ${records.length} records one by one (${verdicts.accepted} accepted, ${verdicts.refused} refused, ${conflicts} conflicts) equal the batch evaluation`);
      engine.close();
    },
    120_000,
  );

  it('a record whose id another patient holds in another partition is refused however recently that was written', () => {
    // Two patients in different partitions; each event is written, uncommitted, just before the other patient's.
    const engine = new Engine({ ...loaded, asOf: ASOF, partitions: 2, workerThreads: false });
    const nhs: string[] = [];
    for (let stem = 900_200_000; nhs.length < 2; stem++) {
      const n = withCheckDigit(stem);
      if (n !== undefined && (nhs.length === 0 || partitionOf(n, 2) !== partitionOf(nhs[0]!, 2))) nhs.push(n);
    }
    const oracle = new PatientStore();
    for (let k = 0; k < 50; k++) {
      for (const n of nhs) {
        const event: EventRecord = { kind: 'event', id: `shared-${k}`, nhsNumber: n, code: codes[0]!, date: '2024-10-01' };
        expect(engine.apply(event)).toBe(oracle.apply(event).outcome !== 'conflict');
      }
    }
    expect(engine.quarantine.items.map((q) => q.code)).toEqual(Array(50).fill('CG_RECORD_ID_CONFLICT'));
    expect(engine.record(nhs[0]!)!.events.size).toBe(50);
    expect([...engine.record(nhs[0]!)!.events.keys()].sort()).toEqual([...oracle.get(nhs[0]!)!.events.keys()].sort());
    expect(oracle.get(nhs[1]!)?.events.size ?? 0).toBe(0);
    expect(engine.record(nhs[1]!)?.events.size ?? 0).toBe(0);
    engine.close();
  });
});

function byPatient(a: { nhsNumber: string; registry: string }, b: { nhsNumber: string; registry: string }): number {
  return a.nhsNumber === b.nhsNumber ? (a.registry < b.registry ? -1 : 1) : a.nhsNumber < b.nhsNumber ? -1 : 1;
}

describe('a move across partitions', () => {
  // Found by the property test (4 partitions): the patient the event moves to has a retraction without source of its
  // id kept; one store holding the identity moves the event all the same, and so must the partition it moves to.
  const records = [
    { kind: 'event', id: 'e14', nhsNumber: '9000000017', code: '111552007', date: '2022-06-01', source: 'S2' },
    { kind: 'retract', id: 'e14', nhsNumber: '9000000025' },
    { kind: 'event', id: 'e14', nhsNumber: '9000000025', code: '111552007', date: '2022-06-01', source: 'S2', correctsNhsNumber: '9000000017' },
    { kind: 'patient', sex: 'female', optOuts: [], nhsNumber: '9000000017', birthDate: '2007-01-01', practice: 'P1', registeredFrom: '2010-01-01', registeredTo: null, deathDate: null },
    { kind: 'event', id: 'e1', nhsNumber: '9000000017', code: '1066911000000100', date: '2022-06-01' },
  ] as CaregapsRecord[];

  it.each([
    [1, false],
    [4, false],
    [4, true],
  ])('onto a patient with a retraction without source kept is moved, as one store decides (%i partitions, worker threads %s)', (partitions, workerThreads) => {
    expect(partitionOf('9000000017', 4)).not.toBe(partitionOf('9000000025', 4));
    const engine = new Engine({ ...loaded, asOf: '2024-06-30', organisations: ORGANISATIONS, partitions, workerThreads });
    const oracle = new PatientStore();
    for (const r of records) expect(engine.apply(r)).toBe(!['conflict', 'stale'].includes(oracle.apply(r).outcome));
    expect([...engine.results()]).toEqual(batchResults(records, loaded.index, loaded.compiled, '2024-06-30'));
    for (const nhs of ['9000000017', '9000000025']) expect(view(engine.record(nhs))).toEqual(view(oracle.get(nhs)));
    engine.close();
  });
});
