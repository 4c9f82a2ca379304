import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRegistries, parseDay, type CaregapsRecord, type CodesetIndex, type CompiledRegistry, type EventRecord } from '@caregaps/core';
import { BACKGROUND } from '@caregaps/synthetic';
import { afterAll, describe, expect, it } from 'vitest';
import { Engine, PartitionHost, RecordStore, partitionFile, partitionOf, type Change } from '../src/index.js';
import { CODESETS, FIXTURE_REGISTRIES, ORGANISATIONS, REAL_REGISTRIES, batchCounts, batchResults, codesFor, engineCounts } from './helpers.js';
import { population } from './population.js';

const ASOF = '2025-03-31';
const fixture = loadRegistries(FIXTURE_REGISTRIES, CODESETS);
const real = loadRegistries(REAL_REGISTRIES, CODESETS);
// Records with codes of both sets of registries, so that the new registries find events the old ones did not read,
// and the synthetic generator's background codes (Synthea's, in no cluster: see @caregaps/synthetic codes.ts), which
// neither reads.
const background = BACKGROUND.map((b) => b.fact.code);
const records = population(150, [...new Set([...codesFor(fixture.index, fixture.compiled), ...codesFor(real.index, real.compiled, 1), ...background])], 11);

describe('engine.rebuild', () => {
  it.each([1, 2, 4])('replays the hot state from the record state for new registries and codesets (%i partitions)', async (partitions) => {
    const engine = new Engine({ ...fixture, asOf: ASOF, organisations: ORGANISATIONS, partitions, workerThreads: false });
    await engine.ingest(records);
    expect([...engine.results()].length).toBeGreaterThan(0);
    const changes: Change[] = [];
    engine.changes$.subscribe((c) => changes.push(c));
    engine.rebuild({ compiled: real.compiled, index: real.index });
    const sorted = (list: { nhsNumber: string; registry: string }[]) => [...list].sort((a, b) => `${a.nhsNumber}${a.registry}`.localeCompare(`${b.nhsNumber}${b.registry}`));
    const expected = batchResults(records, real.index, real.compiled, ASOF);
    expect(expected.length).toBeGreaterThan(10);
    expect(sorted([...engine.results()])).toEqual(sorted(expected));
    expect(engineCounts(engine, real.compiled)).toEqual(batchCounts(records, real.index, real.compiled, ASOF));
    expect(changes).toEqual([]);
    // It goes on incrementally from there: time still moves statuses as a batch evaluation says.
    engine.advanceTo('2026-01-15');
    expect(sorted([...engine.results()])).toEqual(sorted(batchResults(records, real.index, real.compiled, '2026-01-15')));
    engine.close();
  });
});

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'caregaps-rebuild-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const sorted = (list: { nhsNumber: string; registry: string }[]) => [...list].sort((a, b) => `${a.nhsNumber}${a.registry}`.localeCompare(`${b.nhsNumber}${b.registry}`));

/** A JSON string with its first character written as a \u escape (the same string to a parser). */
const escapedFirst = (text: string) => `"\\u${text.charCodeAt(0).toString(16).padStart(4, '0')}${JSON.stringify(text.slice(1)).slice(1)}`;

/**
 * Each record as one NDJSON line in one of the layouts a sender may use: compact; keys reversed with whitespace
 * between tokens; the code escaped; the id escaped (a backslash elsewhere in the line). All parse to the record.
 */
function line(record: CaregapsRecord, n: number): string {
  const entries = Object.entries(record);
  switch (n % 4) {
    case 1:
      return ` { ${entries.reverse().map(([k, v]) => `"${k}" :\t${JSON.stringify(v)}`).join(' ,\t ')} } `;
    case 2:
      return `{${entries.map(([k, v]) => `"${k}":${k === 'code' ? escapedFirst(v as string) : JSON.stringify(v)}`).join(',')}}`;
    case 3:
      return `{${entries.map(([k, v]) => `"${k}":${k === 'id' ? escapedFirst(v as string) : JSON.stringify(v)}`).join(',')}}`;
    default:
      return JSON.stringify(record);
  }
}

/** Live events in the stores that no registry of `compiled` reads, counted from the records parsed (`patients()`). */
function eventsNoRegistryReads(directory: string, partitions: number, index: CodesetIndex, compiled: readonly CompiledRegistry[]): number {
  const read = new Set(compiled.flatMap((r) => [...r.clusters]));
  let count = 0;
  for (let p = 0; p < partitions; p++) {
    const store = RecordStore.open({ directory, partition: p, readOnly: true });
    for (const stored of store.patients()) {
      count += stored.events.filter((e) => (e.system ?? 'snomed') !== 'snomed' || !index.clustersOf(e.code).some((c) => read.has(c))).length;
    }
    void store.close();
  }
  return count;
}

describe('rebuild from the record store', () => {
  it.each([1, 2, 4])('after a registry and codeset change equals a batch evaluation, whatever the layout of the stored lines (%i partitions)', async (partitions) => {
    const directory = tempDir();
    const engine = new Engine({ ...fixture, asOf: ASOF, organisations: ORGANISATIONS, partitions, workerThreads: false, store: { directory } });
    const text = records.map(line).join('\n');
    const summary = await engine.ingestNdjson((async function* () { yield text; })());
    expect(summary.quarantined).toBe(0);
    engine.rebuild({ compiled: real.compiled, index: real.index });
    const expected = batchResults(records, real.index, real.compiled, ASOF);
    expect(expected.length).toBeGreaterThan(10);
    expect(sorted([...engine.results()])).toEqual(sorted(expected));
    expect(engineCounts(engine, real.compiled)).toEqual(batchCounts(records, real.index, real.compiled, ASOF));
    engine.close();
    // Opened again with the new registries (what `caregaps store rebuild` does): the same, and every event that no
    // registry reads is counted as not held.
    const reopened = new Engine({ ...real, asOf: ASOF, organisations: ORGANISATIONS, partitions, workerThreads: false, store: { directory } });
    expect(sorted([...reopened.results()])).toEqual(sorted(expected));
    const notHeld = eventsNoRegistryReads(directory, partitions, real.index, real.compiled);
    expect(notHeld).toBeGreaterThan(50);
    expect(reopened.recovery!.eventsNotHeld).toBe(notHeld);
    reopened.close();
  });

  it('a damaged event in no cluster any registry reads is reported loudly, naming its key, not skipped', async () => {
    const directory = tempDir();
    const read = new Set(fixture.compiled.flatMap((r) => [...r.clusters]));
    const inNoCluster = (r: CaregapsRecord): r is EventRecord => r.kind === 'event' && !fixture.index.clustersOf(r.code).some((c) => read.has(c));
    const engine = new Engine({ ...fixture, asOf: ASOF, organisations: ORGANISATIONS, partitions: 2, workerThreads: false, store: { directory } });
    await engine.ingest(records);
    engine.close();
    const event = records.filter(inNoCluster).find((e) => records.filter((r) => r.kind === 'event' && r.id === e.id).length === 1 && !records.some((r) => r.kind === 'retract' && r.id === e.id))!;
    const file = partitionFile(directory, partitionOf(event.nhsNumber, 2));
    const bytes = readFileSync(file);
    // A bit of its date, in every copy of the stored line (LMDB keeps old page versions until it reuses them).
    const text = Buffer.from(JSON.stringify(event));
    const date = text.indexOf(event.date);
    let copies = 0;
    for (let at = bytes.indexOf(text); at >= 0; at = bytes.indexOf(text, at + 1), copies++) bytes[at + date + 3]! ^= 0x01;
    expect(copies).toBeGreaterThan(0);
    writeFileSync(file, bytes);
    expect(() => new Engine({ ...fixture, asOf: ASOF, organisations: ORGANISATIONS, partitions: 2, workerThreads: false, store: { directory } })).toThrowError(
      expect.objectContaining({ code: 'CG_STORE_DAMAGED', message: expect.stringMatching(new RegExp(`records\\[${event.nhsNumber} \\| \\d+\\] fails its checksum`)) }),
    );
  });
});

describe('a long replay shows progress', () => {
  it('calls progress every 65,536 records it reads, at opening and in a rebuild (a worker thread adds them to the word its engine watches)', async () => {
    const dir = tempDir();
    const patient = records.find((r) => r.kind === 'patient')!;
    const count = 140_000;
    const many: CaregapsRecord[] = [patient];
    for (let i = 1; i < count; i++) many.push({ kind: 'event', id: `progress-${i}`, nhsNumber: patient.nhsNumber, code: background[i % background.length]!, date: '2024-01-01' });
    const engine = new Engine({ ...fixture, asOf: ASOF, organisations: ORGANISATIONS, partitions: 1, workerThreads: false, store: { directory: dir } });
    const summary = await engine.ingest(many, { bulk: true });
    expect(summary.accepted).toBe(count);
    await engine.close();
    let calls = 0;
    const host = PartitionHost.open({ registries: fixture.compiled, index: fixture.index, day: parseDay(ASOF)!, directory: dir, partition: 0, partitions: 1, progress: () => calls++ });
    expect(calls).toBe(Math.floor(count / 65_536));
    host.rebuild();
    expect(calls).toBe(2 * Math.floor(count / 65_536));
    await host.close();
  });
});
