// Query the sample population through the access layer. Every call below is decided by the built-in policies
// (RBAC, legitimate relationship, sharing agreements, opt-outs) and written to a keyed (HMAC-chained) audit log.
// Run from the repository root after `pnpm build`:  node examples/access-query/index.mjs [audit-log-path]
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PatientStore, Quarantine, loadRegistries, readRecords } from '@caregaps/core';
import { BatchResultsSource, FileCheckpoint, NdjsonAuditLog, OrganisationHierarchy, createAccess, verifyAuditLog } from '@caregaps/access';

const root = (path) => fileURLToPath(new URL(`../../${path}`, import.meta.url));

export async function tour(auditLog = join(mkdtempSync(join(tmpdir(), 'caregaps-access-')), 'audit.ndjson')) {
  // 1. Results: the batch evaluator over the sample population, with the organisation hierarchy.
  const { index, compiled } = loadRegistries(root('registries'), root('codesets'), ['diabetes']);
  const store = new PatientStore();
  const organisations = [];
  const quarantine = new Quarantine();
  for (const file of ['records.ndjson', 'organisations.ndjson']) {
    for await (const item of readRecords(root(`examples/sample-population/${file}`))) {
      if (!item.ok) quarantine.add(item);
      else if (item.record.kind === 'organisation') organisations.push(item.record);
      else store.apply(item.record);
    }
  }
  const source = new BatchResultsSource(store, compiled, index, new OrganisationHierarchy(organisations), '2025-03-31');

  // 2. The access layer: built-in policies and an NDJSON audit log. The key comes from the host's configuration (here
  //    a fresh random one); the checkpoint is kept away from the log's directory, where its writer cannot rewrite it.
  const key = randomBytes(32);
  const vault = mkdtempSync(join(tmpdir(), 'caregaps-audit-anchor-'));
  const checkpoint = new FileCheckpoint(join(vault, 'audit.checkpoint'), auditLog);
  const audit = await NdjsonAuditLog.open(auditLog, { key, checkpoint });
  const access = createAccess({ source, audit });
  const practice = organisations.find((o) => o.type === 'practice').code;

  // 3. An analyst's anonymised table by borough, for secondary use: opt-outs left out, small numbers suppressed.
  const analyst = access.as({ user: 'analyst-1', roles: ['analyst'], organisation: 'QMJ' }, 'secondary-use');
  const summary = await analyst.summary({ level: 'borough', registry: 'diabetes' });

  // 4. A GP at the practice: the DM020 gap list for direct care, and the same list as CSV to act on.
  const gp = access.as({ user: 'dr-lee', roles: ['clinical-practitioner'], organisation: practice }, 'direct-care');
  const gaps = await gp.patients({ registry: 'diabetes', indicator: 'DM020' });
  const exported = await gp.exportGapList({ registry: 'diabetes', indicator: 'DM020' });

  // 5. One patient's record: entries by category with their source, and registry statuses with explanations.
  const record = await gp.patient(gaps[0].nhsNumber);

  // 6. A clinician elsewhere with no care relationship is refused (and the refusal is audited).
  const elsewhere = access.as({ user: 'dr-far', roles: ['clinical-practitioner'], organisation: 'RAL01' }, 'direct-care');
  const refused = await elsewhere.patient(gaps[0].nhsNumber).catch((error) => error.code);

  // 7. The practice's privacy officer produces the patient's access report.
  const officer = access.as({ user: 'po-1', roles: ['privacy-officer'], organisation: practice }, 'direct-care');
  const report = await officer.auditReport({ patient: gaps[0].nhsNumber });

  audit.close();
  return { practice, quarantined: quarantine.size, summary, gaps, exported, record, refused, report, audit: verifyAuditLog(auditLog, key, checkpoint.read()), auditLog };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const t = await tour(process.argv[2]);
  const rows = t.summary.rows.filter((r) => r.indicator === 'DM020' || r.measure === 'on-register');
  console.log(`Diabetes by borough (secondary use, ${t.summary.excludedPatients} opted-out patients left out, ${t.summary.suppression}):`);
  for (const r of rows) console.log(`  ${r.name.padEnd(10)} ${(r.indicator ?? '').padEnd(6)} ${r.measure.padEnd(15)} ${String(r.count).padStart(5)} / ${String(r.denominator).padStart(5)}  ${r.rate ?? ''}`);
  console.log(`\nDM020 gaps at ${t.practice}: ${t.gaps.length}; CSV export of ${t.exported.rowCount} rows:`);
  console.log(t.exported.csv.split('\r\n').slice(0, 4).join('\n'));
  const counts = Object.entries(t.record.categories).map(([c, items]) => `${c} ${items.length}`).join(', ');
  console.log(`\nRecord of ${t.record.nhsNumber}: ${counts}; DM020 ${t.record.registries[0].indicators.DM020}`);
  console.log(`A clinician with no care relationship: ${t.refused}`);
  console.log(`Access report for the patient: ${t.report.map((e) => `${e.user} ${e.activity} ${e.decision}`).join('; ')}`);
  console.log(`Audit log ${t.auditLog}: ${t.audit.ok ? 'verified' : 'FAILED'}, ${t.audit.entries} entries`);
}
