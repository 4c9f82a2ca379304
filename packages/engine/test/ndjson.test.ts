/**
 * NDJSON ingest on the raw-bytes path (`ingestFile`, `ingestNdjson`): the engine's thread cuts lines and routes them
 * by a byte scan, the partitions parse, validate and store them. The oracles are the core reader (`readRecords`:
 * which lines are accepted or refused, with what code and line) and the batch evaluator.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { loadRegistries, readRecords, type CaregapsRecord, type PatientResult, type QuarantinedRecord } from '@caregaps/core';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { Engine, partitionOf } from '../src/index.js';
import { identityHashOfStrings, scanRoute } from '../src/ndjson.js';
import { CODESETS, FIXTURE_REGISTRIES, NHS_NUMBERS, ORGANISATIONS, batchResults, codesFor } from './helpers.js';
import { population } from './population.js';

const loaded = loadRegistries(FIXTURE_REGISTRIES, CODESETS);
const codes = codesFor(loaded.index, loaded.compiled);
const ASOF = '2025-03-31';
const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'caregaps-ndjson-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const bySet = (results: Iterable<PatientResult>) => [...results].map((r) => JSON.stringify(r)).sort();
const refusalsOf = (items: readonly QuarantinedRecord[]) => items.map((q) => `${q.file}:${q.line} ${q.code} ${q.recordId ?? ''}`).sort();

/** A feed with every kind of trouble a file brings, as text. */
function feed(): string {
  const records = population(60, codes, 5);
  const lines = [...ORGANISATIONS, ...records].map((r) => JSON.stringify(r));
  const [first, second] = [records.find((r) => r.kind === 'event')!, records.find((r) => r.kind === 'patient')!];
  lines.splice(3, 0, '{"kind":"event","id":"broken"'); // not JSON
  lines.splice(7, 0, ''); // blank
  lines.splice(9, 0, '   '); // blank
  lines.splice(11, 0, JSON.stringify({ ...second, nhsNumber: '1234567890' })); // check digit wrong
  lines.splice(13, 0, JSON.stringify({ ...first, id: 'spaced' }).replaceAll('":', '" : ')); // a layout the scan does not read
  lines.splice(15, 0, JSON.stringify({ ...first, id: 'esc"aped' })); // an escaped id
  lines.splice(17, 0, `{"kind":"event","id":"x","nhsNumber":"${NHS_NUMBERS[0]}","code":"1","date":"2025-01-01","values":{"id":1}}`); // values not numbers… a nested "id"
  lines.splice(19, 0, 'x'.repeat(3000)); // too long for maxLineBytes 2048
  return '\uFEFF' + lines.join('\r\n') + '\n';
}

describe('ingestFile: the raw-bytes path', () => {
  const text = feed();

  it.each([
    [1, false],
    [2, false],
    [4, true],
  ])('accepts and refuses what readRecords does, and evaluates as the batch evaluator (%i partitions, worker threads %s)', async (partitions, workerThreads) => {
    const dir = tempDir();
    const file = join(dir, 'feed.ndjson');
    writeFileSync(file, text);
    const read = [];
    for await (const r of readRecords(file, { maxLineBytes: 2048 })) read.push(r);
    const accepted = read.filter((r) => r.ok).map((r) => (r as { record: CaregapsRecord }).record);
    const refused = read.filter((r): r is QuarantinedRecord => !r.ok);

    const engine = new Engine({ ...loaded, asOf: ASOF, partitions, workerThreads, store: { directory: join(dir, 'store') } });
    const summary = await engine.ingestFile(file, { maxLineBytes: 2048 });
    expect(summary).toEqual({ accepted: accepted.length, quarantined: refused.length, stale: 0 });
    expect(refusalsOf(engine.quarantine.items)).toEqual(refusalsOf(refused));
    const json = engine.quarantine.items.find((q) => q.code === 'CG_RECORD_JSON')!;
    expect(json.reason).toMatch(/^column \d+: /);
    expect(bySet(engine.results())).toEqual(bySet(batchResults(accepted, loaded.index, loaded.compiled, ASOF)));
    expect(engine.counts('dm-mini', 'ICB1')!.register).toBeGreaterThan(0);
    engine.close();
    // Durable: the stores hold what was accepted, and the refusals.
    const again = new Engine({ ...loaded, asOf: ASOF, workerThreads: false, store: { directory: join(dir, 'store') } });
    expect(again.partitions).toBe(partitions);
    expect(bySet(again.results())).toEqual(bySet(batchResults(accepted, loaded.index, loaded.compiled, ASOF)));
    expect(refusalsOf(again.storedQuarantine())).toEqual(refusalsOf(refused));
    again.close();
    console.log(`ingestFile, ${partitions} partitions: ${summary.accepted} accepted, ${summary.quarantined} quarantined (${[...new Set(refused.map((q) => q.code))].join(', ')}), results equal the batch evaluation`);
  });

  it('gives the same state however the bytes are cut into chunks', async () => {
    const bytes = Buffer.from(text);
    const expected = bySet((await ingested([bytes])).results);
    for (const size of [1, 7, 64, 1000]) {
      const chunks: Uint8Array[] = [];
      for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
      const got = await ingested(chunks);
      expect(bySet(got.results), `chunks of ${size} bytes`).toEqual(expected);
    }
  });

  async function ingested(chunks: Uint8Array[]): Promise<{ results: PatientResult[] }> {
    const engine = new Engine({ ...loaded, asOf: ASOF, partitions: 2, workerThreads: false });
    await engine.ingestNdjson(Readable.from(chunks), { maxLineBytes: 2048 });
    const results = [...engine.results()];
    engine.close();
    return { results };
  }
});

describe('the byte scan routes as a parse would', () => {
  it('finds the partition and identity of any record JSON.stringify writes, or declines', () => {
    const text = fc.string({ maxLength: 12 });
    fc.assert(
      fc.property(
        fc.constantFrom(...NHS_NUMBERS),
        fc.option(text, { nil: undefined }),
        fc.option(text, { nil: undefined }),
        fc.constantFrom('event', 'retract', 'patient'),
        fc.integer({ min: 1, max: 8 }),
        (nhsNumber, id, source, kind, partitions) => {
          const record = { kind, ...(id === undefined ? {} : { id }), nhsNumber, ...(source === undefined ? {} : { source }) };
          const bytes = Buffer.from(JSON.stringify(record));
          const route = scanRoute(bytes, 0, bytes.length, partitions);
          if (route === undefined) return; // declined (an escaped character): the engine parses the line instead
          expect(route.partition).toBe(partitionOf(nhsNumber, partitions));
          expect(route.identity).toBe(id === undefined ? -1 : identityHashOfStrings(id));
        },
      ),
      { numRuns: 2000 },
    );
  });
});
