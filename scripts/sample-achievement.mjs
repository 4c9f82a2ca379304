// Achievement of every indicator on the synthetic sample population, with the bundled codesets alone and with the
// shared codeset sources laid over them: the before/after table of docs/codesets.md (scripts/registry-catalogue.mjs).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PatientStore, evaluatePopulation, loadRegistries, preparedPatients, readRecords } from '../packages/core/dist/index.js';

export const AS_OF = '2025-03-31';
/** The shared sources, in the order the docs and tests give them (relative to the repository root). */
export const SHARED_SOURCES = ['pcd-20240531', 'opencodelists', 'substitutes/nhs-drug-refsets-20231025'].map((p) => `../shared/codelists/${p}`);

/** Register sizes and status counts per indicator, with each indicator's provisional flag. */
async function evaluate(root, store, codesetSources) {
  const loaded = loadRegistries(join(root, 'registries'), join(root, 'codesets'), { codesetSources });
  const counts = new Map();
  for (const r of loaded.compiled) {
    counts.set(`${r.id}/`, { size: 0, provisional: r.provisional.register.length > 0 });
    for (const indicator of r.registry.definition.indicators) {
      const provisional = r.provisional.indicators[indicator.id].length > 0;
      counts.set(`${r.id}/${indicator.id}`, { met: 0, gap: 0, excepted: 0, provisional, retired: indicator.retired !== undefined });
    }
  }
  for (const result of evaluatePopulation(preparedPatients(store, loaded.index), loaded.compiled, AS_OF)) {
    counts.get(`${result.registry}/`).size++;
    for (const [id, status] of Object.entries(result.indicators)) {
      const c = counts.get(`${result.registry}/${id}`);
      if (status in c) c[status]++;
    }
  }
  return counts;
}

const pct = (met, den) => (den === 0 ? '–' : `${((100 * met) / den).toFixed(1)} %`);
const cellOf = (c) =>
  (c.size !== undefined ? `${c.size} on the register` : `${c.met}/${c.met + c.gap} = ${pct(c.met, c.met + c.gap)}`) +
  (c.provisional ? ' *' : '') +
  (c.retired ? ' (retired)' : '');

/** Table rows (registry, indicator, bundled only, with the shared sources); throws when the shared sources are missing. */
export async function sampleAchievement(root) {
  const sources = SHARED_SOURCES.map((p) => join(root, p));
  const missing = sources.filter((p) => !existsSync(p));
  if (missing.length) throw new Error(`docs/codesets.md needs the shared codeset sources: ${missing.join(', ')} not found`);
  const store = new PatientStore();
  for await (const item of readRecords(join(root, 'examples', 'sample-population', 'records.ndjson'))) if (item.ok) store.apply(item.record);
  const before = await evaluate(root, store, []);
  const after = await evaluate(root, store, sources);
  const rows = [...before.keys()].map((key) => {
    const [registry, indicator] = key.split('/');
    return [registry, indicator || '(register)', cellOf(before.get(key)), cellOf(after.get(key))];
  });
  return { rows, sources: SHARED_SOURCES };
}
