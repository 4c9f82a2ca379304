import { createReadStream, createWriteStream, existsSync, realpathSync, statSync, type WriteStream } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { SingleBar } from 'cli-progress';
import { CaregapsError, formatProblem, readRecords, type ReadResult } from '@caregaps/core';
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
  /** Where progress bars are drawn (default process.stderr). */
  progressStream?: NodeJS.WritableStream;
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

/** A progress bar. */
export interface Progress {
  /** Adds `n` (default 1) to what is done. */
  increment(n?: number): void;
  stop(): void;
}

/**
 * A progress bar with its total, elapsed time and ETA on stderr (records read, patients evaluated, dates); silent
 * when stderr is not a terminal, so piped and redirected output stays clean.
 */
export function progressBar(io: Io, label: string, total: number, unit: string): Progress {
  if (!io.interactive) return { increment() {}, stop() {} };
  const bar = new SingleBar({
    format: `${label} {bar} {percentage}% | {value}/{total} ${unit} | {duration_formatted} | eta {eta_formatted}`,
    stream: io.progressStream ?? process.stderr,
    fps: 5,
    etaBuffer: 50,
  });
  bar.start(total, 0);
  return { increment: (n = 1) => bar.increment(n), stop: () => bar.stop() };
}

/** The records of an NDJSON file, with a progress bar over its size in kB. */
export async function* readRecordsWithProgress(io: Io, file: string, label = `reading ${file}`): AsyncGenerator<ReadResult> {
  if (!io.interactive) return yield* readRecords(file);
  const bar = progressBar(io, label, Math.ceil(statSync(file).size / 1024), 'kB');
  let bytes = 0;
  async function* counted(): AsyncGenerator<Uint8Array> {
    for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
      const before = Math.ceil(bytes / 1024);
      bytes += chunk.length;
      bar.increment(Math.ceil(bytes / 1024) - before);
      yield chunk;
    }
  }
  try {
    yield* readRecords(counted(), { file });
  } finally {
    bar.stop();
  }
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
