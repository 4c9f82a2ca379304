// Engine memory and CPU at realistic density (issue 10): the synthetic population plus background events (codes in
// no cluster the registries read, from ../shared/codelists) and repeated relevant events (~62 records per patient).
// Usage (repository root, after pnpm build): node --expose-gc benchmarks/engine-density.mjs [patients=20000] [extraPerPatient=60] [partitions]
import { formatDay, achievementDay, loadRegistries } from '../packages/core/dist/index.js';
import { readFileSync } from 'node:fs';
import { Engine } from '../packages/engine/dist/index.js';
import { Population } from '../packages/synthetic/dist/index.js';

const patients = Number(process.argv[2] ?? 20000);
const extra = Number(process.argv[3] ?? 60);
const partitions = process.argv[4] === undefined ? undefined : Number(process.argv[4]);
const heap = () => { global.gc(); global.gc(); return process.memoryUsage().heapUsed; };
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const loaded = loadRegistries('registries', 'codesets');
const read = new Set(loaded.compiled.flatMap((r) => [...r.clusters]));
const relevant = (code) => loaded.index.clustersOf(code).some((c) => read.has(c));
const background = [];
for (const f of ['DEM_COD', 'EPIL_COD', 'OSTEO_COD', 'RARTH_COD', 'PALCARE_COD', 'DEPR_COD']) {
  for (const line of readFileSync(`../shared/codelists/opencodelists/${f}.csv`, 'utf8').split('\n').slice(1)) {
    const code = line.split(',')[0];
    if (/^\d+$/.test(code ?? '') && !relevant(code)) background.push(code);
  }
}
let seed = 7;
const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
const population = new Population({ patients, seed: 1 });
const asOf = population.config.extractDate;
const asOfDay = achievementDay(asOf);
const records = [];
let relevantEvents = 0;
for (const group of population.records()) {
  const evs = group.filter((r) => r.kind === 'event');
  const who = group.find((r) => r.kind === 'patient');
  for (const r of group) { records.push(r); if (r.kind === 'event' && relevant(r.code)) relevantEvents++; }
  if (!who) continue;
  for (let k = 0; k < extra; k++) {
    const date = formatDay(asOfDay - Math.floor(rnd() * 3650));
    // 20 % repeat a relevant event of the patient (new id, older date), 80 % background.
    if (evs.length > 0 && rnd() < 0.2) {
      const like = evs[Math.floor(rnd() * evs.length)];
      const e = { ...like, id: `x:${who.nhsNumber}:${k}`, date };
      records.push(e);
      if (relevant(e.code)) relevantEvents++;
    } else records.push({ kind: 'event', id: `x:${who.nhsNumber}:${k}`, nhsNumber: who.nhsNumber, code: background[Math.floor(rnd() * background.length)], date, source: 'bg' });
  }
}
const base = heap();
const engine = new Engine({ ...loaded, asOf, organisations: population.organisations, ...(partitions ? { partitions } : {}) });
let t0 = process.hrtime.bigint();
await engine.ingest(records, { bulk: true });
const loadMs = ms(t0);
const engineHeap = heap() - base;
const recompute = [];
for (let i = 0; i < 3; i++) { t0 = process.hrtime.bigint(); await engine.recomputeAll(); recompute.push(ms(t0)); }
// Per-record apply: new relevant events for random patients.
const people = records.filter((r) => r.kind === 'patient');
const rel = records.filter((r) => r.kind === 'event' && relevant(r.code));
const lat = [];
for (let i = 0; i < 20000; i++) {
  const like = rel[Math.floor(rnd() * rel.length)];
  const who = people[Math.floor(rnd() * people.length)];
  const e = { ...like, id: `s:${i}`, nhsNumber: who.nhsNumber, date: formatDay(asOfDay - Math.floor(rnd() * 365)) };
  const t = process.hrtime.bigint();
  await engine.apply(e);
  lat.push(Number(process.hrtime.bigint() - t) / 1000);
}
lat.sort((a, b) => a - b);
const mem = engine.memory?.();
const out = { hotStateBytesPerPatient: mem && Math.round((mem.bytes) / patients), hotRelevantEvents: mem?.relevantEvents, patients, records: records.length, relevantEvents, loadMs: Math.round(loadMs), loadRecordsPerSecond: Math.round(records.length / loadMs * 1000),
  engineHeapBytes: engineHeap, heapPerPatient: Math.round(engineHeap / patients), heapPerRecord: +(engineHeap / records.length).toFixed(1),
  recomputeMs: Math.round(median(recompute)), applyP50Micros: +lat[lat.length >> 1].toFixed(1), applyP99Micros: +lat[Math.floor(lat.length * 0.99)].toFixed(1),
  rss: process.memoryUsage().rss, load: (await import('node:os')).loadavg()[0].toFixed(1) };
console.log(JSON.stringify(out));
await engine.close?.();
