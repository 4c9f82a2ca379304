import { loadRegistries } from '@caregaps/core';
import { describe, expect, it } from 'vitest';
import { Engine, type Change } from '../src/index.js';
import { CODESETS, FIXTURE_REGISTRIES, ORGANISATIONS, REAL_REGISTRIES, batchCounts, batchResults, codesFor, engineCounts } from './helpers.js';
import { population } from './population.js';

const ASOF = '2025-03-31';
const fixture = loadRegistries(FIXTURE_REGISTRIES, CODESETS);
const real = loadRegistries(REAL_REGISTRIES, CODESETS);
// Records with codes of both sets of registries, so that the new registries find events the old ones did not read.
const records = population(150, [...new Set([...codesFor(fixture.index, fixture.compiled), ...codesFor(real.index, real.compiled, 1)])], 11);

describe('engine.rebuild', () => {
  it.each([1, 3])('replays the hot state from the record state for new registries and codesets (%i partitions)', async (partitions) => {
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
