/**
 * A synthetic population for the cluster tests, and its batch evaluation (the oracle): `@caregaps/core`'s
 * `PatientStore` and `evaluatePopulation` over the same records in the same order, sharing no code with the
 * engine's partitions, stores or this package.
 */
import {
  PatientStore,
  evaluatePopulation,
  loadRegistries,
  preparedPatients,
  type CaregapsRecord,
  type LoadedRegistries,
  type OrganisationRecord,
  type PatientResult,
} from '@caregaps/core';
import { Population } from '@caregaps/synthetic';

export const AS_OF = '2025-03-31';

let loaded: LoadedRegistries | undefined;
/** The bundled registries, compiled once per test file. */
export function registries(): LoadedRegistries {
  loaded ??= loadRegistries();
  return loaded;
}

export interface TestPopulation {
  records: CaregapsRecord[];
  organisations: OrganisationRecord[];
}

/**
 * `patients` synthetic patients (about `perPatient` records each), with trouble added: every 7th event corrected
 * under the same id with a higher version, and every 11th retracted.
 */
export function testPopulation(patients: number, perPatient: number, seed = 'nats'): TestPopulation {
  const population = new Population({ patients, recordsPerPatient: perPatient, seed });
  const records: CaregapsRecord[] = [];
  let n = 0;
  for (const chunk of population.records()) {
    for (const record of chunk) {
      records.push(record);
      if (record.kind !== 'event') continue;
      n++;
      if (n % 7 === 0) records.push({ ...record, version: (record.version ?? 0) + 1, value: (record.value ?? 40) + 1 });
      if (n % 11 === 0) records.push({ kind: 'retract', id: record.id, nhsNumber: record.nhsNumber, ...(record.source ? { source: record.source } : {}) });
    }
  }
  return { records, organisations: [...population.organisations] };
}

/** Batch results, by `nhsNumber/registry`, for comparing with a cluster's answers. */
export function batchResults(records: readonly CaregapsRecord[]): Map<string, PatientResult> {
  const store = new PatientStore();
  for (const record of records) store.apply(record);
  const { compiled, index } = registries();
  const out = new Map<string, PatientResult>();
  for (const result of evaluatePopulation(preparedPatients(store, index), compiled, AS_OF)) out.set(`${result.nhsNumber}/${result.registry}`, result);
  return out;
}

/** Register sizes and status counts per registry, from batch results. */
export function batchCounts(results: Map<string, PatientResult>): Map<string, { register: number; statuses: Record<string, Record<string, number>> }> {
  const out = new Map<string, { register: number; statuses: Record<string, Record<string, number>> }>();
  for (const result of results.values()) {
    let entry = out.get(result.registry);
    if (!entry) out.set(result.registry, (entry = { register: 0, statuses: {} }));
    entry.register++;
    for (const [indicator, status] of Object.entries(result.indicators)) {
      entry.statuses[indicator] ??= { met: 0, gap: 0, excepted: 0, 'not-applicable': 0 };
      entry.statuses[indicator]![status]!++;
    }
  }
  return out;
}
