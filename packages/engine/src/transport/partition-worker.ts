/**
 * The worker thread of one partition: builds the partition from its init data (compiling the registries here)
 * and answers calls from the engine's thread (see `WorkerThreadLink`).
 */
import { workerData, type MessagePort } from 'node:worker_threads';
import { CodesetIndex, CompiledRegistry } from '@caregaps/core';
import { Partition } from '../partition/partition.js';
import { invoke, type PartitionCall } from './link.js';
import type { PartitionInit, WorkerAnswer } from './worker-thread.js';

const { init, port, flag } = workerData as { init: PartitionInit; port: MessagePort; flag: Int32Array };
const index = new CodesetIndex(init.codesets);
const partition = new Partition(
  init.registries.map((r) => new CompiledRegistry(r, index)),
  index,
  init.day,
  init.explainChanges,
);

port.on('message', (call: PartitionCall) => {
  let answer: WorkerAnswer;
  try {
    answer = { result: invoke(partition, call) };
  } catch (error) {
    const e = error as { message?: string; code?: string };
    answer = { error: { message: e.message ?? String(error), ...(typeof e.code === 'string' ? { code: e.code } : {}) } };
  }
  port.postMessage(answer);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
});
process.on('exit', () => {
  Atomics.store(flag, 0, 2);
  Atomics.notify(flag, 0);
});
