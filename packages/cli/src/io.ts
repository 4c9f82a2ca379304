import { createWriteStream, existsSync, realpathSync, statSync, type WriteStream } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { SingleBar } from 'cli-progress';
import { CaregapsError, formatProblem } from '@caregaps/core';
import { bundledFolders } from '@caregaps/registries';

/** Exit codes: 0 ok, 1 failing cases or invalid rules, 2 usage or input error. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** The bundled registries and codesets of `@caregaps/registries` (the defaults when no folder is given). */
export const BUNDLED = bundledFolders();

/** Where a command writes: stdout and stderr by default, replaceable in tests. */
export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  /** True when stderr is a terminal (progress bars are drawn only then). */
  interactive: boolean;
}

export const processIo: Io = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  interactive: process.stderr.isTTY === true,
};

/** Prints a CaregapsError with every problem on its own line, and returns the exit code it deserves. */
export function report(io: Io, error: unknown): number {
  if (error instanceof CaregapsError) {
    const lines = error.problems.length ? error.problems.map(formatProblem) : [error.message];
    io.err(lines.join('\n') + '\n');
    return error.code.startsWith('CG_RULE') || error.code.startsWith('CG_REGISTRY') || error.code.startsWith('CG_TEST') || error.code.startsWith('CG_CODESET') ? EXIT.failed : EXIT.usage;
  }
  // A path mistake the command did not check for itself: the path and what is wrong with it, not a stack trace.
  const fsError = error as NodeJS.ErrnoException;
  if (fsError?.path !== undefined && fsError.code !== undefined && FS_CODES[fsError.code]) {
    io.err(`${fsError.path}: ${FS_CODES[fsError.code]} [CG_INPUT]\n`);
    return EXIT.usage;
  }
  throw error;
}

const FS_CODES: Record<string, string> = {
  ENOENT: 'no such file or folder; check the path',
  EACCES: 'permission denied',
  EISDIR: 'is a folder; give a file',
  ENOTDIR: 'a part of the path is not a folder',
  EEXIST: 'already exists',
};

/** A progress bar on stderr for long inputs; silent when stderr is not a terminal. */
export function progress(io: Io, label: string): { tick(n?: number): void; stop(): void } {
  if (!io.interactive) return { tick() {}, stop() {} };
  const bar = new SingleBar({ format: `${label} {value} records | {duration_formatted}`, stream: process.stderr, fps: 5 });
  bar.start(0, 0);
  let n = 0;
  return {
    tick(k = 1) {
      n += k;
      if (n % 1000 === 0) bar.update(n);
    },
    stop() {
      bar.update(n);
      bar.stop();
    },
  };
}

/** An output sink: a file when named, otherwise stdout. */
export function sink(io: Io, file: string | undefined): { write(line: string): void; close(): Promise<void> } {
  if (!file) return { write: (line) => io.out(line), close: async () => {} };
  const stream: WriteStream = createWriteStream(file);
  return {
    write: (line) => void stream.write(line),
    close: () => new Promise((resolve, reject) => stream.end((error?: Error | null) => (error ? reject(error) : resolve()))),
  };
}

/** The absolute path, with symbolic links resolved as far as the path exists (so two names of one file compare equal). */
function canonical(path: string): string {
  const absolute = resolve(path);
  return existsSync(absolute) ? realpathSync(absolute) : resolve(canonical(dirname(absolute)), absolute.slice(dirname(absolute).length + 1));
}

/**
 * Checks, before any work, that every output can be written: its folder exists, and it is none of the inputs (a
 * command must never overwrite what it reads). Throws CG_OUTPUT naming the option; undefined entries are skipped.
 */
export function checkOutputs(outputs: Record<string, string | undefined>, inputs: readonly (string | undefined)[] = []): void {
  const read = new Set(inputs.filter((p): p is string => p !== undefined && p !== '-').map(canonical));
  for (const [option, path] of Object.entries(outputs)) {
    if (path === undefined) continue;
    const folder = dirname(resolve(path));
    if (!existsSync(folder) || !statSync(folder).isDirectory()) {
      throw new CaregapsError('CG_OUTPUT', `${option} ${path}: the folder ${folder} does not exist; create it first or choose another path`);
    }
    if (read.has(canonical(path))) throw new CaregapsError('CG_OUTPUT', `${option} ${path} is also an input of this command; write to another file`);
    if (existsSync(path) && statSync(path).isDirectory()) throw new CaregapsError('CG_OUTPUT', `${option} ${path} is a folder; give a file name`);
  }
}
