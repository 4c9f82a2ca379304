// Where a partition's time goes: the engine with its partitions on this thread (`workerThreads: false`), so one CPU
// profile sees everything a worker thread would do — loading the generator's NDJSON through `ingestNdjson` with the
// record store on, then a rebuild — summarised by self time and by package. The engine benchmark's profiles see only
// the main thread, which waits for its partitions.
// Then sustained ingest of parsed objects into the loaded engine (`engine.ingest`, new events for loaded patients, as
// the engine benchmark streams them).
// Usage: node benchmarks/engine-profile.mjs [--patients 10000] [--records-per-patient 100] [--partitions 1]
//          [--stream 200000] [--no-sync]
// --no-sync: the engine without a durable store (its private store commits without flushing), so the profile shows
// the CPU cost alone, apart from the disk's flush latency.
import { achievementDay, formatDay, loadRegistries } from '@caregaps/core';
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
const streamRecords = option('stream', 200_000);
const durable = !process.argv.includes('--no-sync');
const work = mkdtempSync(join(tmpdir(), 'caregaps-bench-profile-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

const loaded = loadRegistries(join(ROOT, 'registries'), join(ROOT, 'codesets'));
const population = new Population({ patients, recordsPerPatient, seed: 1, codesets: join(ROOT, 'codesets') });
// Generated first, so the profile holds the engine's work alone.
const chunks = [...population.ndjson()].map((c) => c.bytes);
const engine = new Engine({ ...loaded, asOf: achievementDay('2025-03-31'), organisations: population.organisations, partitions, workerThreads: false, ...(durable ? { store: { directory: join(work, 'store') } } : {}) });

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
  const cpuS = (used.user + used.system) / 1e6;
  // A number is a count of records: its rates per second of wall time and of CPU time are given too.
  const what = typeof result === 'number' ? `${result} records, ${Math.round(result / (wallMs / 1000)).toLocaleString('en-GB')} per s, ${Math.round(result / cpuS).toLocaleString('en-GB')} per CPU-s,` : result;
  console.log(`## ${label}: ${what} in ${(wallMs / 1000).toFixed(1)} s wall, ${cpuS.toFixed(1)} s CPU`);
  console.log(`by place: ${share(byPlace, 8)}`);
  console.log(`by function: ${share(byFunction, 15)}\n`);
}

console.log(`# engine-profile: ${patients} patients × ${recordsPerPatient}, ${partitions} partition(s) on this thread, store on${durable ? '' : ' without flushing (--no-sync)'}; load ${load().join(', ')}\n`);
let records = 0;
await profile('load (ingestNdjson, bulk)', async () => {
  const summary = await engine.ingestNdjson((async function* () { yield* chunks; })(), { bulk: true });
  records = summary.accepted + summary.quarantined;
  return records;
});
{
  // New events for loaded patients: codes and values of every tenth loaded event, new ids, dates in the last year;
  // 5 % repeat an earlier one with another date (a correction), as the engine benchmark's stream.
  const numbers = [];
  const sampled = [];
  for (const group of population.records({ from: 0, to: patients })) {
    numbers.push(group[0].nhsNumber);
    group.forEach((r, i) => r.kind === 'event' && i % 10 === 0 && sampled.push(r));
  }
  let seed = 42;
  const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296;
  const asOfDay = achievementDay('2025-03-31');
  const stream = [];
  for (let i = 0; i < streamRecords; i++) {
    if (rnd() < 0.05 && i > 0) {
      stream.push({ ...stream[Math.floor(rnd() * stream.length)], date: formatDay(asOfDay - Math.floor(rnd() * 365)) });
      continue;
    }
    const like = sampled[Math.floor(rnd() * sampled.length)];
    const e = { kind: 'event', id: `stream:${i}`, nhsNumber: numbers[Math.floor(rnd() * numbers.length)], code: like.code, date: formatDay(asOfDay - Math.floor(rnd() * 365)), source: 'bench' };
    if (like.value !== undefined) e.value = like.value;
    if (like.values !== undefined) e.values = like.values;
    if (like.unit !== undefined) e.unit = like.unit;
    stream.push(e);
  }
  await profile('sustained ingest (engine.ingest of parsed objects)', async () => {
    const summary = await engine.ingest(stream);
    return summary.accepted + summary.quarantined;
  });
}
await profile('recompute', async () => {
  await engine.recomputeAll();
  return 'all patients';
});
await profile('rebuild', async () => {
  await engine.rebuild();
  return records + streamRecords;
});
await engine.close();
console.log(`load at the end ${load().join(', ')}`);
