/**
 * Worker processes for the fault tests: `worker-child.ts` bundled once (esbuild) into a folder inside the package,
 * so that the bundle's `import 'lmdb'` (a native module, left out of the bundle) resolves; each process's stdout
 * lines are parsed as they come.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export async function bundleWorker(): Promise<{ dir: string; script: string }> {
  const dir = mkdtempSync(fileURLToPath(new URL('../node_modules/.nats-worker-', import.meta.url)));
  const script = join(dir, 'worker-child.mjs');
  await build({
    entryPoints: [fileURLToPath(new URL('./worker-child.ts', import.meta.url))],
    outfile: script,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    conditions: ['@caregaps/source'],
    external: ['lmdb'],
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
    logLevel: 'error',
  });
  return { dir, script };
}

export interface ChildLine {
  event?: string;
  partition?: number;
  message?: string;
  commit?: number;
  applied?: number;
  count?: number;
  failure?: string | null;
}

/** A worker process and what it has printed. */
export class WorkerProcess {
  readonly lines: ChildLine[] = [];
  /** When it last reported a commit (0: never). */
  lastCommitAt = 0;
  readonly exited: Promise<number | null>;
  private readonly waiters: { test: (line: ChildLine) => boolean; resolve: (line: ChildLine) => void; reject: (error: Error) => void }[] = [];
  readonly child: ChildProcess;

  constructor(script: string, options: { servers: string; cluster: string; store: string; id: string; batchSize?: number }) {
    // The bundle cannot find the repository's registries by itself: they are named.
    const folders = { registries: fileURLToPath(new URL('../../../registries', import.meta.url)), codesets: fileURLToPath(new URL('../../../codesets', import.meta.url)) };
    this.child = spawn(process.execPath, [script, JSON.stringify({ ...options, ...folders })], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code) => {
        for (const waiter of this.waiters.splice(0)) waiter.reject(new Error(`the worker exited (code ${code}) before the line awaited`));
        resolve(code);
      }),
    );
    createInterface({ input: this.child.stdout! }).on('line', (text) => {
      let line: ChildLine;
      try {
        line = JSON.parse(text) as ChildLine;
      } catch {
        return;
      }
      this.lines.push(line);
      if (line.commit !== undefined) this.lastCommitAt = Date.now();
      for (const waiter of [...this.waiters]) {
        if (!waiter.test(line)) continue;
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    });
  }

  /** The next line (from now on) that passes `test`, or rejects after `timeoutMs`. */
  next(test: (line: ChildLine) => boolean, timeoutMs = 30_000): Promise<ChildLine> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching line from the worker within ${timeoutMs} ms; its last lines: ${JSON.stringify(this.lines.slice(-6))}`)), timeoutMs);
      this.waiters.push({
        test,
        resolve: (line) => (clearTimeout(timer), resolve(line)),
        reject: (error) => (clearTimeout(timer), reject(error)),
      });
    });
  }

  /** A line already printed that passes `test`, or else the next one. */
  seen(test: (line: ChildLine) => boolean, timeoutMs = 30_000): Promise<ChildLine> {
    const found = this.lines.find(test);
    return found ? Promise.resolve(found) : this.next(test, timeoutMs);
  }

  signal(signal: NodeJS.Signals): void {
    if (this.child.exitCode === null) this.child.kill(signal);
  }

  async kill(): Promise<void> {
    this.signal('SIGKILL');
    await this.exited;
  }
}
