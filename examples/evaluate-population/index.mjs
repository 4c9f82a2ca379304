// Evaluate the bundled registries over the sample population, then list the patients of one practice with a
// DM020 (HbA1c ≤ 58 mmol/mol) gap, each with the rule that decided and the HbA1c it read.
// Run from the repository root after `pnpm build`:  node examples/evaluate-population/index.mjs [YYYY-MM-DD]
import { fileURLToPath } from 'node:url';
import { loadRegistries, PatientStore, Quarantine, readRecords, preparedPatients, evaluatePopulation } from '@caregaps/core';

const root = (path) => fileURLToPath(new URL(`../../${path}`, import.meta.url));

export async function gapList(asOf = '2025-03-31', records = root('examples/sample-population/records.ndjson')) {
  const { index, compiled } = loadRegistries(root('registries'), root('codesets'), ['diabetes']);
  const store = new PatientStore();
  const quarantine = new Quarantine();
  for await (const item of readRecords(records)) {
    if (item.ok) store.apply(item.record);
    else quarantine.add(item);
  }
  const patients = [...preparedPatients(store, index)];
  const practice = patients[0].practice;
  const gaps = [];
  for (const result of evaluatePopulation(patients.filter((p) => p.practice === practice), compiled, asOf, { explain: true })) {
    const dm020 = result.explanation.indicators.DM020;
    if (dm020.status !== 'gap') continue;
    const facts = dm020.numerator.facts;
    gaps.push({
      nhsNumber: result.nhsNumber,
      latestHbA1c: facts.IFCCHBA_VAL?.value ?? null,
      on: facts.IFCCHBA_DAT?.value ?? null,
      decidedBy: `numerator rule ${dm020.numerator.decidedBy.rule}`,
    });
  }
  return { practice, quarantined: quarantine.size, gaps };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { practice, quarantined, gaps } = await gapList(process.argv[2]);
  console.log(`DM020 gaps at practice ${practice}: ${gaps.length} (records quarantined: ${quarantined})`);
  for (const g of gaps.slice(0, 15)) {
    console.log(`  ${g.nhsNumber}  latest HbA1c ${g.latestHbA1c ?? 'none'}${g.on ? ` on ${g.on}` : ''}  (${g.decidedBy})`);
  }
}
