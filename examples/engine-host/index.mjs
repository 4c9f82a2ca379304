// A host system embedding the incremental engine. It keeps a DM020 (HbA1c ≤ 58 mmol/mol) worklist per practice
// current: a gap opening adds the patient to their practice's worklist, a gap closing removes them.
//   1. loads the organisation hierarchy and the sample population (a durable store, so a restart resumes),
//   2. a lab result arrives for a patient on the worklist: their gap closes, as it happens,
//   3. time moves a day at a time into the new QOF year: readings leave the 12-month window and gaps open,
//   4. prints the ICB's DM020 achievement before and after, from the engine's aggregates (a new QOF year starts
//      from zero: only readings after 31 March 2025 count, and the sample population has none yet).
// Run from the repository root after `pnpm build`:  node examples/engine-host/index.mjs [store-directory]
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadRegistries, readRecords } from '@caregaps/core';
import { Engine } from '@caregaps/engine';

const root = (path) => fileURLToPath(new URL(`../../${path}`, import.meta.url));
const HBA1C = '999791000000106'; // IFCCHBAM_COD: haemoglobin A1c level, IFCC standardised

export async function runHost({ storeDirectory = mkdtempSync(join(tmpdir(), 'engine-host-')), days = 30, log = () => {} } = {}) {
  const { index, compiled } = loadRegistries(root('registries'), root('codesets'), ['diabetes']);
  const engine = new Engine({ index, compiled, asOf: '2025-03-31', store: { directory: storeDirectory } });

  // The host's own view, kept current from the change stream alone.
  const worklist = new Map(); // practice → Set of NHS numbers with a DM020 gap
  const events = { opened: 0, closed: 0, joined: 0 };
  engine.changes$.subscribe((change) => {
    if (change.indicator === undefined) {
      if (change.after === 'on') events.joined++;
      return;
    }
    if (change.indicator !== 'DM020') return;
    const list = worklist.get(change.practice) ?? new Set();
    worklist.set(change.practice, list);
    if (change.after === 'gap') {
      list.add(change.nhsNumber);
      events.opened++;
      log(`${change.asOf}  gap opened  ${change.nhsNumber} at ${change.practice} (was ${change.before ?? 'not on the register'})`);
    } else if (change.before === 'gap') {
      list.delete(change.nhsNumber);
      events.closed++;
      log(`${change.asOf}  gap closed  ${change.nhsNumber} at ${change.practice} (now ${change.after ?? 'off the register'})`);
    }
  });

  // 1. First load: the hierarchy, then the population in bulk (each patient evaluated once).
  await engine.ingest(readRecords(root('examples/sample-population/organisations.ndjson')));
  const load = await engine.ingest(readRecords(root('examples/sample-population/records.ndjson')), { bulk: true });
  const icb = engine.organisations().find((o) => o.type === 'icb').code;
  const before = engine.counts('diabetes', icb).indicators.DM020;
  const afterLoad = { ...events };

  // 2. A lab result for the first patient on the worklist, as a live feed would deliver it.
  const [patient] = engine.patients({ registry: 'diabetes', indicator: 'DM020', status: 'gap' });
  const closedBefore = events.closed;
  await engine.ingest([{ kind: 'event', id: 'lab:hba1c:1', nhsNumber: patient, code: HBA1C, date: '2025-03-20', value: 48, unit: 'mmol/mol', source: 'lab' }]);
  const closedByResult = events.closed - closedBefore;
  const why = engine.patient(patient).registries[0].explanation.indicators.DM020.numerator.facts.IFCCHBA_VAL;

  // 3. Time moves on: 1 April starts a new QOF year, and readings from before April 2024 no longer count.
  const openedBefore = events.opened;
  const start = new Date('2025-03-31T00:00:00Z');
  for (let d = 1; d <= days; d++) engine.advanceTo(new Date(start.getTime() + d * 86_400_000).toISOString().slice(0, 10));
  const openedByTime = events.opened - openedBefore;

  // 4. The aggregate view, and the worklist built from changes alone.
  const after = engine.counts('diabetes', icb).indicators.DM020;
  const worklistSize = [...worklist.values()].reduce((n, s) => n + s.size, 0);
  const engineGaps = [...engine.patients({ registry: 'diabetes', indicator: 'DM020', status: 'gap' })].length;
  engine.close();
  return { storeDirectory, accepted: load.accepted, registerSize: afterLoad.joined, patient, closedByResult, why, openedByTime, before, after, worklistSize, engineGaps, asOf: engine.asOf };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await runHost({ storeDirectory: process.argv[2], days: 30, log: (line) => console.log(line) });
  console.log('');
  console.log(`${r.accepted} records loaded; ${r.registerSize} patients joined the diabetes register; state kept in ${r.storeDirectory}`);
  console.log(`lab result for ${r.patient}: HbA1c ${r.why.value} (record ${r.why.records.join(', ')}) closed ${r.closedByResult} gap`);
  console.log(`30 days into the new QOF year: ${r.openedByTime} gaps opened by time alone`);
  const pct = (x) => (x.achievement === null ? '–' : `${(100 * x.achievement).toFixed(1)} %`);
  console.log(`ICB DM020 achievement: ${pct(r.before)} on 2025-03-31 → ${pct(r.after)} on ${r.asOf}`);
  console.log(`worklist built from the change stream: ${r.worklistSize} gaps; engine population query: ${r.engineGaps}`);
}
