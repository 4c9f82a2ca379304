/**
 * The `caregaps` command line.
 * @packageDocumentation
 */
import { Command, CommanderError } from 'commander';
import { evaluate } from './commands/evaluate.js';
import { generate, GENERATE_DEFAULTS } from './commands/generate.js';
import { test } from './commands/test.js';
import { validate } from './commands/validate.js';
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
    .description('evaluate registries over an NDJSON record file as of an achievement date')
    .requiredOption('--input <file>', 'records in format v1 (NDJSON)')
    .requiredOption('--as-of <date>', 'achievement date, YYYY-MM-DD')
    .option('--registries <dir>', 'registries folder', BUNDLED.registries)
    .option('--codesets <dir>', 'codesets folder', BUNDLED.codesets)
    .option('--registry <id...>', 'only these registries')
    .option('--output <file>', 'write results here instead of stdout')
    .option('--explain', 'add the deciding rule and the records used to every status')
    .option('--summary', 'print register sizes and achievement (results go to --output only)')
    .option('--quarantine <file>', 'write refused lines with their reasons here (NDJSON)')
    .action(async (opts: Parameters<typeof evaluate>[1]) => {
      code = await evaluate(io, opts);
    });

  program
    .command('generate')
    .description('write a synthetic population (records.ndjson, organisations.ndjson) into a folder')
    .requiredOption('--output <dir>', 'folder to write into (created if missing)')
    .option('--patients <n>', 'number of patients', GENERATE_DEFAULTS.patients)
    .option('--seed <seed>', 'random seed: the same seed gives byte-identical files', GENERATE_DEFAULTS.seed)
    .option('--extract-date <date>', 'no record is dated after this day (default 2025-03-31)')
    .option('--codesets <dir>', 'codesets to check the generated codes against', GENERATE_DEFAULTS.codesets)
    .action(async (opts: Parameters<typeof generate>[1]) => {
      code = await generate(io, opts);
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    throw error;
  }
  return code;
}
