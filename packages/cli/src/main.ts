/**
 * The `caregaps` command line.
 * @packageDocumentation
 */
import { Command, CommanderError } from 'commander';
import type { Register } from './command.js';
import * as audit from './commands/audit.js';
import * as cluster from './commands/cluster.js';
import * as codesets from './commands/codesets.js';
import * as evaluate from './commands/evaluate.js';
import * as generate from './commands/generate.js';
import * as publish from './commands/publish.js';
import * as ingest from './commands/ingest.js';
import * as report from './commands/report.js';
import * as serve from './commands/serve.js';
import * as store from './commands/store.js';
import * as summary from './commands/summary.js';
import * as test from './commands/test.js';
import * as validate from './commands/validate.js';
import * as watch from './commands/watch.js';
import { EXIT, processIo, type Io } from './io.js';
import packageJson from '../package.json' with { type: 'json' };

export type { Io } from './io.js';

/** Every command, in the order `caregaps --help` lists them. Each module registers its own options and action. */
const COMMANDS: readonly { register: Register }[] = [validate, test, evaluate, watch, generate, ingest, summary, audit, report, serve, codesets, store, publish, cluster];

/** Runs the CLI with the given arguments and returns its exit code (0 ok, 1 failures, 2 usage or input error). */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  let code: number = EXIT.ok;
  const program = new Command('caregaps')
    .description('Find gaps in care across a population: QOF-shaped registries over normalised records.')
    .version(packageJson.version, '-V, --version', 'print the version of @caregaps/cli')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .showHelpAfterError();
  const context = { io, exit: (exitCode: number) => void (code = exitCode) };
  for (const command of COMMANDS) command.register(program, context);

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    throw error;
  }
  return code;
}
