import type { Command } from 'commander';
import { BUNDLED, type Io } from './io.js';

/** What every command's registration receives: where to write, and how to set the process's exit code. */
export interface CommandContext {
  io: Io;
  /** Records the command's exit code (0 ok, 1 failures, 2 usage or input error); `main` returns it. */
  exit(code: number): void;
}

/**
 * A command module: `packages/cli/src/commands/<name>.ts` exports `register`, which adds its subcommand to the
 * program and calls `context.exit` with the result. `main.ts` only lists the modules.
 */
export type Register = (program: Command, context: CommandContext) => void;

/** `--registries` and `--codesets`: the folders every command that compiles registries reads. */
export function registryFolderOptions(command: Command): Command {
  return command
    .option('--registries <dir>', 'registries folder', BUNDLED.registries)
    .option('--codesets <dir>', 'codesets folder', BUNDLED.codesets);
}
