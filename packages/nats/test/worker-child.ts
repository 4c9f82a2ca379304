/**
 * A worker process for the fault tests (they kill it with SIGKILL, pause it with SIGSTOP, or stop it with
 * SIGTERM). It prints one JSON line per event and per commit on stdout, so the test can strike mid-batch.
 */
import { loadRegistries } from '@caregaps/core';
import { ClusterWorker } from '../src/index.js';

const { registries, codesets, ...options } = JSON.parse(process.argv[2]!) as { servers: string; cluster: string; store: string; id: string; batchSize?: number; registries: string; codesets: string };
const print = (line: object) => process.stdout.write(JSON.stringify(line) + '\n');
const { compiled, index } = loadRegistries(registries, codesets);
const worker = await ClusterWorker.start({
  ...options,
  compiled,
  index,
  log: (event) => print({ event: event.kind, partition: event.partition, message: event.message }),
  onCommitted: (partition, applied, count) => print({ commit: partition, applied, count }),
});
print({ event: 'started', id: worker.id });
process.once('SIGTERM', () => void worker.stop());
const failure = await worker.done;
print({ event: 'exit', failure: failure?.message ?? null });
process.exit(failure ? 1 : 0);
