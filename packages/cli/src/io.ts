import { createWriteStream, type WriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SingleBar } from 'cli-progress';
import { CaregapsError, formatProblem } from '@caregaps/core';

/** Exit codes: 0 ok, 1 failing cases or invalid rules, 2 usage or input error. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** The repository's bundled registries and codesets (the defaults when no folder is given). */
export const BUNDLED = {
  registries: fileURLToPath(new URL('../../../registries', import.meta.url)),
  codesets: fileURLToPath(new URL('../../../codesets', import.meta.url)),
};

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
    return error.code.startsWith('CG_RULE') || error.code.startsWith('CG_TEST') || error.code.startsWith('CG_CODESET') ? EXIT.failed : EXIT.usage;
  }
  throw error;
}

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
