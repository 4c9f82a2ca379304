import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { CaregapsError } from '@caregaps/core';
import type { PartitionHostOptions } from '../partition/host.js';
import { definitionsOf, type PartitionCall, type PartitionLink, type RuleDefinitions } from './link.js';

/**
 * What a worker needs to open its partition: the host's options (without compiled rules) and the rules as
 * definitions (it compiles them itself: compiled rules are closures, which cannot cross threads).
 */
export interface PartitionInit {
  options: Omit<PartitionHostOptions, 'registries' | 'index' | 'progress'>;
  rules: RuleDefinitions;
}

/** An answer from a worker: a result, or the error the call threw. */
export type WorkerAnswer = { result: unknown } | { error: { message: string; code?: string } };

/** The built worker entry, next to this module in `dist` (or, running from source, in the package's `dist`). */
function workerFile(): URL {
  const here = new URL('./partition-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  const built = new URL('../../dist/partition-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(built))) return built;
  throw new CaregapsError('CG_USAGE', 'The engine worker is not built: run `pnpm build` (partitions on worker threads need dist/partition-worker.js)');
}

/**
 * A partition on its own worker thread. Calls go over a message port; the engine's thread waits for the answer
 * with `Atomics.wait` on a shared flag and reads it with `receiveMessageOnPort`, so the engine's API stays
 * synchronous while partitions sent a call at the same time work in parallel.
 */
/**
 * Longest a worker may go without answering or showing progress before the engine gives up on it. A long call (a
 * replay of a large store, at opening or in a rebuild) adds to the worker's progress word as it goes, so its length
 * is not limited; only silence is.
 */
const SILENCE_TIMEOUT_MS = 10 * 60_000;

export class WorkerThreadLink implements PartitionLink {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  /** Word 0: 0 waiting, 1 answered, 2 the worker stopped. Word 1: the worker's progress count (see `PartitionHostOptions.progress`). */
  private readonly flag = new Int32Array(new SharedArrayBuffer(8));
  private pending = false;

  constructor(init: PartitionInit) {
    const channel = new MessageChannel();
    this.port = channel.port1;
    // execArgv: [] so the worker resolves packages as a plain Node process does (not with a test runner's conditions).
    this.worker = new Worker(workerFile(), { workerData: { init, port: channel.port2, flag: this.flag }, transferList: [channel.port2], execArgv: [] });
    this.worker.unref();
    this.port.unref();
  }

  send(call: PartitionCall): void {
    if (this.pending) throw new Error('a partition call is already pending');
    Atomics.store(this.flag, 0, 0);
    if (call.method === 'rebuild' && call.args[0] && 'compiled' in call.args[0]) {
      call = { method: 'rebuild', args: [definitionsOf(call.args[0].compiled, call.args[0].index)] };
    }
    // Lines travel as their buffer, moved to the worker rather than copied.
    const transfer = call.method === 'applyLines' ? [call.args[0].bytes.buffer as ArrayBuffer] : [];
    this.port.postMessage(call, transfer);
    this.pending = true;
  }

  take(): unknown {
    this.pending = false;
    // The waiting thread cannot see a worker's 'error' event, so a worker that never answers (it failed to start,
    // or hangs) must end the wait: a refusal after this long instead of an engine blocked for good.
    let progress = Atomics.load(this.flag, 1);
    let deadline = Date.now() + SILENCE_TIMEOUT_MS;
    for (;;) {
      const now = Atomics.load(this.flag, 1);
      if (now !== progress) {
        progress = now;
        deadline = Date.now() + SILENCE_TIMEOUT_MS;
      } else if (Date.now() > deadline) {
        throw new CaregapsError('CG_ENGINE_PARTITION', `the partition worker neither answered nor made progress for ${SILENCE_TIMEOUT_MS / 1000} s`);
      }
      Atomics.wait(this.flag, 0, 0, 1000);
      const received = receiveMessageOnPort(this.port);
      if (received) {
        const answer = received.message as WorkerAnswer;
        if ('error' in answer) throw new CaregapsError((answer.error.code as 'CG_ENGINE_PARTITION' | undefined) ?? 'CG_ENGINE_PARTITION', `partition worker: ${answer.error.message}`);
        return answer.result;
      }
      if (Atomics.load(this.flag, 0) === 2) throw new CaregapsError('CG_ENGINE_PARTITION', 'the partition worker stopped');
    }
  }

  end(): void {
    this.port.close();
    void this.worker.terminate();
  }
}
