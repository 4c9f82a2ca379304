import { PatientStore, formatDay, loadRegistries, parseDay, type CaregapsRecord, type LoadedRegistries, type PatientResult } from '@caregaps/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Engine, type Change } from '../src/index.js';
import { partitionOf } from '../src/router.js';
import { CODESETS, FIXTURE_REGISTRIES, NHS_NUMBERS, ORGANISATIONS, REAL_REGISTRIES, batchCounts, batchResults, codesFor, engineCounts, stepArbitrary, type Step } from './helpers.js';

const START = '2024-06-30';

/** Status of every register and indicator, rebuilt only from the change stream. */
function replayChanges(changes: Change[]): Map<string, string | null> {
  const model = new Map<string, string | null>();
  for (const c of changes) {
    const key = `${c.nhsNumber}|${c.registry}|${c.indicator ?? ''}`;
    const was = model.get(key) ?? (c.indicator === undefined ? 'off' : null);
    expect(c.before).toBe(was);
    model.set(key, c.after);
  }
  return model;
}

/** Results in NHS number then registry order. */
function byPatient(results: PatientResult[]): PatientResult[] {
  return results.sort((a, b) => (a.nhsNumber === b.nhsNumber ? (a.registry < b.registry ? -1 : 1) : a.nhsNumber < b.nhsNumber ? -1 : 1));
}

/** Runs spread over one, two and four partitions (the hash puts the test's patients in different partitions). */
const PARTITIONS = fc.constantFrom(1, 2, 4);

/** What the runs exercised, so a generator that stops producing register entries or indicator changes fails the suite. */
const seen = { changes: 0, met: 0, gap: 0, excepted: 0, 'not-applicable': 0, timeDriven: 0 };

/**
 * Runs the steps on an engine and compares it with batch evaluation after every date move and at the end. Records
 * go through `apply` one at a time, or (`batched`) through `ingest`, the records between two date moves as one
 * source: each patient is then evaluated once per batch and the change stream carries only the net changes.
 */
async function checkRun(loaded: LoadedRegistries, steps: Step[], partitions: number, batched = false, workerThreads = false): Promise<void> {
  const engine = new Engine({ ...loaded, asOf: START, organisations: ORGANISATIONS, partitions, workerThreads });
  const changes: Change[] = [];
  engine.changes$.subscribe((c) => changes.push(c));
  const records: CaregapsRecord[] = [];
  let asOf = START;
  const compare = () => {
    const batch = batchResults(records, loaded.index, loaded.compiled, asOf);
    // One partition keeps the batch order (first seen); several give it partition by partition.
    expect(partitions === 1 ? [...engine.results()] : byPatient([...engine.results()])).toEqual(partitions === 1 ? batch : byPatient(batch));
    expect(engineCounts(engine, loaded.compiled)).toEqual(batchCounts(records, loaded.index, loaded.compiled, asOf));
    const model = replayChanges(changes);
    const fromChanges = new Map<string, string>();
    for (const [key, status] of model) if (status !== null && status !== 'off') fromChanges.set(key, status);
    const fromBatch = new Map<string, string>();
    for (const r of batch) {
      fromBatch.set(`${r.nhsNumber}|${r.registry}|`, 'on');
      for (const [id, s] of Object.entries(r.indicators)) fromBatch.set(`${r.nhsNumber}|${r.registry}|${id}`, s);
    }
    expect(fromChanges).toEqual(fromBatch);
  };
  let pending: CaregapsRecord[] = [];
  // What the batch oracle says of each record (identity and versions, DESIGN §3.1 v1.1): the engine must agree.
  const oracle = new PatientStore();
  let expected = { accepted: 0, quarantined: 0, stale: 0 };
  const judge = (record: CaregapsRecord) => {
    const outcome = oracle.apply(record).outcome;
    if (outcome === 'conflict') expected.quarantined++;
    else if (outcome === 'stale') expected.stale++;
    else expected.accepted++;
    return outcome !== 'conflict' && outcome !== 'stale';
  };
  const ingestPending = async () => {
    if (pending.length === 0) return;
    expect(await engine.ingest(pending)).toEqual(expected);
    expected = { accepted: 0, quarantined: 0, stale: 0 };
    pending = [];
  };
  for (const step of steps) {
    if ('advance' in step) {
      await ingestPending();
      asOf = formatDay(parseDay(asOf)! + step.advance);
      const before = changes.length;
      engine.advanceTo(asOf);
      seen.timeDriven += changes.length - before;
      compare();
    } else {
      const accepted = judge(step.record);
      if (batched) pending.push(step.record);
      else expect(engine.apply(step.record)).toBe(accepted);
      records.push(step.record);
    }
  }
  await ingestPending();
  compare();
  engine.close();
  seen.changes += changes.length;
  for (const c of changes) if (c.after !== null && c.after !== 'on' && c.after !== 'off') seen[c.after]++;
}

describe('incremental results equal batch evaluation', () => {
  const fixture = loadRegistries(FIXTURE_REGISTRIES, CODESETS);
  const fixtureCodes = codesFor(fixture.index, fixture.compiled);

  it('over the fixture registry, for any records and any achievement dates', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArbitrary(fixtureCodes), { minLength: 1, maxLength: 80, size: 'max' }), PARTITIONS, (steps, p) => checkRun(fixture, steps, p)),
      { numRuns: 1000 },
    );
  }, 300_000); // every run opens its partitions' stores (a thousand engines)

  it('when records are ingested in batches (each patient evaluated once per batch)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArbitrary(fixtureCodes), { minLength: 1, maxLength: 80, size: 'max' }), PARTITIONS, (steps, p) => checkRun(fixture, steps, p, true)),
      { numRuns: 500 },
    );
  }, 300_000);

  it('with the partitions on worker threads', async () => {
    // The same partition code as above behind the worker-thread transport (fewer runs: a run starts threads).
    await fc.assert(
      fc.asyncProperty(fc.array(stepArbitrary(fixtureCodes), { minLength: 1, maxLength: 80, size: 'max' }), fc.constantFrom(2, 4), fc.boolean(), (steps, p, batched) =>
        checkRun(fixture, steps, p, batched, true),
      ),
      { numRuns: 5 },
    );
  });

  it("spreads the test's patients over the partitions (so ids move between partitions)", () => {
    for (const p of [2, 4]) expect(new Set(NHS_NUMBERS.map((n) => partitionOf(n, p))).size).toBeGreaterThan(1);
  });

  it('exercised every status and time-driven changes', () => {
    expect(seen.timeDriven).toBeGreaterThan(50);
    for (const status of ['met', 'gap', 'excepted', 'not-applicable'] as const) expect(seen[status]).toBeGreaterThan(20);
  });

  it('when records arrive in any order, repeated', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(stepArbitrary(fixtureCodes), { minLength: 1, maxLength: 50, size: 'max' }).chain((steps) =>
          fc.shuffledSubarray([...steps, ...steps], { minLength: 2 * steps.length }).map((shuffled) => ({ steps, shuffled })),
        ),
        PARTITIONS,
        ({ shuffled }, p) => checkRun(fixture, shuffled, p),
      ),
      { numRuns: 100 },
    );
  });

  it('over the real registries in registries/', async () => {
    // The bundled registries must load: a broken one fails here rather than being skipped.
    const real = loadRegistries(REAL_REGISTRIES, CODESETS);
    const codes = codesFor(real.index, real.compiled, 1);
    await fc.assert(
      fc.asyncProperty(fc.array(stepArbitrary(codes), { minLength: 1, maxLength: 80, size: 'max' }), PARTITIONS, (steps, p) => checkRun(real!, steps, p)),
      { numRuns: 100 },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(stepArbitrary(codes), { minLength: 1, maxLength: 80, size: 'max' }), PARTITIONS, (steps, p) => checkRun(real!, steps, p, true)),
      { numRuns: 100 },
    );
  });
});
