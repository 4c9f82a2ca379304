/**
 * Child process for the crash test: ingests records[start..] from a JSON file into a durable engine and prints
 * "ack <n>" after each acknowledged batch (n counted from `start`). The parent kills it with SIGKILL at random.
 */
import { readFileSync, writeSync } from 'node:fs';
import { loadRegistries, type CaregapsRecord } from '@caregaps/core';
import { Engine } from '../src/index.js';

const [storeDir, recordsFile, startText, registriesDir, codesetsDir] = process.argv.slice(2);
const records = JSON.parse(readFileSync(recordsFile!, 'utf8')) as CaregapsRecord[];
const loaded = loadRegistries(registriesDir!, codesetsDir!);
// Two partitions on worker threads: a kill can fall while either commits.
const engine = new Engine({ ...loaded, asOf: '2025-03-31', store: { directory: storeDir! }, partitions: 2, workerThreads: true });
async function* slowly(): AsyncGenerator<CaregapsRecord> {
  for (let i = Number(startText); i < records.length; i++) {
    if (i % 20 === 0) await new Promise((resolve) => setImmediate(resolve));
    yield records[i]!;
  }
}
await engine.ingest(slowly(), { batchSize: 25, onAcknowledged: (n) => writeSync(1, `ack ${n}\n`) });
engine.close();
writeSync(1, 'done\n');
