import { achievementDay, formatDay, loadRegistries } from '@caregaps/core';
import { join } from 'node:path';
import { Engine } from '../packages/engine/dist/index.js';
import { Population } from '../packages/synthetic/dist/index.js';
import { ROOT, quantile } from './lib.mjs';
const patients = 5000, samples = Number(process.argv[2] ?? 30000), partitions = Number(process.argv[3] ?? 2);
const loaded = loadRegistries(join(ROOT, 'registries'), join(ROOT, 'codesets'));
const asOfDay = achievementDay('2025-03-31');
const population = new Population({ patients, recordsPerPatient: 100, seed: 1, codesets: join(ROOT, 'codesets') });
const chunks = [...population.ndjson()].map((c) => c.bytes);
const numbers = [], sampled = [];
for (const group of population.records({ from: 0, to: 2000 })) { numbers.push(group[0].nhsNumber); group.forEach((r, i) => r.kind === 'event' && i % 10 === 0 && sampled.push(r)); }
let seed = 42; const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296;
const records = [];
for (let i = 0; i < samples + 5000; i++) { const like = sampled[Math.floor(rnd() * sampled.length)]; const e = { kind: 'event', id: `x:${i}`, nhsNumber: numbers[Math.floor(rnd() * numbers.length)], code: like.code, date: formatDay(asOfDay - Math.floor(rnd() * 365)), source: 'bench' }; if (like.value !== undefined) e.value = like.value; if (like.values) e.values = like.values; records.push(e); }
const engine = new Engine({ ...loaded, asOf: '2025-03-31', organisations: population.organisations, partitions, workerThreads: false });
await engine.ingestNdjson(chunks, { bulk: true });
for (let i = 0; i < 5000; i++) engine.apply(records[i]);
const times = new Float64Array(samples);
const t0 = process.hrtime.bigint();
for (let i = 0; i < samples; i++) { const t = process.hrtime.bigint(); engine.apply(records[5000 + i]); times[i] = Number(process.hrtime.bigint() - t) / 1000; }
const total = Number(process.hrtime.bigint() - t0) / 1000 / samples;
const raw = Float64Array.from(times); const idx = [...raw.keys()].sort((a,b)=>raw[b]-raw[a]).slice(0,40); console.log(idx.map(i=>`${i}:${raw[i].toFixed(0)}`).join(' '));
times.sort();
console.log(`mean ${total.toFixed(1)} p50 ${quantile(times, .5)} p90 ${quantile(times, .9)} p99 ${quantile(times, .99)} p99.9 ${quantile(times, .999)}`);
engine.close();
// slowest
