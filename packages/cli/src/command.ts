import type { Command } from 'commander';
import type { CodesetSourceContent } from '@caregaps/core';
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

/**
 * `--registries`, `--codesets` and `--codesets-from`: the folders every command that compiles registries reads, and
 * the codeset sources laid over the codesets.
 */
export function registryFolderOptions(command: Command): Command {
  return codesetSourceOption(
    command.option('--registries <dir>', 'registries folder', BUNDLED.registries).option('--codesets <dir>', 'codesets folder', BUNDLED.codesets),
  );
}

/** `--codesets-from <path>`, repeatable: codeset sources in published formats, later ones replacing a cluster whole. */
export function codesetSourceOption(command: Command): Command {
  return command.option(
    '--codesets-from <path>',
    'codeset source laid over the codesets (PCD release, OpenCodelists or dm+d lists; file or folder); repeatable, later replaces earlier',
    (path: string, previous: string[]) => [...previous, path],
    [] as string[],
  );
}

/** Tells the user on stderr what each codeset source gave (the full list: `caregaps codesets`). */
export function describeSources(io: Io, sources: readonly CodesetSourceContent[]): void {
  for (const source of sources) {
    const substitutes = source.codesets.filter((c) => c.status === 'substitute').length;
    const unused = source.files.filter((f) => f.kind === 'not-read' || /not used/.test(f.note ?? '')).length;
    io.err(
      `codesets from ${source.path}: ${source.codesets.length} cluster${source.codesets.length === 1 ? '' : 's'}` +
        `${substitutes ? ` (${substitutes} substitute${substitutes === 1 ? '' : 's'})` : ''}` +
        `${source.counts.size ? `, ${source.counts.size} member counts` : ''}` +
        `${unused ? `; ${unused} file${unused === 1 ? '' : 's'} not used (caregaps codesets --codesets-from … lists why)` : ''}\n`,
    );
  }
}
