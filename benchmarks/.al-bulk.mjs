import { achievementDay, loadRegistries } from '@caregaps/core';
import { join } from 'node:path';
import { Engine } from '../packages/engine/dist/index.js';
import { Population } from '../packages/synthetic/dist/index.js';
import { ROOT } from './lib.mjs';
const patients = Number(process.argv[2] ?? 10000);
const loaded = loadRegistries(join(ROOT, 'registries'), join(ROOT, 'codesets'));
const population = new Population({ patients, recordsPerPatient: 100, seed: 1, codesets: join(ROOT, 'codesets') });
const chunks = [...population.ndjson()].map((c) => c.bytes);
for (const [label, opts] of [['in-thread 1', { partitions: 1, workerThreads: false }], ['workers 2', { partitions: 2, workerThreads: true }], ['in-thread 1', { partitions: 1, workerThreads: false }], ['workers 2', { partitions: 2, workerThreads: true }]]) {
  const engine = new Engine({ ...loaded, asOf: '2025-03-31', organisations: population.organisations, ...opts });
  let t = process.hrtime.bigint();
  const s = await engine.ingestNdjson(chunks.map((c) => c.slice()), { bulk: true });
  const ingest = Number(process.hrtime.bigint() - t) / 1e6;
  t = process.hrtime.bigint(); engine.recomputeAll(); const rec = Number(process.hrtime.bigint() - t) / 1e6;
  console.log(`${label}: ingest ${(s.accepted / ingest * 1000).toFixed(0)} records/s (${ingest.toFixed(0)} ms), recompute ${rec.toFixed(0)} ms`);
  engine.close();
}
