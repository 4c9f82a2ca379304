/** Compares a cluster's answers with the batch evaluation of the same records (see population.ts). */
import type { CaregapsRecord } from '@caregaps/core';
import type { ClusterClient } from '../src/index.js';
import { batchCounts, batchResults, registries } from './population.js';

export interface Comparison {
  /** Patients asked about. */
  patients: number;
  /** `nhsNumber registry` whose membership or statuses differ from the batch evaluation. */
  differing: string[];
  /** Registries or indicators whose counts differ. */
  countsDiffering: string[];
}

export async function compareWithBatch(client: ClusterClient, records: readonly CaregapsRecord[]): Promise<Comparison> {
  const batch = batchResults(records);
  const expected = batchCounts(batch);
  const out: Comparison = { patients: 0, differing: [], countsDiffering: [] };
  for (const registry of registries().compiled) {
    const counts = (await client.counts(registry.id))!;
    const want = expected.get(registry.id);
    if (counts.register !== (want?.register ?? 0)) out.countsDiffering.push(`${registry.id}: register ${counts.register}, batch ${want?.register ?? 0}`);
    for (const [indicator, c] of Object.entries(counts.indicators)) {
      const w = want?.statuses[indicator] ?? { met: 0, gap: 0, excepted: 0, 'not-applicable': 0 };
      for (const status of ['met', 'gap', 'excepted', 'not-applicable'] as const) {
        if (c[status] !== w[status]) out.countsDiffering.push(`${registry.id} ${indicator} ${status}: ${c[status]}, batch ${w[status]}`);
      }
    }
  }
  const patients = new Set<string>();
  for (const r of records) if (r.kind === 'patient') patients.add(r.nhsNumber);
  for (const nhsNumber of patients) {
    out.patients++;
    const status = await client.patient(nhsNumber, { explain: false });
    if (!status) {
      out.differing.push(`${nhsNumber} (no answer)`);
      continue;
    }
    for (const registry of status.registries) {
      const want = batch.get(`${nhsNumber}/${registry.registry}`);
      const same = registry.onRegister === (want !== undefined) && (!want || JSON.stringify(sorted(registry.indicators)) === JSON.stringify(sorted(want.indicators)));
      if (!same) out.differing.push(`${nhsNumber} ${registry.registry}`);
    }
  }
  return out;
}

function sorted(o: Record<string, string>): [string, string][] {
  return Object.entries(o).sort(([a], [b]) => a.localeCompare(b));
}
