/**
 * The access layer over the incremental engine gives the same answers as over the batch evaluator: summaries,
 * gap lists, exports and record views, for several principals and purposes, before and after time moves.
 */
import { PatientStore } from '@caregaps/core';
import { Engine } from '@caregaps/engine';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { BatchResultsSource, MemoryAuditLog, OrganisationHierarchy, createAccess, withAccess, type Principal, type Purpose } from '../src/index.js';
import { AS_OF, HOSPITAL, TODAY, diabetes, organisations, population, practicesOf, recordsOf } from './fixture.js';

describe('withAccess(engine)', () => {
  test('answers exactly as the batch source does', async () => {
    const { compiled, index } = diabetes();
    const orgs = organisations();
    const specs = population(5, 300, practicesOf(orgs));
    const engine = new Engine({ compiled, index, asOf: AS_OF, organisations: orgs });
    const store = new PatientStore();
    for (const spec of specs) {
      for (const record of recordsOf(spec)) {
        expect(engine.apply(record)).toBe(true);
        store.apply(record);
      }
    }
    const careTeams = [{ id: 't', organisation: HOSPITAL, patients: specs.slice(0, 40).map((s) => s.nhsNumber) }];
    // Records come from the engine's own record()/records(); the batch side reads a store fed the same records.
    const viaEngine = withAccess(engine, { compiled, index, audit: new MemoryAuditLog(), careTeams, now: () => TODAY });
    const batch = () =>
      createAccess({
        source: new BatchResultsSource(store, compiled, index, new OrganisationHierarchy(orgs), engine.asOf),
        audit: new MemoryAuditLog(),
        careTeams,
        now: () => TODAY,
      });
    const principals: [Principal, Purpose][] = [
      [{ user: 'gp', roles: ['clinical-practitioner'], organisation: 'P00001' }, 'direct-care'],
      [{ user: 'an', roles: ['analyst'], organisation: 'P00002' }, 'secondary-use'],
      [{ user: 'h', roles: ['clinical-practitioner'], organisation: HOSPITAL, careTeams: ['t'] }, 'direct-care'],
    ];
    let compared = 0;
    for (const asOf of [AS_OF, '2026-03-31']) {
      engine.advanceTo(asOf);
      const viaBatch = batch();
      for (const [principal, purpose] of principals) {
        const e = viaEngine.as(principal, purpose);
        const b = viaBatch.as(principal, purpose);
        const settle = (p: Promise<unknown>) => p.then((v) => JSON.stringify(v)).catch((error: { code?: string }) => error.code);
        for (const level of ['practice', 'pcn', 'borough'] as const) {
          expect(await settle(e.summary({ level }))).toBe(await settle(b.summary({ level })));
          compared++;
        }
        expect(await settle(e.patients({ registry: 'diabetes' }))).toBe(await settle(b.patients({ registry: 'diabetes' })));
        expect(await settle(e.exportGapList({ registry: 'diabetes', indicator: 'DM020' }))).toBe(await settle(b.exportGapList({ registry: 'diabetes', indicator: 'DM020' })));
        compared += 2;
        for (const spec of specs.slice(0, 60)) {
          expect(await settle(e.patient(spec.nhsNumber))).toBe(await settle(b.patient(spec.nhsNumber)));
          compared++;
        }
      }
    }
    console.log(`engine adapter: answers compared with the batch source ${compared}; differences 0`);
  });

  test('opt-outs and moves that arrive through ingestNdjson and ingestFile reach the counts at once', async () => {
    const { compiled, index } = diabetes();
    const orgs = organisations();
    const specs = population(7, 200, practicesOf(orgs));
    const engine = new Engine({ compiled, index, asOf: AS_OF, organisations: orgs });
    const store = new PatientStore();
    for (const spec of specs) for (const record of recordsOf(spec)) (engine.apply(record), store.apply(record));
    const viaEngine = withAccess(engine, { compiled, index, audit: new MemoryAuditLog(), now: () => TODAY });
    const analyst: Principal = { user: 'an', roles: ['analyst'], organisation: 'P00002' };
    const summaries = async (access: ReturnType<typeof createAccess>) => JSON.stringify(await access.as(analyst, 'secondary-use').summary({ level: 'practice' }));
    const batchSummaries = () => summaries(createAccess({ source: new BatchResultsSource(store, compiled, index, new OrganisationHierarchy(orgs), engine.asOf), audit: new MemoryAuditLog(), now: () => TODAY }));
    expect(await summaries(viaEngine)).toBe(await batchSummaries()); // the indexes are built and in use

    // Patient records re-sent with a national data opt-out: half as NDJSON chunks, half as a file.
    const optedOut = specs.slice(0, 60).map((spec) => ({ ...recordsOf(spec).find((r) => r.kind === 'patient')!, optOuts: ['national-data-opt-out'] }));
    for (const record of optedOut) store.apply(record as Parameters<PatientStore['apply']>[0]);
    const ndjson = (records: readonly unknown[]) => records.map((r) => JSON.stringify(r)).join('\n') + '\n';
    await engine.ingestNdjson((async function* () { yield ndjson(optedOut.slice(0, 30)); })());
    const dir = mkdtempSync(join(tmpdir(), 'caregaps-access-'));
    try {
      writeFileSync(join(dir, 'opt-outs.ndjson'), ndjson(optedOut.slice(30)));
      await engine.ingestFile(join(dir, 'opt-outs.ndjson'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(await summaries(viaEngine)).toBe(await batchSummaries());
    engine.close();
  });

  test('an engine without record()/records() needs a record lookup, and is told so', () => {
    const { compiled, index } = diabetes();
    const engine = new Engine({ compiled, index, asOf: AS_OF });
    const withoutRecords = { asOf: engine.asOf, patient: engine.patient.bind(engine), organisations: engine.organisations.bind(engine) };
    expect(() => withAccess(withoutRecords, { compiled, index, audit: new MemoryAuditLog() })).toThrow(expect.objectContaining({ code: 'CG_USAGE' }));
    expect(() => withAccess(withoutRecords, { compiled, index, records: new PatientStore(), audit: new MemoryAuditLog() })).not.toThrow();
  });
});
