// The incremental engine at population scale (issue 10), all in one run on one machine, with its load:
//  1. the generator alone (records per CPU-second), so it is known not to be the bottleneck;
//  2. a slice file: the population's last patients written as NDJSON (millions of lines), and the bare NDJSON parse
//     floor measured on it; the record store's raw put floor (benchmarks/store.mjs) on its records;
//  3. the load: every other patient streamed from the generator (worker threads, NDJSON bytes as a file holds them)
//     into an engine with its record store on, partitions on worker threads, through its raw-bytes path — no 23 GB
//     file on the disk beside the store;
//  4. file-to-durable: the slice file ingested from disk into the loaded engine (NDJSON → record store → hot state);
//  5. hot state, sustained ingest of parsed records into the loaded engine, per-record apply latency beside an idle
//     loop timed the same way, full recompute, advancing one ordinary day, rebuild from the record store.
// Progress goes to stderr; the figures measured so far are written after every phase to
// benchmarks/.data/results/engine.partial.json; the benchmark's own directory (store and slice file) is removed at
// the end, on failure and on Ctrl-C. It stops early, saying why, when the disk or memory would run out.
//
// Usage: node --expose-gc benchmarks/engine.mjs [--patients 1800000] [--records-per-patient 100] [--partitions n]
//          [--slice-patients 50000] [--generator-threads 1] [--stream 1000000] [--latency 200000] [--runs 5]
//          [--store-root <dir>] [--no-store]
// (`pnpm bench engine -- …` runs it; add --save to replace the committed results.) Needs built packages (`pnpm build`).
import { achievementDay, formatDay, loadRegistries, readRecords } from '@caregaps/core';
import { execFileSync } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Engine } from '../packages/engine/dist/index.js';
import { Population, parallelNdjson } from '../packages/synthetic/dist/index.js';
import { DATA, ROOT, freeBytes, load, median, option, processMemory, progress, quantile, workerRoundTrips, writeResults, selfTimeProfiler } from './lib.mjs';

const patients = option('patients', 1_800_000);
const recordsPerPatient = option('records-per-patient', 100);
const partitions = option('partitions', availableParallelism());
const slicePatients = Math.min(option('slice-patients', 50_000), Math.floor(patients / 2));
const generatorThreads = option('generator-threads', 1);
const streamRecords = option('stream', 1_000_000);
const latencySamples = option('latency', 200_000);
const durableLatencySamples = option('durable-latency', 2_000);
const RUNS = option('runs', 5);
const withStore = !process.argv.includes('--no-store');
const storeRoot = process.argv.includes('--store-root') ? process.argv[process.argv.indexOf('--store-root') + 1] : tmpdir();
if (typeof global.gc !== 'function') throw new Error('run with node --expose-gc');
/** Stop before the disk is full or memory runs out on this 24 GB machine (other sessions share it). */
const MIN_FREE_DISK = 3e9;
const MAX_ANON_RSS = 20 * 2 ** 30;
/** What the record store takes per record, at most, for the up-front disk check (received bytes, keys, index, pages). */
const STORE_BYTES_PER_RECORD_ESTIMATE = 300;

const log = progress();
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
const uptime = () => execFileSync('uptime', { encoding: 'utf8' }).trim();
const uptimeAtStart = uptime();
const loadAtStart = load();
log(`uptime: ${uptimeAtStart}`);

// ---- the run's own directory, its clean-up, and the partial results -----------------------------------------------
mkdirSync(storeRoot, { recursive: true });
const work = mkdtempSync(join(storeRoot, 'caregaps-bench-engine-'));
const storeDir = join(work, 'store');
const sliceFile = join(work, 'slice.ndjson');
let phase = 'setting up';
let cleaned = false;
const cleanUp = () => {
  if (cleaned) return;
  cleaned = true;
  rmSync(work, { recursive: true, force: true });
};
process.on('exit', cleanUp);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    log(`${signal} while ${phase}: removing ${work} and stopping`);
    cleanUp();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  });
}
const figures = { patients, recordsPerPatientAsked: recordsPerPatient, partitions, store: withStore, uptimeAtStart };
const checkpoint = () => {
  mkdirSync(join(DATA, 'results'), { recursive: true });
  writeFileSync(join(DATA, 'results', 'engine.partial.json'), JSON.stringify({ phase, at: new Date().toISOString(), ...figures }, null, 2) + '\n');
};
/** Stops the run with a message that says where and why (memory figures included), after cleaning up. */
const fail = (message) => {
  const m = processMemory();
  log(`FAILED while ${phase}: ${message}`);
  log(`memory: resident ${(m.rss / 2 ** 30).toFixed(1)} GiB (anonymous ${(m.anon / 2 ** 30).toFixed(1)}, file ${(m.file / 2 ** 30).toFixed(1)}), peak ${(m.peak / 2 ** 30).toFixed(1)} GiB; main heap ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB; free disk ${(freeBytes(storeRoot) / 1e9).toFixed(1)} GB`);
  figures.failure = { phase, message, memory: m };
  checkpoint();
  cleanUp();
  process.exit(1);
};
process.on('uncaughtException', (error) => fail(error.stack ?? String(error)));
process.on('unhandledRejection', (error) => fail(error?.stack ?? String(error)));
let peakAnon = 0;
const guard = setInterval(() => {
  const m = processMemory();
  peakAnon = Math.max(peakAnon, m.anon);
  if (m.anon > MAX_ANON_RSS) fail(`anonymous resident memory reached ${(m.anon / 2 ** 30).toFixed(1)} GiB (the limit is ${MAX_ANON_RSS / 2 ** 30} GiB on this shared 24 GB machine)`);
  if (withStore && freeBytes(storeRoot) < MIN_FREE_DISK) fail(`less than ${MIN_FREE_DISK / 1e9} GB free on the disk of ${storeRoot}`);
}, 1000);
guard.unref();

/** NDJSON bytes per record, at most, for the slice file (the rest of the population is streamed, never written). */
const NDJSON_BYTES_PER_RECORD_ESTIMATE = 130;
const estimate = patients * recordsPerPatient * (withStore ? STORE_BYTES_PER_RECORD_ESTIMATE : 0) + slicePatients * recordsPerPatient * NDJSON_BYTES_PER_RECORD_ESTIMATE;
if (freeBytes(storeRoot) < estimate + MIN_FREE_DISK) {
  fail(`the run needs about ${(estimate / 1e9).toFixed(0)} GB on the disk of ${storeRoot} (store and slice file) and ${(freeBytes(storeRoot) / 1e9).toFixed(0)} GB are free: give --store-root on a larger disk, or fewer --patients`);
}

const loaded = loadRegistries(join(ROOT, 'registries'), join(ROOT, 'codesets'));
const asOf = '2025-03-31';
const asOfDay = achievementDay(asOf);
const populationOptions = { patients, recordsPerPatient, seed: 1, codesets: join(ROOT, 'codesets') };
const population = new Population(populationOptions);

// ---- 1. the generator alone, on this thread: records per second of CPU ---------------------------------------------
phase = 'timing the generator';
{
  const sample = Math.min(patients, 20_000);
  const cpu = process.cpuUsage();
  const t = process.hrtime.bigint();
  let records = 0;
  for (const chunk of population.ndjson(1 << 20, { from: 0, to: sample })) records = chunk.records;
  const used = process.cpuUsage(cpu);
  figures.generator = { patients: sample, records, wallMs: ms(t), cpuMs: (used.user + used.system) / 1000 };
  figures.generator.recordsPerCpuSecond = records / (figures.generator.cpuMs / 1000);
  log(`generator: ${Math.round(figures.generator.recordsPerCpuSecond).toLocaleString('en-GB')} records per CPU-second on one thread (${sample} patients)`);
}

// ---- 2. the slice file, the parse floor on it, the store's put floor -----------------------------------------------
phase = 'writing the slice file';
const sliceFrom = patients - slicePatients;
const decoder = new TextDecoder();
/** NHS numbers of the slice's patients (for the in-memory engine's stream). */
const sliceNumbers = [];
{
  const { openSync, writeSync, closeSync } = await import('node:fs');
  const fd = openSync(sliceFile, 'w');
  let records = 0;
  for (const chunk of population.ndjson(1 << 20, { from: sliceFrom, to: patients })) {
    writeSync(fd, chunk.bytes);
    records = chunk.records;
    for (const m of decoder.decode(chunk.bytes).matchAll(/^\{"kind":"patient","nhsNumber":"(\d+)"/gm)) if (sliceNumbers.at(-1) !== m[1]) sliceNumbers.push(m[1]);
  }
  closeSync(fd);
  figures.slice = { patients: slicePatients, records, bytes: statSync(sliceFile).size };
  log(`slice file: ${slicePatients} patients, ${records} records, ${(figures.slice.bytes / 1e6).toFixed(0)} MB`);
}

phase = 'measuring the parse floor';
/** Read, decode, split and JSON.parse the slice file, nothing else: lines per second. */
async function parseFloor() {
  let lines = 0;
  let rest = '';
  const t = process.hrtime.bigint();
  for await (const chunk of createReadStream(sliceFile, { encoding: 'utf8', highWaterMark: 1 << 20 })) {
    const text = rest + chunk;
    let from = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', from)) {
      JSON.parse(text.slice(from, nl));
      from = nl + 1;
      lines++;
    }
    rest = text.slice(from);
  }
  return lines / (ms(t) / 1000);
}
figures.parseFloorRuns = [];
for (let i = 0; i < 3; i++) figures.parseFloorRuns.push(await parseFloor());
figures.parseFloorRecordsPerSecond = median(figures.parseFloorRuns);
figures.parseFloorLines = figures.slice.records;
log(`parse floor ${Math.round(figures.parseFloorRecordsPerSecond).toLocaleString('en-GB')} lines/s (median of 3, ${figures.slice.records} lines)`);
checkpoint();

phase = 'measuring the store floor';
const sliceHead = [];
for await (const item of readRecords(sliceFile)) {
  if (item.ok) sliceHead.push(item.record);
  if (sliceHead.length >= 50_000) break;
}
const storeBench = join(ROOT, 'benchmarks', 'store.mjs');
if (withStore && existsSync(storeBench)) {
  try {
    const { storeBenchmark } = await import(pathToFileURL(storeBench).href);
    figures.storeFloor = await storeBenchmark(sliceHead, { runs: 3, directory: work });
    log(`store floor (one thread, records/s): ${JSON.stringify(figures.storeFloor.medians)}`);
  } catch (error) {
    figures.storeFloor = { error: error.message };
    log(`store floor not measured: ${error.message}`);
  }
}
checkpoint();

// ---- the main thread's CPU profile of a phase, summarised by self time ----------------------------------------------
const profiled = selfTimeProfiler({ interval: 500, top: 12 });

// ---- 3. the load: the generator's NDJSON streamed into the engine ------------------------------------------------------
phase = 'loading';
const engine = new Engine({
  ...loaded,
  asOf,
  organisations: population.organisations,
  partitions,
  ...(withStore ? { store: { directory: storeDir } } : {}),
});
figures.partitions = engine.partitions ?? partitions;
/**
 * Patients and events for the stream of new records later: 200 runs of 100 patients spread evenly over the loaded
 * population, every patient's NHS number and every tenth event (so the mix of relevant and background codes is the
 * population's).
 */
const numbers = [];
const sampled = [];
for (let k = 0; k < 200; k++) {
  const from = Math.floor((k * sliceFrom) / 200);
  for (const group of population.records({ from, to: Math.min(sliceFrom, from + 100) })) {
    numbers.push(group[0].nhsNumber);
    group.forEach((r, i) => r.kind === 'event' && i % 10 === 0 && sampled.push(r));
  }
}
/** The engine's raw-bytes path when it has one (NDJSON bytes, no parsing on this thread), else parsed records. */
const bytesPath = typeof engine.ingestNdjson === 'function';
figures.loadPath = bytesPath ? 'engine.ingestNdjson (the NDJSON bytes, cut and routed by a byte scan)' : 'engine.ingest (records parsed on the main thread)';
/** A chunk of NDJSON as parsed records. */
function parseChunk(bytes) {
  const text = decoder.decode(bytes);
  const records = [];
  let from = 0;
  for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', from)) {
    records.push(JSON.parse(text.slice(from, nl)));
    from = nl + 1;
  }
  return records;
}
let acknowledged = 0;
let quarantined = 0;
const loadCpu = process.cpuUsage();
const loadStarted = process.hrtime.bigint();
const loadProgress = setInterval(() => {
  const m = processMemory();
  const rate = acknowledged / (ms(loadStarted) / 1000);
  log(`loading: ${acknowledged.toLocaleString('en-GB')} records (${Math.round(rate).toLocaleString('en-GB')}/s; ${((100 * acknowledged) / (sliceFrom * recordsPerPatient)).toFixed(1)} %), resident ${(m.rss / 2 ** 30).toFixed(1)} GiB (anonymous ${(m.anon / 2 ** 30).toFixed(1)}), free disk ${(freeBytes(storeRoot) / 1e9).toFixed(0)} GB, load ${load().join(' ')}`);
}, 30_000);
log(`loading ${sliceFrom.toLocaleString('en-GB')} patients through ${figures.loadPath}`);
const loadProfile = await profiled(async () => {
  const range = { from: 0, to: sliceFrom };
  if (bytesPath) {
    // The generator's chunks as they come off its worker threads: the bytes a file of the population would hold.
    const chunks = (async function* () {
      for await (const chunk of parallelNdjson(populationOptions, { threads: generatorThreads, range })) {
        yield chunk.bytes;
        // A turn of the event loop per chunk, so the progress log and the disk and memory guards still run.
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    const summary = await engine.ingestNdjson(chunks, { bulk: true, file: 'generator', onAcknowledged: (n) => (acknowledged = n) });
    acknowledged = summary.accepted + summary.quarantined;
    quarantined += summary.quarantined;
  } else {
    for await (const chunk of parallelNdjson(populationOptions, { threads: generatorThreads, range })) {
      const summary = await engine.ingest(parseChunk(chunk.bytes), { bulk: true });
      acknowledged += summary.accepted + summary.quarantined;
      quarantined += summary.quarantined;
    }
  }
});
clearInterval(loadProgress);
const loadMs = ms(loadStarted);
const loadCpuUsed = process.cpuUsage(loadCpu);
figures.loading = {
  records: acknowledged,
  quarantined,
  ms: loadMs,
  recordsPerSecond: acknowledged / (loadMs / 1000),
  cpuMs: (loadCpuUsed.user + loadCpuUsed.system) / 1000,
  generatorThreads,
  profile: loadProfile.top,
};
log(`loaded ${acknowledged.toLocaleString('en-GB')} records (${quarantined} quarantined) in ${(loadMs / 1000).toFixed(0)} s: ${Math.round(figures.loading.recordsPerSecond).toLocaleString('en-GB')} records/s`);
checkpoint();

// ---- 4. file-to-durable: the slice file into the loaded engine ---------------------------------------------------------
phase = 'ingesting the slice file';
{
  const t = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  const summary = bytesPath ? await engine.ingestFile(sliceFile, { bulk: true }) : await engine.ingest(readRecords(sliceFile), { bulk: true, file: sliceFile });
  const took = ms(t);
  const used = process.cpuUsage(cpu);
  figures.fileToDurable = { records: summary.accepted + summary.quarantined, quarantined: summary.quarantined, ms: took, cpuMs: (used.user + used.system) / 1000 };
  figures.fileToDurableRecordsPerSecond = figures.fileToDurable.records / (took / 1000);
  quarantined += summary.quarantined;
  log(`file to durable: ${figures.fileToDurable.records} records in ${(took / 1000).toFixed(1)} s: ${Math.round(figures.fileToDurableRecordsPerSecond).toLocaleString('en-GB')} records/s (parse floor ${Math.round(figures.parseFloorRecordsPerSecond).toLocaleString('en-GB')})`);
}
const records = acknowledged + figures.fileToDurable.records;
figures.records = records;
figures.quarantined = quarantined;
checkpoint();

// ---- 5. hot state ------------------------------------------------------------------------------------------------------
phase = 'measuring memory';
global.gc();
const hot = engine.memory();
const enginePatients = engine.patientCount;
figures.engineMemory = hot;
figures.memoryAfterLoad = processMemory();
figures.relevantEvents = hot.relevantEvents;
log(`hot state: ${hot.bytes.toLocaleString('en-GB')} B for ${hot.patients} patients and ${hot.relevantEvents} relevant events; process ${JSON.stringify(figures.memoryAfterLoad)}`);

// ---- the stream: new records for patients already loaded ----------------------------------------------------------------
// Events copy the code and value of events sampled over the load (so the mix of relevant and background codes is the
// population's), for random loaded patients, with new ids and dates in the last year; 5 % correct an earlier one.
let seed = 42;
const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296;
/** `count` new records for the patients `among`, ids starting `prefix`. */
function newRecords(among, count, prefix) {
  const out = [];
  for (let i = 0; i < count; i++) {
    if (rnd() < 0.05 && i > 0) {
      const earlier = out[Math.floor(rnd() * out.length)];
      out.push({ ...earlier, date: formatDay(asOfDay - Math.floor(rnd() * 365)) });
      continue;
    }
    const like = sampled[Math.floor(rnd() * sampled.length)];
    const e = { kind: 'event', id: `${prefix}:${i}`, nhsNumber: among[Math.floor(rnd() * among.length)], code: like.code, date: formatDay(asOfDay - Math.floor(rnd() * 365)), source: 'bench' };
    if (like.value !== undefined) e.value = like.value;
    if (like.values !== undefined) e.values = like.values;
    if (like.unit !== undefined) e.unit = like.unit;
    out.push(e);
  }
  return out;
}
const stream = newRecords(numbers, streamRecords + durableLatencySamples, 'stream');
const total = stream.length;

// ---- 6. sustained ingest into the loaded engine (parsed objects, store on) -----------------------------------------------
phase = 'sustained ingest';
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
figures.ingestRuns = ingestProfiled.value;
figures.ingestRecordsPerSecond = median(figures.ingestRuns);
log(`ingest ${Math.round(figures.ingestRecordsPerSecond).toLocaleString('en-GB')} records/s (median of ${RUNS} runs of ${slice})`);
checkpoint();

// ---- 7. per-record latency of a durable apply (an fsync each), on the loaded engine --------------------------------------
phase = 'durable per-record latency';
at = streamRecords;
/** `engine.apply` of each record, timed one by one (µs, sorted). */
function timedApplies(target, records, from, count) {
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const t = process.hrtime.bigint();
    target.apply(records[from + i]);
    out[i] = Number(process.hrtime.bigint() - t) / 1000;
  }
  return out.sort();
}
const q = (a) => ({ p50: quantile(a, 0.5), p99: quantile(a, 0.99), p999: quantile(a, 0.999) });
figures.durableApplyMicros = q(timedApplies(engine, stream, at, durableLatencySamples));
at += durableLatencySamples;
log(`durable apply p50/p99/p99.9 ${JSON.stringify(figures.durableApplyMicros)} µs (${durableLatencySamples} applies)`);
checkpoint();

// ---- 8. recompute, advancing the date, rebuild ----------------------------------------------------------------------------
phase = 'recompute';
figures.recomputeRuns = [];
for (let i = 0; i < 3; i++) {
  const t = process.hrtime.bigint();
  await engine.recomputeAll();
  figures.recomputeRuns.push(ms(t));
}
figures.recomputeMs = median(figures.recomputeRuns);
log(`recompute ${figures.recomputeMs.toFixed(0)} ms (median of 3)`);

phase = 'advancing the date';
let day = asOfDay;
const advance = async () => {
  day++;
  const t = process.hrtime.bigint();
  await engine.advanceTo(day);
  return ms(t);
};
if (formatDay(day + 1).endsWith('-04-01')) figures.yearStartMs = await advance();
figures.advanceRuns = [];
for (let i = 0; i < 7; i++) figures.advanceRuns.push(await advance());
figures.advanceDayMs = median(figures.advanceRuns);
log(`advance one ordinary day ${figures.advanceDayMs.toFixed(2)} ms (median of 7)${figures.yearStartMs === undefined ? '' : `; to 1 April ${figures.yearStartMs.toFixed(0)} ms`}`);
checkpoint();

phase = 'rebuild';
const storedRecords = records + at;
{
  // One run: at full size a rebuild reads every stored record.
  const t = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  await engine.rebuild();
  figures.rebuildMs = ms(t);
  const used = process.cpuUsage(cpu);
  figures.rebuildCpuMs = (used.user + used.system) / 1000;
  figures.rebuildRecordsPerSecond = storedRecords / (figures.rebuildMs / 1000);
  log(`rebuild ${(figures.rebuildMs / 1000).toFixed(1)} s: ${Math.round(figures.rebuildRecordsPerSecond).toLocaleString('en-GB')} records/s`);
}
checkpoint();

phase = 'closing the loaded engine';
const storeBytes = withStore ? Number(execFileSync('du', ['-sb', storeDir], { encoding: 'utf8' }).split('\t')[0]) : 0;
await engine.close?.();
rmSync(storeDir, { recursive: true, force: true });

// ---- 9. the in-memory apply path: an engine without a durable store, holding the slice's patients ----------------------
// The engine as an embedder gets it without a store (default options: one partition in the calling thread). Each apply
// is followed by two floors timed the same way, so the machine's load falls on them as on the engine: the timer around
// nothing, and a fixed computation of about the apply's length. After, a call to a worker thread made the way the
// engine calls partitions on worker threads (post, Atomics.wait, receiveMessageOnPort), answered at once.
phase = 'in-memory per-record latency';
const memoryEngine = new Engine({ ...loaded, asOf, organisations: population.organisations });
await (bytesPath ? memoryEngine.ingestFile(sliceFile, { bulk: true }) : memoryEngine.ingest(readRecords(sliceFile), { bulk: true }));
/** Applies profiled apart from the timed ones (a sampling profiler's interrupts land in a tenth of applies or more). */
const profiledApplies = Math.min(20_000, latencySamples);
const latencyStream = newRecords(sliceNumbers, latencySamples + 10_000 + profiledApplies, 'latency');
timedApplies(memoryEngine, latencyStream, 0, 10_000); // warm-up
const latencies = new Float64Array(latencySamples);
const idle = new Float64Array(latencySamples);
const fixed = new Float64Array(latencySamples);
let sink = 0;
global.gc();
const faultsBefore = process.resourceUsage();
{
  for (let i = 0; i < latencySamples; i++) {
    let t = process.hrtime.bigint();
    memoryEngine.apply(latencyStream[10_000 + i]);
    latencies[i] = Number(process.hrtime.bigint() - t) / 1000;
    t = process.hrtime.bigint();
    sink = (sink * 31 + i) % 1000003;
    idle[i] = Number(process.hrtime.bigint() - t) / 1000;
    t = process.hrtime.bigint();
    for (let j = 0; j < 2000; j++) sink = (sink * 31 + j) % 1000003;
    fixed[i] = Number(process.hrtime.bigint() - t) / 1000;
  }
}
const faultsAfter = process.resourceUsage();
const latencyProfiled = await profiled(async () => {
  for (let i = 0; i < profiledApplies; i++) memoryEngine.apply(latencyStream[10_000 + latencySamples + i]);
});
figures.latencyPartitions = memoryEngine.partitions;
await memoryEngine.close?.();
latencies.sort();
idle.sort();
fixed.sort();
const roundTrips = await workerRoundTrips(latencySamples);
Object.assign(figures, {
  p50Micros: quantile(latencies, 0.5),
  p99Micros: quantile(latencies, 0.99),
  p999Micros: quantile(latencies, 0.999),
  p9999Micros: quantile(latencies, 0.9999),
  maxMicros: latencies[latencies.length - 1],
  idleMicros: q(idle),
  workerRoundTripMicros: q(roundTrips),
  fixedComputationMicros: q(fixed),
  // A major fault reads a page of the store's file back from disk (other processes' I/O can evict it).
  latencyPageFaults: { major: faultsAfter.majorPageFault - faultsBefore.majorPageFault, minor: faultsAfter.minorPageFault - faultsBefore.minorPageFault },
  latencySink: sink,
});
log(`in-memory apply p50/p99/p99.9 ${figures.p50Micros}/${figures.p99Micros}/${figures.p999Micros} µs; beside it: fixed computation ${JSON.stringify(figures.fixedComputationMicros)}, idle ${JSON.stringify(figures.idleMicros)}; worker round trip ${JSON.stringify(figures.workerRoundTripMicros)}`);
checkpoint();

phase = 'closing';
const engineCommit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
cleanUp();
clearInterval(guard);
const memoryAtEnd = processMemory();
const peakRssBytes = Math.max(memoryAtEnd.peak, process.resourceUsage().maxRSS * 1024);
const loadAtEnd = load();
const uptimeAtEnd = uptime();
log(`uptime: ${uptimeAtEnd}`);

// ---- report ------------------------------------------------------------------------------------------------------------
// The engine counts what its partitions hold per patient and per relevant event (an engine that gives one total:
// all of it per patient).
const hotStateBytesPerPatient = (hot.patientBytes ?? hot.bytes) / enginePatients;
const bytesPerRelevantEvent = hot.eventBytes !== undefined && hot.relevantEvents ? hot.eventBytes / hot.relevantEvents : undefined;
const memoryBudget = 1024 * enginePatients + 16 * (hot.relevantEvents ?? 0);
const target = (met, value, goal, by) => ({ target: goal, value, met, ...(met ? {} : { missedBy: by }) });
const times = (a, b) => `${(a / b).toFixed(1)}×`;
const f = figures;
const targets = {
  memory: target(hot.bytes <= memoryBudget, hot.bytes, '≤ 1 KB per patient + 16 B per relevant event', `${times(hot.bytes, memoryBudget)} the budget`),
  ingest: target(f.ingestRecordsPerSecond >= 1e6, f.ingestRecordsPerSecond, '≥ 1,000,000 records/s, store on', `${times(1e6, f.ingestRecordsPerSecond)} short`),
  fileToDurable: target(f.fileToDurableRecordsPerSecond * 2 >= f.parseFloorRecordsPerSecond, f.fileToDurableRecordsPerSecond, 'within 2× of the parse floor', `${times(f.parseFloorRecordsPerSecond, f.fileToDurableRecordsPerSecond)} slower than the parse floor`),
  p99: target(f.p99Micros <= 20, f.p99Micros, '≤ 20 µs', `${(f.p99Micros - 20).toFixed(1)} µs over`),
  p99Floor: target(f.p99Micros <= f.fixedComputationMicros.p99 + 5, f.p99Micros - f.fixedComputationMicros.p99, 'engine p99 within 5 µs of this p99', `${(f.p99Micros - f.fixedComputationMicros.p99).toFixed(1)} µs above it`),
  recompute: target(f.recomputeMs <= 2000, f.recomputeMs, '≤ 2 s', `${times(f.recomputeMs, 2000)} the target`),
  advance: target(f.advanceDayMs <= f.recomputeMs / 100, (100 * f.advanceDayMs) / f.recomputeMs, '≤ 1 % of recompute', `${((100 * f.advanceDayMs) / f.recomputeMs).toFixed(2)} %`),
  rebuild: target(f.rebuildRecordsPerSecond >= 1e6, f.rebuildRecordsPerSecond, '≥ 1,000,000 records/s', `${times(1e6, f.rebuildRecordsPerSecond)} short`),
  peakRss: target(peakRssBytes < 24e9, peakRssBytes, 'fits in 24 GB', `${(peakRssBytes / 1e9).toFixed(1)} GB`),
};
const f0 = (n) => (n === undefined ? '—' : Math.round(n).toLocaleString('en-GB'));
const f1 = (n) => (n === undefined ? '—' : n.toFixed(1));
const gib = (n) => `${(n / 2 ** 30).toFixed(1)} GiB`;
const yes = (t) => (t.met ? 'yes' : `no (${t.missedBy})`);
const topLine = (title, top) => `${title}: ${top.map((t) => `${t.fn} ${t.share} %`).join('; ')}`;
const floor = f.storeFloor?.medians;
writeResults('engine', {
  title: `Incremental engine — ${f0(enginePatients)} patients, ${f0(records)} records (${f1(records / enginePatients)} per patient)`,
  command: `node --expose-gc benchmarks/engine.mjs ${process.argv.slice(2).join(' ')}`.trim(),
  table: [
    ['measure', 'value', 'target', 'met'],
    [`load: ${f0(sliceFrom)} patients streamed from the generator into the engine by ${f.loadPath}`, `${f0(f.loading.recordsPerSecond)} records/s (${f0(f.loading.records)} records in ${f1(loadMs / 1000)} s; ${f0(f.loading.records / (f.loading.cpuMs / 1000))} records per CPU-second of the whole process, every thread, the generator's included)`, '', ''],
    ['the generator alone, one thread', `${f0(f.generator.recordsPerCpuSecond)} records per CPU-second`, 'not the bottleneck', f.generator.recordsPerCpuSecond > f.loading.recordsPerSecond ? 'yes' : 'no'],
    [`file → record store → hot state: the slice file (${f0(f.slice.records)} lines, ${(f.slice.bytes / 1e6).toFixed(0)} MB) into the loaded engine`, `${f0(f.fileToDurableRecordsPerSecond)} records/s (${f1(f.fileToDurable.ms / 1000)} s; ${f1(f.fileToDurable.cpuMs / 1000)} s of CPU over every thread)`, '', ''],
    ['NDJSON parse floor (read, split, JSON.parse; the same file, one thread)', `${f0(f.parseFloorRecordsPerSecond)} lines/s`, '', ''],
    ['file-to-durable against the parse floor', `${times(f.parseFloorRecordsPerSecond, f.fileToDurableRecordsPerSecond)} slower`, targets.fileToDurable.target, yes(targets.fileToDurable)],
    [`sustained ingest into the loaded engine (parsed objects, store ${withStore ? 'on' : 'off'})`, `${f0(f.ingestRecordsPerSecond)} records/s`, targets.ingest.target, yes(targets.ingest)],
    ...(floor
      ? [
          ['LMDB raw put floor, one thread: binary values / msgpack objects (benchmarks/store.mjs, this population\'s records)', `${f0(floor.rawBinary)} / ${f0(floor.rawObject)} puts/s`, '', ''],
          ['RecordStore.writeSync, one thread: received bytes / parsed records', `${f0(floor.storeBytes)} / ${f0(floor.storeObjects)} records/s`, '', ''],
        ]
      : []),
    [`per-record apply latency p50 / p99 / p99.9, in-memory apply path (engine.apply on an engine without a durable store, default options: ${f.latencyPartitions ?? '—'} partition in the calling thread, holding the slice's ${f0(slicePatients)} patients)`, `${f1(f.p50Micros)} / ${f1(f.p99Micros)} / ${f1(f.p999Micros)} µs`, targets.p99.target, yes(targets.p99)],
    ['a fixed computation (2,000 multiply-modulo steps) timed right after each apply p50 / p99 / p99.9 (the machine\'s own floor under the same load)', `${f1(f.fixedComputationMicros.p50)} / ${f1(f.fixedComputationMicros.p99)} / ${f1(f.fixedComputationMicros.p999)} µs`, targets.p99Floor.target, yes(targets.p99Floor)],
    ['the timer around nothing, timed right after each apply p50 / p99 / p99.9', `${f1(f.idleMicros.p50)} / ${f1(f.idleMicros.p99)} / ${f1(f.idleMicros.p999)} µs`, '', ''],
    ['a call to a worker thread that answers at once p50 / p99 / p99.9 (what a partition on a worker thread adds to every call)', `${f1(f.workerRoundTripMicros.p50)} / ${f1(f.workerRoundTripMicros.p99)} / ${f1(f.workerRoundTripMicros.p999)} µs`, '', ''],
    [`durable apply on the loaded engine p50 / p99 / p99.9 (engine.apply, a commit and fsync each; ${f0(durableLatencySamples)} applies)`, `${f1(f.durableApplyMicros.p50)} / ${f1(f.durableApplyMicros.p99)} / ${f1(f.durableApplyMicros.p999)} µs`, '', ''],
    ['a fixed computation of a few µs timed the same way p50 / p99 / p99.9', `${f1(f.fixedComputationMicros.p50)} / ${f1(f.fixedComputationMicros.p99)} / ${f1(f.fixedComputationMicros.p999)} µs`, '', ''],
    ['full recompute from loaded state', `${f0(f.recomputeMs)} ms`, targets.recompute.target, yes(targets.recompute)],
    ['advance one ordinary day', `${f.advanceDayMs.toFixed(2)} ms (${targets.advance.value.toFixed(2)} % of recompute)`, targets.advance.target, yes(targets.advance)],
    ...(f.yearStartMs === undefined ? [] : [['advance to 1 April (a new QOF year: every PPED window moves)', `${f0(f.yearStartMs)} ms`, '', '']]),
    ['rebuild from the record store (one run)', `${f0(f.rebuildRecordsPerSecond)} records/s (${f1(f.rebuildMs / 1000)} s; ${f1(f.rebuildCpuMs / 1000)} s of CPU over every thread)`, targets.rebuild.target, yes(targets.rebuild)],
    ['hot state (engine.memory(): what every partition holds per patient and per relevant event)', `${f0(hot.bytes)} B = ${f0(hotStateBytesPerPatient)} B per patient${bytesPerRelevantEvent === undefined ? '' : ` + ${f1(bytesPerRelevantEvent)} B per relevant event`} (${f0(hot.relevantEvents)} relevant events; budget ${f0(memoryBudget)} B)`, targets.memory.target, yes(targets.memory)],
    ['process memory after the load: resident / anonymous (heaps, typed arrays) / file pages (store map)', `${gib(f.memoryAfterLoad.rss)} / ${gib(f.memoryAfterLoad.anon)} / ${gib(f.memoryAfterLoad.file)}`, '', ''],
    ['peak RSS (all threads)', gib(peakRssBytes), targets.peakRss.target, yes(targets.peakRss)],
  ],
  notes: [
    `Population: @caregaps/synthetic, seed 1, ${f0(patients)} patients at ${recordsPerPatient} records per patient asked (${f1(records / enginePatients)} written); achievement date ${asOf}; ${loaded.compiled.length} registries; commit ${engineCommit}; partitions ${f.partitions}; record store ${withStore ? `on (${(storeBytes / 1e9).toFixed(1)} GB on disk at the end)` : 'off'}. The population is not written to disk whole (at 1.8 M × 100 it is 23 GB of NDJSON beside a store of similar size): all but the last ${f0(slicePatients)} patients are streamed from the generator (${generatorThreads} worker thread${generatorThreads === 1 ? '' : 's'}) as the NDJSON bytes a file would hold, and the last ${f0(slicePatients)} are the slice file read from disk.`,
    `Machine load: \`uptime\` at the start "${uptimeAtStart}", at the end "${uptimeAtEnd}" (2 cores shared with other sessions). Rates are medians of ${RUNS} runs (parse floor and recompute of 3, advance of 7); the load, the slice file and the rebuild are one run each; in-memory latencies over ${f0(latencySamples)} single applies after 10,000 for warm-up (p99.99 ${f1(f.p9999Micros)} µs, longest ${f1(f.maxMicros)} µs; page faults during them: ${f0(f.latencyPageFaults.major)} major, ${f0(f.latencyPageFaults.minor)} minor). An in-memory engine keeps its store's write transaction open across applies and commits it every 4,096 records in a loop that never yields (or 50 ms after it began when the event loop runs): in this loop one apply in 4,096 pays for a commit.`,
    `Hot state is the engine's own count (typed arrays at capacity, NHS number tables, free lists), which benchmarks/hot-state-memory.mjs checks against V8's heap and ArrayBuffer growth; anonymous resident memory (${gib(f.memoryAfterLoad.anon)} after the load, peak ${gib(peakAnon)}) is everything the process holds besides file pages, the benchmark's own samples and stream of ${f0(total)} records included.`,
    topLine('Main-thread profile of the load (self time)', f.loading.profile),
    topLine('Main-thread profile of sustained ingest (self time)', ingestProfiled.top),
    topLine(`Main-thread profile of ${f0(profiledApplies)} further single applies, in-memory (self time; not the timed ones)`, latencyProfiled.top),
  ],
  data: {
    ...figures,
    patients: enginePatients,
    records,
    recordsPerPatient: records / enginePatients,
    relevantEvents: hot.relevantEvents,
    hotStateBytes: hot.bytes,
    hotStateBytesPerPatient,
    // null (kept, so the field is always there) when the engine reports one total and not its per-event part.
    bytesPerRelevantEvent: bytesPerRelevantEvent ?? null,
    peakRssBytes,
    peakAnonymousBytes: peakAnon,
    storeBytes,
    engineCommit,
    load: { start: loadAtStart, end: loadAtEnd },
    uptimeAtEnd,
    loadRecordsPerSecond: f.loading.recordsPerSecond,
    profile: { load: f.loading.profile, ingest: ingestProfiled.top, apply: latencyProfiled.top },
    targets,
  },
});
