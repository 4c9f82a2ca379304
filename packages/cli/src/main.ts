/**
 * The `caregaps` command line.
 * @packageDocumentation
 */
import { Command, CommanderError } from 'commander';
import { auditVerify } from './commands/audit.js';
import { evaluate } from './commands/evaluate.js';
import { ingest, INGEST_DEFAULTS, type IngestOptions } from './commands/ingest.js';
import { generate, GENERATE_DEFAULTS } from './commands/generate.js';
import { report, type ReportCommandOptions } from './commands/report.js';
import { test } from './commands/test.js';
import { summary, type SummaryOptions } from './commands/summary.js';
import { validate } from './commands/validate.js';
import { watch } from './commands/watch.js';
import { BUNDLED, EXIT, processIo, type Io } from './io.js';

export type { Io } from './io.js';

/** Runs the CLI with the given arguments and returns its exit code (0 ok, 1 failures, 2 usage or input error). */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  let code: number = EXIT.ok;
  const program = new Command('caregaps')
    .description('Find gaps in care across a population: QOF-shaped registries over normalised records.')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .showHelpAfterError();

  program
    .command('validate')
    .description('check registry files, test files (tests.yaml) and codesets (*.csv)')
    .argument('<files...>')
    .option('--codesets <dir>', 'codesets to check cluster names against', BUNDLED.codesets)
    .action((files: string[], opts: { codesets: string }) => {
      code = validate(io, files, opts);
    });

  program
    .command('test')
    .description("run registry folders' test cases (default: every bundled registry)")
    .argument('[dirs...]')
    .option('--registries <dir>', 'registries folder (when no dirs are given)', BUNDLED.registries)
    .option('--codesets <dir>', 'codesets folder', BUNDLED.codesets)
    .action((dirs: string[], opts: { registries: string; codesets: string }) => {
      code = test(io, dirs, opts);
    });

  program
    .command('evaluate')
    .description('evaluate registries over an NDJSON record file (or sources read with --from) as of an achievement date')
    .argument('[paths...]', 'source files or folders, with --from')
    .option('--input <file>', 'records in format v1 (NDJSON)')
    .option('--from <adapter>', 'read the paths with a source adapter instead: fhir or extract (see caregaps ingest)')
    .option('--map <file>', 'column map for --from extract')
    .option('--default-practice <ods>', 'with --from: practice for patients the source does not register')
    .option('--assign-test-nhs-numbers', 'with --from: test-range NHS numbers for source patients without one')
    .requiredOption('--as-of <date>', 'achievement date, YYYY-MM-DD')
    .option('--registries <dir>', 'registries folder', BUNDLED.registries)
    .option('--codesets <dir>', 'codesets folder', BUNDLED.codesets)
    .option('--registry <id...>', 'only these registries')
    .option('--output <file>', 'write results here instead of stdout')
    .option('--explain', 'add the deciding rule and the records used to every status')
    .option('--format <format>', 'results (default), measure-report (individual FHIR MeasureReports) or measure-report-summary', 'results')
    .option('--summary', 'print register sizes and achievement (results go to --output only)')
    .option('--quarantine <file>', 'write refused lines with their reasons here (NDJSON)')
    .action(async (paths: string[], opts: Parameters<typeof evaluate>[1]) => {
      code = await evaluate(io, opts, paths);
    });

  program
    .command('watch')
    .description('ingest a record stream into the incremental engine and print each change as one NDJSON line as it happens')
    .requiredOption('--input <file>', 'records in format v1 (NDJSON), or - for standard input')
    .requiredOption('--as-of <date>', 'achievement date, YYYY-MM-DD')
    .option('--registries <dir>', 'registries folder', BUNDLED.registries)
    .option('--codesets <dir>', 'codesets folder', BUNDLED.codesets)
    .option('--registry <id...>', 'only these registries')
    .option('--organisations <file>', 'organisation records (NDJSON) to load first')
    .option('--advance-to <date>', 'after the input ends, move the achievement date day by day up to this date')
    .option('--store <dir>', 'keep the engine state in this directory (durable; a restart resumes from it)')
    .option('--explain', 'add the explanation to every change')
    .option('--quarantine <file>', 'write refused lines with their reasons here (NDJSON)')
    .action(async (opts: Parameters<typeof watch>[1]) => {
      code = await watch(io, opts);
    });

  program
    .command('generate')
    .description('write a synthetic population (records.ndjson, organisations.ndjson) into a folder')
    .requiredOption('--output <dir>', 'folder to write into (created if missing)')
    .option('--patients <n>', 'number of patients', GENERATE_DEFAULTS.patients)
    .option('--seed <seed>', 'random seed: the same seed gives byte-identical files', GENERATE_DEFAULTS.seed)
    .option('--extract-date <date>', 'no record is dated after this day (default 2025-03-31)')
    .option('--codesets <dir>', 'codesets to check the generated codes against', GENERATE_DEFAULTS.codesets)
    .option('--records-per-patient <n>', 'average records per patient over ten-year histories', GENERATE_DEFAULTS.recordsPerPatient)
    .action(async (opts: Parameters<typeof generate>[1]) => {
      code = await generate(io, opts);
    });

  program
    .command('ingest')
    .description('read FHIR R4 or flat GP extracts with a source adapter and write record format v1 (NDJSON)')
    .requiredOption('--from <adapter>', 'fhir (Bundles, Bulk Data NDJSON or manifest) or extract (CSV/NDJSON with --map)')
    .argument('<paths...>', 'files, or folders whose matching files are read')
    .option('--output <file>', 'write records here instead of stdout')
    .option('--map <file>', 'column map (YAML or JSON) for --from extract')
    .option('--maps <dir>', 'normalisation maps folder', INGEST_DEFAULTS.maps)
    .option('--source <ods>', 'ODS code of the sending organisation (written as each event source)')
    .option('--default-practice <ods>', 'register patients with this practice when the source has no GP registration')
    .option('--assign-test-nhs-numbers', 'give source patients without NHS numbers numbers from the test range 999 000 0000 onwards')
    .option('--nhs-number-map <file>', 'where to write source patient → assigned NHS number (default <output>.nhs-numbers.csv)')
    .option('--quarantine <file>', 'write refused items with their reasons here (NDJSON)')
    .action(async (paths: string[], opts: IngestOptions) => {
      code = await ingest(io, paths, opts);
    });

  program
    .command('summary')
    .description('anonymised counts and rates by organisation for secondary use (opt-outs excluded, small numbers suppressed)')
    .requiredOption('--input <file>', 'records in format v1 (NDJSON)')
    .requiredOption('--orgs <file>', 'organisation records (NDJSON): practice → pcn → borough → icb')
    .requiredOption('--as-of <date>', 'achievement date, YYYY-MM-DD')
    .option('--by <level>', 'practice, pcn or borough', 'practice')
    .option('--registry <id>', 'only this registry')
    .option('--format <format>', 'csv or json', 'csv')
    .option('--registries <dir>', 'registries folder', BUNDLED.registries)
    .option('--codesets <dir>', 'codesets folder', BUNDLED.codesets)
    .option('--audit <log>', 'append the access to this hash-chained audit log (NDJSON)')
    .option('--user <id>', 'who is asking (default: the login name)')
    .option('--organisation <code>', 'the organisation the analyst acts for', 'caregaps-cli')
    .action(async (opts: SummaryOptions) => {
      code = await summary(io, opts);
    });

  program
    .command('audit')
    .description('audit trail tools')
    .command('verify')
    .description('check an audit log for modified, deleted, reordered or truncated entries')
    .argument('<log>', 'the NDJSON audit log')
    .option('--head <file>', 'the head file (default <log>.head)')
    .action((log: string, opts: { head?: string }) => {
      code = auditVerify(io, log, opts);
    });

  program
    .command('report')
    .description('write the anonymised population report: one self-contained HTML page with tables, funnel plots and trends')
    .requiredOption('--input <file>', 'records in format v1 (NDJSON)')
    .requiredOption('--orgs <file>', 'organisation records (NDJSON): practice → pcn → borough → icb')
    .requiredOption('--as-of <date>', 'achievement date of the tables and funnel plots, YYYY-MM-DD')
    .option('--trend <dates>', 'more achievement dates for the trends, comma-separated (e.g. the last day of each quarter)')
    .option('--output <file>', 'where to write the page', 'report.html')
    .option('--registries <dir>', 'registries folder', BUNDLED.registries)
    .option('--codesets <dir>', 'codesets folder', BUNDLED.codesets)
    .option('--registry <id...>', 'only these registries')
    .option('--indicator <id...>', 'funnel plots only for these indicators (default: all)')
    .option('--title <text>', 'the page title')
    .option('--quarantine <file>', 'write refused lines with their reasons here (NDJSON)')
    .action(async (opts: ReportCommandOptions) => {
      code = await report(io, opts);
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    throw error;
  }
  return code;
}
