/**
 * `engine.writes$`: every patient and organisation record the engine accepts, through `apply`, `ingest` and
 * `ingestNdjson`, is told once its batch has committed; refused and stale records and events are not. The oracle is
 * the list of records sent, read by their kind (the access layer's index follows this stream: see
 * packages/access/test/engine.test.ts).
 */
import { loadRegistries, type CaregapsRecord, type PatientRecord } from '@caregaps/core';
import { describe, expect, it } from 'vitest';
import { Engine, type RecordWrite } from '../src/index.js';
import { CODESETS, FIXTURE_REGISTRIES, ORGANISATIONS, codesFor } from './helpers.js';
import { population } from './population.js';

const loaded = loadRegistries(FIXTURE_REGISTRIES, CODESETS);
const codes = codesFor(loaded.index, loaded.compiled);
const told = (writes: readonly RecordWrite[]) => writes.map((w) => (w.kind === 'patient' ? `patient ${w.nhsNumber}` : `organisation ${w.code}`)).sort();
const expected = (records: readonly CaregapsRecord[]) =>
  records.flatMap((r) => (r.kind === 'patient' ? [`patient ${r.nhsNumber}`] : r.kind === 'organisation' ? [`organisation ${r.code}`] : [])).sort();

describe.each([false, true])('engine.writes$ (worker threads: %s)', (workerThreads) => {
  it('tells each accepted patient and organisation record, whichever way it was written, and nothing refused or stale', async () => {
    const engine = new Engine({ ...loaded, asOf: '2025-03-31', partitions: 2, workerThreads });
    const writes: RecordWrite[] = [];
    engine.writes$.subscribe((w) => writes.push(w));
    try {
      const records = population(40, codes, 7);
      const [applied, ingested, streamed] = [records.slice(0, 20), records.slice(20, 120), records.slice(120)];
      for (const org of ORGANISATIONS) engine.apply(org);
      for (const record of applied) engine.apply(record);
      await engine.ingest(ingested);
      await engine.ingestNdjson((async function* () {
        yield streamed.map((r) => JSON.stringify(r)).join('\n') + '\n';
      })());
      expect(told(writes)).toEqual(expected([...ORGANISATIONS, ...records]));

      // A refused patient record (wrong check digit) and a stale version of a held one are not told.
      const patient = records.find((r): r is PatientRecord => r.kind === 'patient')!;
      writes.length = 0;
      expect(engine.apply({ ...patient, version: 5, optOuts: ['national-data-opt-out'] })).toBe(true);
      expect(engine.apply({ ...patient, nhsNumber: '1234567890' })).toBe(false);
      expect(engine.apply({ ...patient, version: 4 })).toBe(false);
      expect(told(writes)).toEqual([`patient ${patient.nhsNumber}`]);
      expect(engine.record(patient.nhsNumber)?.patient?.optOuts).toEqual(['national-data-opt-out']);
    } finally {
      engine.close();
    }
  });
});
