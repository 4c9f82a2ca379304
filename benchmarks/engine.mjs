// The incremental engine at population scale (issue 10): a generated NCL population at about 100 records per patient
// loaded from NDJSON into an engine with its record store on, then sustained ingest, per-record latency, full
// recompute, advancing the date, rebuild from the record store, and memory — all in one run, with the machine's load.
//
// Usage: node --expose-gc benchmarks/engine.mjs [--patients 1800000] [--records-per-patient 100] [--partitions n]
//          [--stream 1000000] [--latency 200000] [--parse-floor 5000000] [--runs 5] [--no-store] [--raw]
// (--raw loads the file with engine.ingestFile, the raw-bytes path, instead of readRecords into engine.ingest.)
// (`pnpm bench engine -- …` runs it; add --save to replace the committed results.) Needs built packages (`pnpm build`).
import { achievementDay, formatDay, loadRegistries, readRecords } from '@caregaps/core';
import { execFileSync } from 'node:child_process';
import { createReadStream, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { Session } from 'node:inspector';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as engineModule from '../packages/engine/dist/index.js';
import { load, median, population, quantile, ROOT, writeResults } from './lib.mjs';

const { Engine } = engineModule;
const option = (name, fallback) => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? Number(String(process.argv[at + 1]).replaceAll('_', '')) : fallback;
};
const patients = option('patients', 1_800_000);
const recordsPerPatient = option('records-per-patient', 100);
const partitions = option('partitions', undefined);
const streamRecords = option('stream', 1_000_000);
const latencySamples = option('latency', 200_000);
const parseFloorLines = option('parse-floor', 5_000_000);
const RUNS = option('runs', 5);
const withStore = !process.argv.includes('--no-store');
const rawPath = process.argv.includes('--raw');
if (typeof global.gc !== 'function') throw new Error('run with node --expose-gc');

const started = Date.now();
const log = (...a) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0)} s] ${a.join(' ')}\n`);
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
const loadAtStart = load();
let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 200);
const memoryNow = () => {
  global.gc();
  global.gc();
  const m = process.memoryUsage();
  peakRss = Math.max(peakRss, m.rss);
  return m;
};

// ---- the population file ----------------------------------------------------------------------------------------
let t0 = process.hrtime.bigint();
const files = await population(patients, recordsPerPatient);
const fileBytes = statSync(files.records).size;
log(`population file ${files.records} (${(fileBytes / 1e9).toFixed(2)} GB) ready in ${(ms(t0) / 1000).toFixed(0)} s`);
const organisations = readFileSync(files.organisations, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const loaded = loadRegistries(join(ROOT, 'registries'), join(ROOT, 'codesets'));
const asOf = '2025-03-31';
const asOfDay = achievementDay(asOf);

// ---- the NDJSON parse floor: read, decode, split and JSON.parse, nothing else, on the same file -------------------
async function parseFloor(limit) {
  let lines = 0;
  let rest = '';
  const t = process.hrtime.bigint();
  for await (const chunk of createReadStream(files.records, { encoding: 'utf8', highWaterMark: 1 << 20 })) {
    const text = rest + chunk;
    let from = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', from)) {
      JSON.parse(text.slice(from, nl));
      from = nl + 1;
      if (++lines >= limit) return lines / (ms(t) / 1000);
    }
    rest = text.slice(from);
  }
  return lines / (ms(t) / 1000);
}
const parseFloorRuns = [];
for (let i = 0; i < 3; i++) parseFloorRuns.push(await parseFloor(Math.min(parseFloorLines, patients * recordsPerPatient)));
const parseFloorRate = median(parseFloorRuns);
log(`parse floor ${Math.round(parseFloorRate)} lines/s over the first ${Math.min(parseFloorLines, patients * recordsPerPatient)} lines (median of 3)`);

// ---- the CPU profile of a phase (the main thread), summarised by self time ----------------------------------------
const session = new Session();
session.connect();
const post = (method, params) => new Promise((resolve, reject) => session.post(method, params, (e, r) => (e ? reject(e) : resolve(r))));
async function profiled(fn) {
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 500 });
  await post('Profiler.start');
  const value = await fn();
  const { profile } = await post('Profiler.stop');
  const self = new Map();
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    const f = nodes.get(id).callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + dt);
    total += dt;
  });
  const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([fn, t]) => ({ fn, share: Math.round((1000 * t) / total) / 10 }));
  return { value, top };
}

// ---- loading: NDJSON file → record store → hot state (the engine's file path: readRecords into ingest) -------------
const heapBefore = memoryNow();
const storeDir = mkdtempSync(join(tmpdir(), 'caregaps-bench-store-'));
const engine = new Engine({
  ...loaded,
  asOf,
  organisations,
  ...(withStore ? { store: { directory: storeDir } } : {}),
  ...(partitions ? { partitions } : {}),
});
t0 = process.hrtime.bigint();
let acknowledged = 0;
const progress = setInterval(() => log(`loading: ${acknowledged.toLocaleString('en-GB')} records acknowledged, rss ${(process.memoryUsage.rss() / 2 ** 30).toFixed(1)} GiB`), 30_000);
const loadOptions = { bulk: true, onAcknowledged: (n) => (acknowledged = n) };
const summary = rawPath ? await engine.ingestFile(files.records, loadOptions) : await engine.ingest(readRecords(files.records), loadOptions);
clearInterval(progress);
const loadMs = ms(t0);
const records = summary.accepted + summary.quarantined;
const fileToDurableRate = records / (loadMs / 1000);
log(`loaded ${records} records (${summary.quarantined} quarantined) in ${(loadMs / 1000).toFixed(1)} s: ${Math.round(fileToDurableRate)} records/s (${rawPath ? 'ingestFile' : 'readRecords into ingest'})`);

const heapAfter = memoryNow();
const hot = typeof engine.memory === 'function' ? engine.memory() : undefined;
const relevantEvents = hot?.relevantEvents;
const heapGrowth = heapAfter.heapUsed + heapAfter.arrayBuffers - heapBefore.heapUsed - heapBefore.arrayBuffers;
// Judged on the larger of the engine's own count (its typed arrays, in every partition) and what the main thread's
// heap and array buffers grew by over the load (everything else the engine keeps: maps, strings, caches).
const hotBytes = Math.max(hot?.bytes ?? 0, heapGrowth);
log(`memory: engine reports ${hot ? hot.bytes : 'nothing'} B for ${hot?.patients} patients and ${relevantEvents} relevant events; main-thread heap + array buffers grew ${heapGrowth} B; rss ${heapAfter.rss}`);

// ---- the stream: new records for patients already loaded -----------------------------------------------------------
// Events copy the code and value of events sampled from the file (so the mix of relevant and background codes is the
// population's), for random loaded patients, with new ids and dates in the last year; 5 % correct an earlier one.
const sampled = [];
for await (const item of readRecords(files.records)) {
  if (item.ok && item.record.kind === 'event') sampled.push(item.record);
  if (sampled.length >= 200_000) break;
}
const numbers = [];
for await (const item of readRecords(files.records)) {
  if (item.ok && item.record.kind === 'patient') numbers.push(item.record.nhsNumber);
  if (numbers.length >= Math.min(patients, 200_000)) break;
}
let seed = 42;
const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296;
const stream = [];
const total = streamRecords + latencySamples;
for (let i = 0; i < total; i++) {
  if (rnd() < 0.05 && i > 0) {
    const earlier = stream[Math.floor(rnd() * stream.length)];
    stream.push({ ...earlier, date: formatDay(asOfDay - Math.floor(rnd() * 365)) });
    continue;
  }
  const like = sampled[Math.floor(rnd() * sampled.length)];
  const e = { kind: 'event', id: `stream:${i}`, nhsNumber: numbers[Math.floor(rnd() * numbers.length)], code: like.code, date: formatDay(asOfDay - Math.floor(rnd() * 365)), source: 'bench' };
  if (like.value !== undefined) e.value = like.value;
  if (like.values !== undefined) e.values = like.values;
  if (like.unit !== undefined) e.unit = like.unit;
  stream.push(e);
}

// ---- the record store's own floor beside the figures: benchmarks/store.mjs (raw LMDB puts, binary and msgpack values,
// and the RecordStore), on records of this population ------------------------------------------------------------------
let storeFloor;
const storeBench = join(ROOT, 'benchmarks', 'store.mjs');
if (existsSync(storeBench)) {
  const { storeBenchmark } = await import(pathToFileURL(storeBench).href);
  storeFloor = await storeBenchmark(stream.slice(0, 50_000), { runs: 3 });
}
if (storeFloor) log(`store floor ${JSON.stringify(storeFloor.medians)}`);

// ---- sustained ingest into the loaded engine, record store on (records given as parsed objects) -------------------
const slice = Math.floor(streamRecords / (RUNS + 1));
let at = 0;
const ingestSlice = async () => {
  const part = stream.slice(at, at + slice);
  at += slice;
  const t = process.hrtime.bigint();
  await engine.ingest(part);
  return part.length / (ms(t) / 1000);
};
await ingestSlice(); // warm-up
const ingestProfiled = await profiled(async () => {
  const rates = [];
  for (let i = 0; i < RUNS; i++) rates.push(await ingestSlice());
  return rates;
});
const ingestRates = ingestProfiled.value;
log(`ingest ${Math.round(median(ingestRates))} records/s (median of ${RUNS})`);

// ---- per-record latency on the in-memory apply path, beside an idle loop timed the same way ------------------------
at = streamRecords;
const latencies = new Float64Array(latencySamples);
const latencyProfiled = await profiled(() => {
  for (let i = 0; i < latencySamples; i++) {
    const t = process.hrtime.bigint();
    engine.apply(stream[at++]);
    latencies[i] = Number(process.hrtime.bigint() - t) / 1000;
  }
});
latencies.sort();
// The floors: an idle loop (the timer alone) and a fixed computation of a few µs, each timed as often, the same way.
// What they show above zero is what the machine (shared, virtualised) adds to any single measurement.
const idle = new Float64Array(latencySamples);
const fixed = new Float64Array(latencySamples);
let sink = 0;
for (let i = 0; i < latencySamples; i++) {
  let t = process.hrtime.bigint();
  sink = (sink * 31 + i) % 1000003;
  idle[i] = Number(process.hrtime.bigint() - t) / 1000;
  t = process.hrtime.bigint();
  for (let j = 0; j < 2000; j++) sink = (sink * 31 + j) % 1000003;
  fixed[i] = Number(process.hrtime.bigint() - t) / 1000;
}
idle.sort();
fixed.sort();
log(`latency p50 ${quantile(latencies, 0.5)} p99 ${quantile(latencies, 0.99)} p99.9 ${quantile(latencies, 0.999)} µs; idle p99 ${quantile(idle, 0.99)} µs; fixed computation p50/p99 ${quantile(fixed, 0.5)}/${quantile(fixed, 0.99)} µs (${sink})`);

// ---- full recompute, advancing the date, rebuild -------------------------------------------------------------------
const recomputes = [];
for (let i = 0; i < 3; i++) {
  const t = process.hrtime.bigint();
  await engine.recomputeAll();
  recomputes.push(ms(t));
}
const recomputeMs = median(recomputes);
log(`recompute ${recomputeMs.toFixed(0)} ms (median of 3)`);

let day = asOfDay;
const advance = async () => {
  day++;
  const t = process.hrtime.bigint();
  await engine.advanceTo(day);
  return ms(t);
};
const yearStartMs = formatDay(day + 1).endsWith('-04-01') ? await advance() : undefined;
const ordinary = [];
for (let i = 0; i < 7; i++) ordinary.push(await advance());
const advanceDayMs = median(ordinary);
log(`advance one day ${advanceDayMs.toFixed(2)} ms (median of 7)${yearStartMs === undefined ? '' : `; to 1 April ${yearStartMs.toFixed(0)} ms`}`);

let rebuildMs;
// The public rebuild() takes no argument (an older engine had a private per-patient one).
if (typeof engine.rebuild === 'function' && engine.rebuild.length === 0) {
  const t = process.hrtime.bigint();
  await engine.rebuild();
  rebuildMs = ms(t);
  log(`rebuild ${rebuildMs.toFixed(0)} ms`);
}
const storedRecords = records + at;
const rebuildRate = rebuildMs === undefined ? undefined : storedRecords / (rebuildMs / 1000);
const engineCommit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
const enginePatients = engine.patientCount; // asked before close: a closed engine answers nothing
await engine.close?.();
rmSync(storeDir, { recursive: true, force: true });
clearInterval(sampler);
const peakRssBytes = Math.max(peakRss, process.resourceUsage().maxRSS * 1024);
const loadAtEnd = load();

// ---- report ------------------------------------------------------------------------------------------------------
// Split per patient and per relevant event when the engine reports the parts; otherwise all of it is per patient.
const hotStateBytesPerPatient = hot?.perPatient !== undefined && hotBytes === hot.bytes ? hot.perPatient / enginePatients : hotBytes / enginePatients;
const bytesPerRelevantEvent = hot?.events !== undefined && hotBytes === hot.bytes && relevantEvents ? hot.events / relevantEvents : undefined;
const memoryBudget = 1024 * enginePatients + 16 * (relevantEvents ?? 0);
const p = (q) => quantile(latencies, q);
const idleP = (q) => quantile(idle, q);
const target = (met, value, goal, by) => ({ target: goal, value, met, ...(met ? {} : { missedBy: by }) });
const times = (a, b) => `${(a / b).toFixed(1)}×`;
const targets = {
  memory: target(relevantEvents !== undefined && hotBytes <= memoryBudget, hotBytes, '≤ 1 KB per patient + 16 B per relevant event', `${times(hotBytes, memoryBudget)} the budget`),
  ingest: target(median(ingestRates) >= 1e6, median(ingestRates), '≥ 1,000,000 records/s, store on', times(1e6, median(ingestRates))),
  fileToDurable: target(fileToDurableRate * 2 >= parseFloorRate, fileToDurableRate, 'within 2× of the parse floor', `${times(parseFloorRate, fileToDurableRate)} slower than the parse floor`),
  p99: target(p(0.99) <= 20, p(0.99), '≤ 20 µs', `${(p(0.99) - 20).toFixed(1)} µs over`),
  recompute: target(recomputeMs <= 2000, recomputeMs, '≤ 2 s', times(recomputeMs, 2000)),
  advance: target(advanceDayMs <= recomputeMs / 100, (100 * advanceDayMs) / recomputeMs, '≤ 1 % of recompute', `${((100 * advanceDayMs) / recomputeMs).toFixed(2)} %`),
  rebuild: target(rebuildRate !== undefined && rebuildRate >= 1e6, rebuildRate, '≥ 1,000,000 records/s', rebuildRate === undefined ? 'no rebuild in this engine' : times(1e6, rebuildRate)),
};
const f0 = (n) => (n === undefined ? '—' : Math.round(n).toLocaleString('en-GB'));
const f1 = (n) => (n === undefined ? '—' : n.toFixed(1));
const yes = (t) => (t.met ? 'yes' : `no (${t.missedBy})`);
const topLines = (title, top) => [`${title}: ${top.map((t) => `${t.fn} ${t.share} %`).join('; ')}`];
writeResults('engine', {
  title: `Incremental engine — ${f0(enginePatients)} patients, ${f0(records)} records (${f1(records / enginePatients)} per patient)`,
  command: `node --expose-gc benchmarks/engine.mjs ${process.argv.slice(2).join(' ')}`.trim(),
  table: [
    ['measure', 'value', 'target', 'met'],
    ['file → record store → hot state (bulk load of the NDJSON file)', `${f0(fileToDurableRate)} records/s (${f1(loadMs / 1000)} s)`, '', ''],
    ['NDJSON parse floor (read, split, JSON.parse; same file)', `${f0(parseFloorRate)} lines/s`, '', ''],
    ['file-to-durable against the parse floor', `${times(parseFloorRate, fileToDurableRate)} slower`, targets.fileToDurable.target, yes(targets.fileToDurable)],
    [`sustained ingest into the loaded engine (parsed objects, store ${withStore ? 'on' : 'off'})`, `${f0(median(ingestRates))} records/s`, targets.ingest.target, yes(targets.ingest)],
    ...(storeFloor
      ? [
          ['LMDB raw put floor, one thread: binary values / msgpack objects (benchmarks/store.mjs)', `${f0(storeFloor.medians.rawBinary)} / ${f0(storeFloor.medians.rawObject)} puts/s`, '', ''],
          ['RecordStore.writeSync, one thread: received bytes / parsed records', `${f0(storeFloor.medians.storeBytes)} / ${f0(storeFloor.medians.storeObjects)} records/s`, '', ''],
        ]
      : []),
    [`per-record apply latency p50 / p99 / p99.9 (${withStore ? 'store on' : 'in memory'})`, `${f1(p(0.5))} / ${f1(p(0.99))} / ${f1(p(0.999))} µs`, targets.p99.target, yes(targets.p99)],
    ['idle loop timed the same way p50 / p99 / p99.9', `${f1(idleP(0.5))} / ${f1(idleP(0.99))} / ${f1(idleP(0.999))} µs`, '', ''],
    ['a fixed computation of a few µs timed the same way p50 / p99 / p99.9', `${f1(quantile(fixed, 0.5))} / ${f1(quantile(fixed, 0.99))} / ${f1(quantile(fixed, 0.999))} µs`, '', ''],
    ['full recompute from loaded state', `${f0(recomputeMs)} ms`, targets.recompute.target, yes(targets.recompute)],
    ['advance one ordinary day', `${advanceDayMs.toFixed(2)} ms (${targets.advance.value.toFixed(2)} % of recompute)`, targets.advance.target, yes(targets.advance)],
    ...(yearStartMs === undefined ? [] : [['advance to 1 April (a new QOF year: every PPED window moves)', `${f0(yearStartMs)} ms`, '', '']]),
    ['rebuild from the record store', rebuildRate === undefined ? 'not in this engine' : `${f0(rebuildRate)} records/s`, targets.rebuild.target, yes(targets.rebuild)],
    ['hot state', `${f0(hotBytes)} B = ${f0(hotBytes / enginePatients)} B per patient (${f0(relevantEvents)} relevant events; budget ${f0(memoryBudget)} B)`, targets.memory.target, yes(targets.memory)],
    ['peak RSS', `${f1(peakRssBytes / 2 ** 30)} GiB`, 'fits in 24 GB', peakRssBytes < 24e9 ? 'yes' : 'no'],
  ],
  notes: [
    `Population: @caregaps/synthetic, seed 1, ${f0(patients)} patients at ${recordsPerPatient} records per patient on average (${(fileBytes / 1e9).toFixed(2)} GB of NDJSON); achievement date ${asOf}; ${loaded.compiled.length} registries; engine commit ${engineCommit}; partitions ${engine.partitions ?? 1}; record store ${withStore ? 'on' : 'off'}.`,
    `Load average (1/5/15 min) at the start ${loadAtStart.join(', ')} and at the end ${loadAtEnd.join(', ')} on ${process.env.CAREGAPS_BENCH_SHARED ?? 'a 2-core machine shared with other sessions'}; rates are medians of ${RUNS} runs (recompute of 3, advance of 7), latencies over ${f0(latencySamples)} single applies.`,
    `Hot state: the larger of the engine's own count of its typed arrays (engine.memory(): ${hot ? `${f0(hot.bytes)} B` : 'not in this engine'}) and the main thread's heap and array buffers after the load less before (${f0(heapGrowth)} B); worker threads' heaps are not in the second figure. Peak RSS includes the benchmark's own data (the stream of ${f0(total)} records and the samples).`,
    ...topLines('Main-thread profile of sustained ingest (self time)', ingestProfiled.top),
    ...topLines('Main-thread profile of single applies (self time)', latencyProfiled.top),
  ],
  data: {
    patients: enginePatients,
    records,
    recordsPerPatient: records / enginePatients,
    relevantEvents,
    quarantined: summary.quarantined,
    ingestRecordsPerSecond: median(ingestRates),
    ingestRuns: ingestRates,
    fileToDurableRecordsPerSecond: fileToDurableRate,
    loadMs,
    parseFloorRecordsPerSecond: parseFloorRate,
    parseFloorRuns,
    parseFloorLines: Math.min(parseFloorLines, patients * recordsPerPatient),
    storeFloor,
    p50Micros: p(0.5),
    p99Micros: p(0.99),
    p999Micros: p(0.999),
    idleP50Micros: idleP(0.5),
    idleP99Micros: idleP(0.99),
    idleP999Micros: idleP(0.999),
    fixedComputationMicros: { p50: quantile(fixed, 0.5), p99: quantile(fixed, 0.99), p999: quantile(fixed, 0.999) },
    recomputeMs,
    recomputeRuns: recomputes,
    advanceDayMs,
    advanceRuns: ordinary,
    yearStartMs,
    rebuildRecordsPerSecond: rebuildRate,
    rebuildMs,
    hotStateBytes: hotBytes,
    hotStateBytesPerPatient,
    bytesPerRelevantEvent,
    engineMemory: hot,
    mainHeapGrowthBytes: heapGrowth,
    peakRssBytes,
    partitions: engine.partitions ?? 1,
    loadPath: rawPath ? 'ingestFile' : 'readRecords+ingest',
    store: withStore,
    engineCommit,
    load: { start: loadAtStart, end: loadAtEnd },
    fileBytes,
    profile: { ingest: ingestProfiled.top, apply: latencyProfiled.top },
    targets,
  },
});
