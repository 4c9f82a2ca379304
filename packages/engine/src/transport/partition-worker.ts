/**
 * The worker thread of one partition: opens the partition's host (compiling the registries here) and answers calls
 * from the engine's thread (see `WorkerThreadLink`). A host that fails to open answers every call with that error.
 */
import { workerData, type MessagePort } from 'node:worker_threads';
import { PartitionHost } from '../partition/host.js';
import { compiledOf, invoke, type PartitionCall } from './link.js';
import type { PartitionInit, WorkerAnswer } from './worker-thread.js';

const { init, port, flag } = workerData as { init: PartitionInit; port: MessagePort; flag: Int32Array };

function errorOf(error: unknown): WorkerAnswer {
  const e = error as { message?: string; code?: string };
  return { error: { message: e.message ?? String(error), ...(typeof e.code === 'string' ? { code: e.code } : {}) } };
}

let host: PartitionHost | undefined;
let failure: WorkerAnswer | undefined;
try {
  const { compiled, index } = compiledOf(init.rules);
  host = PartitionHost.open({ ...init.options, registries: compiled, index, progress: () => void Atomics.add(flag, 1, 1) });
} catch (error) {
  failure = errorOf(error);
}

function answer(message: WorkerAnswer, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
}

port.on('message', (call: PartitionCall) => {
  if (!host) return answer(failure!);
  let result: unknown;
  try {
    result = invoke(host, call);
  } catch (error) {
    return answer(errorOf(error));
  }
  if (result instanceof Promise) {
    result.then(
      (value: unknown) => answer({ result: value }),
      (error: unknown) => answer(errorOf(error)),
    );
  } else answer({ result });
});
process.on('exit', () => {
  Atomics.store(flag, 0, 2);
  Atomics.notify(flag, 0);
});
