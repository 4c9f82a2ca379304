// Where a partition's time goes: the engine with its partitions on this thread (`workerThreads: false`), so one CPU
// profile sees everything a worker thread would do — loading the generator's NDJSON through `ingestNdjson` with the
// record store on, then a rebuild — summarised by self time and by package. The engine benchmark's profiles see only
// the main thread, which waits for its partitions.
// Usage: node benchmarks/engine-profile.mjs [--patients 10000] [--records-per-patient 100] [--partitions 1]
import { achievementDay, loadRegistries } from '@caregaps/core';
import { mkdtempSync, rmSync } from 'node:fs';
import { Session } from 'node:inspector';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../packages/engine/dist/index.js';
import { Population } from '../packages/synthetic/dist/index.js';
import { ROOT, load, option } from './lib.mjs';

const patients = option('patients', 10_000);
const recordsPerPatient = option('records-per-patient', 100);
const partitions = option('partitions', 1);
const work = mkdtempSync(join(tmpdir(), 'caregaps-bench-profile-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

const loaded = loadRegistries(join(ROOT, 'registries'), join(ROOT, 'codesets'));
const population = new Population({ patients, recordsPerPatient, seed: 1, codesets: join(ROOT, 'codesets') });
// Generated first, so the profile holds the engine's work alone.
const chunks = [...population.ndjson()].map((c) => c.bytes);
const engine = new Engine({ ...loaded, asOf: achievementDay('2025-03-31'), organisations: population.organisations, partitions, workerThreads: false, store: { directory: join(work, 'store') } });

const session = new Session();
session.connect();
const post = (method, params) => new Promise((resolve, reject) => session.post(method, params, (e, r) => (e ? reject(e) : resolve(r))));
async function profile(label, fn) {
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 200 });
  await post('Profiler.start');
  const t = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  const result = await fn();
  const wallMs = Number(process.hrtime.bigint() - t) / 1e6;
  const used = process.cpuUsage(cpu);
  const { profile: p } = await post('Profiler.stop');
  const nodes = new Map(p.nodes.map((n) => [n.id, n]));
  const byFunction = new Map();
  const byPlace = new Map();
  let total = 0;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    const f = nodes.get(id).callFrame;
    const file = f.url.split('/').slice(-3).join('/');
    const key = `${f.functionName || '(anonymous)'} ${file.split('/').slice(-1)[0]}:${f.lineNumber + 1}`;
    const place = f.url.includes('/lmdb/') || f.url.includes('/ordered-binary/') || f.url.includes('msgpackr') ? 'lmdb-js' : f.url.includes('/engine/dist/') ? 'engine' : f.url.includes('/core/dist/') ? 'core' : f.url === '' ? f.functionName || '(native)' : 'other';
    byFunction.set(key, (byFunction.get(key) ?? 0) + dt);
    byPlace.set(place, (byPlace.get(place) ?? 0) + dt);
    total += dt;
  });
  const share = (m, n) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${k} ${((100 * v) / total).toFixed(1)} %`).join('; ');
  console.log(`## ${label}: ${result} in ${(wallMs / 1000).toFixed(1)} s wall, ${((used.user + used.system) / 1000 / 1000).toFixed(1)} s CPU`);
  console.log(`by place: ${share(byPlace, 8)}`);
  console.log(`by function: ${share(byFunction, 15)}\n`);
}

console.log(`# engine-profile: ${patients} patients × ${recordsPerPatient}, ${partitions} partition(s) on this thread, store on; load ${load().join(', ')}\n`);
let records = 0;
await profile('load (ingestNdjson, bulk)', async () => {
  const summary = await engine.ingestNdjson((async function* () { yield* chunks; })(), { bulk: true });
  records = summary.accepted + summary.quarantined;
  return `${records} records`;
});
await profile('recompute', async () => {
  await engine.recomputeAll();
  return 'all patients';
});
await profile('rebuild', async () => {
  await engine.rebuild();
  return `${records} records`;
});
await engine.close();
console.log(`load at the end ${load().join(', ')}`);
