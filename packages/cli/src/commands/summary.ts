import { userInfo } from 'node:os';
import { CaregapsError, PatientStore, Quarantine, loadRegistries, provisionalReason, readRecords, type OrganisationRecord } from '@caregaps/core';
import {
  BatchResultsSource,
  LEVELS,
  OrganisationHierarchy,
  SUMMARY_COLUMNS,
  createAccess,
  toCsv,
  type OrganisationLevel,
  type SummaryTable,
} from '@caregaps/access';
import { EXIT, progress, report, type Io } from '../io.js';
import { describeSources, registryFolderOptions, type Register } from '../command.js';

import { auditLogOptions, openAuditSink, type AuditLogOptions } from '../audit-log.js';

export interface SummaryOptions extends AuditLogOptions {
  input: string;
  orgs: string;
  asOf: string;
  by: string;
  registry?: string;
  format: string;
  registries: string;
  codesets: string;
  codesetsFrom?: string[];
  audit?: string;
  user?: string;
  organisation: string;
}

/** The table as CSV (counts and rates stay numbers; the suppression token is text). */
function summaryCsv(table: SummaryTable): string {
  return toCsv(
    SUMMARY_COLUMNS,
    table.rows.map((r) => [r.level, r.organisation, r.name, r.registry, r.indicator, r.measure, r.count, r.denominator, r.rate]),
  );
}

async function read(io: Io, file: string, quarantine: Quarantine, apply: (record: import('@caregaps/core').CaregapsRecord) => void): Promise<number> {
  const bar = progress(io, `reading ${file}`);
  let accepted = 0;
  for await (const item of readRecords(file)) {
    bar.tick();
    if (item.ok) {
      apply(item.record);
      accepted++;
    } else quarantine.add(item);
  }
  bar.stop();
  return accepted;
}

/**
 * `caregaps summary`: the anonymised table for the secondary-use purpose — opted-out patients left out, NHS
 * Digital suppression (with secondary suppression) applied — by practice, PCN or borough.
 */
export async function summary(io: Io, options: SummaryOptions): Promise<number> {
  try {
    if (!LEVELS.includes(options.by as OrganisationLevel) || options.by === 'icb') {
      throw new CaregapsError('CG_USAGE', `--by must be practice, pcn or borough, not "${options.by}"`);
    }
    if (options.format !== 'csv' && options.format !== 'json') throw new CaregapsError('CG_USAGE', `--format must be csv or json, not "${options.format}"`);
    const loaded = loadRegistries(options.registries, options.codesets, { ...(options.registry ? { only: [options.registry] } : {}), codesetSources: options.codesetsFrom ?? [] });
    describeSources(io, loaded.sources);
    const store = new PatientStore();
    const organisations: OrganisationRecord[] = [];
    const quarantine = new Quarantine();
    const take = (record: import('@caregaps/core').CaregapsRecord) => {
      if (record.kind === 'organisation') organisations.push(record);
      else store.apply(record);
    };
    const accepted = (await read(io, options.input, quarantine, take)) + (await read(io, options.orgs, quarantine, take));
    const hierarchy = new OrganisationHierarchy(organisations);
    const source = new BatchResultsSource(store, loaded.compiled, loaded.index, hierarchy, options.asOf);
    const access = createAccess({ source, audit: await openAuditSink(options) });
    const principal = { user: options.user ?? userInfo().username, roles: ['analyst'], organisation: options.organisation };
    const table = await access.as(principal, 'secondary-use').summary({ level: options.by as OrganisationLevel, ...(options.registry ? { registry: options.registry } : {}) });
    // Provisional registers and indicators (computed from the clusters they read): a field in JSON, a note for CSV.
    const provisional = Object.fromEntries(
      loaded.compiled.flatMap((r) =>
        [[`${r.id} register`, r.provisional.register] as const, ...Object.entries(r.provisional.indicators)].filter(([, c]) => c.length).map(([id, c]) => [id, provisionalReason(c)]),
      ),
    );
    io.out(options.format === 'json' ? JSON.stringify({ ...table, provisional }, null, 2) + '\n' : summaryCsv(table));
    for (const [id, reason] of Object.entries(provisional)) if (options.format !== 'json') io.err(`* ${id} provisional: ${reason}\n`);
    io.err(
      `${accepted} records accepted, ${quarantine.size} quarantined${quarantine.size ? ' (' + [...quarantine.counts].map(([c, n]) => `${c}: ${n}`).join(', ') + ')' : ''}; ` +
        `${table.excludedPatients} patients left out (secondary-use opt-outs); suppression ${table.suppression}\n`,
    );
    for (const q of quarantine.items.slice(0, 5)) io.err(`  ${q.file ?? ''}:${q.line}: ${q.reason} [${q.code}]\n`);
    for (const p of hierarchy.problems) io.err(`  organisation ${p.code}: ${p.reason}\n`);
    if (table.unmappedPractices.length) io.err(`  practices not in the organisation file (counted as (unmapped)): ${table.unmappedPractices.join(', ')}\n`);
    return EXIT.ok;
  } catch (error) {
    return report(io, error);
  }
}

/** `caregaps summary`. */
export const register: Register = (program, { io, exit }) => {
  const command = program
    .command('summary')
    .description('anonymised counts and rates by organisation for secondary use (opt-outs excluded, small numbers suppressed)')
    .requiredOption('--input <file>', 'records in format v1 (NDJSON)')
    .requiredOption('--orgs <file>', 'organisation records (NDJSON): practice → pcn → borough → icb')
    .requiredOption('--as-of <date>', 'achievement date, YYYY-MM-DD')
    .option('--by <level>', 'practice, pcn or borough', 'practice')
    .option('--registry <id>', 'only this registry')
    .option('--format <format>', 'csv or json', 'csv');
  registryFolderOptions(command)
    .option('--audit <log>', 'append the access to this hash-chained audit log (NDJSON)')
    .option('--user <id>', 'who is asking (default: the login name)')
    .option('--organisation <code>', 'the organisation the analyst acts for', 'caregaps-cli');
  auditLogOptions(command).action(async (opts: SummaryOptions) => exit(await summary(io, opts)));
};
