// The hot state's memory, counted two ways (issue 10: ≤ 1 KB per patient + ≤ 16 B per cluster-relevant event):
// `engine.memory()` (the engine's own count of what its partitions hold) against what the process measures — V8's
// heap plus ArrayBuffer memory (`process.memoryUsage()` heapUsed + arrayBuffers, after full garbage collections) —
// grown over a load into an engine whose partitions run on this thread, so both sides see the same memory. A first
// `--warm-up` patients are loaded before the baseline, so compiled code and the caches that grow with distinct codes
// and dates (not with patients) are in place before measuring. Fails (exit 1) when the two differ by more than
// `--tolerance` (a fraction of the measured growth).
//
// Usage: node --expose-gc benchmarks/hot-state-memory.mjs [--patients 20000] [--records-per-patient 100]
//          [--warm-up 1000] [--partitions 1] [--tolerance 0.1]
import { loadRegistries } from '@caregaps/core';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Engine } from '../packages/engine/dist/index.js';
import { Population } from '../packages/synthetic/dist/index.js';
import { ROOT, option, progress, writeResults } from './lib.mjs';

const patients = option('patients', 20_000);
const recordsPerPatient = option('records-per-patient', 100);
const warmUp = Math.min(option('warm-up', 1_000), Math.floor(patients / 10));
const partitions = option('partitions', 1);
const tolerance = option('tolerance', 0.1);
if (typeof global.gc !== 'function') throw new Error('run with node --expose-gc');
const log = progress();
const uptimeAtStart = execFileSync('uptime', { encoding: 'utf8' }).trim();
log(`uptime: ${uptimeAtStart}`);

const loaded = loadRegistries(join(ROOT, 'registries'), join(ROOT, 'codesets'));
const population = new Population({ patients, recordsPerPatient, seed: 1, codesets: join(ROOT, 'codesets') });
const engine = new Engine({ ...loaded, asOf: '2025-03-31', organisations: population.organisations, partitions, workerThreads: false });

/** V8 heap and ArrayBuffer memory after full collections (several: a collection can free what the last one found). */
function measured() {
  for (let i = 0; i < 4; i++) global.gc();
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, arrayBuffers: m.arrayBuffers, total: m.heapUsed + m.arrayBuffers };
}

let records = 0;
/** Loads patients [from, to) as parsed records, in batches, evaluated at the end (a first load). */
async function load(from, to) {
  let batch = [];
  for (const group of population.records({ from, to })) {
    for (const record of group) batch.push(record);
    if (batch.length >= 4096) {
      records += batch.length;
      await engine.ingest(batch, { bulk: true });
      batch = [];
    }
  }
  records += batch.length;
  await engine.ingest(batch, { bulk: true });
}

// The generator caches the text of every date it writes: one walk over the population first, so that its cache is
// full before the baseline and what grows after it is the engine's.
for (const group of population.records({ from: 0, to: patients })) void group;
await load(0, warmUp);
const before = { process: measured(), engine: engine.memory() };
log(`warm-up: ${warmUp} patients loaded; baseline ${JSON.stringify(before)}`);
const started = Date.now();
await load(warmUp, patients);
const loadMs = Date.now() - started;
const after = { process: measured(), engine: engine.memory() };
log(`loaded ${patients} patients (${records} records) in ${(loadMs / 1000).toFixed(0)} s; ${JSON.stringify(after)}`);
const uptimeAtEnd = execFileSync('uptime', { encoding: 'utf8' }).trim();
await engine.close();

const grownMeasured = after.process.total - before.process.total;
const grownCounted = after.engine.bytes - before.engine.bytes;
const difference = (grownCounted - grownMeasured) / grownMeasured;
const hot = after.engine;
// An engine whose memory() gives one total (before issue 10's accounting): all of it per patient.
const perPatient = (hot.patientBytes ?? hot.bytes) / hot.patients;
const perEvent = hot.eventBytes === undefined ? undefined : hot.eventBytes / hot.relevantEvents;
const budget = 1024 * hot.patients + 16 * hot.relevantEvents;
const within = Math.abs(difference) <= tolerance;
const f0 = (n) => Math.round(n).toLocaleString('en-GB');
const pct = (x) => `${(100 * x).toFixed(1)} %`;
writeResults('hot-state-memory', {
  title: 'Hot state memory: the engine\'s count against the process\'s',
  command: `node --expose-gc benchmarks/hot-state-memory.mjs --patients ${patients} --records-per-patient ${recordsPerPatient} --warm-up ${warmUp} --partitions ${partitions} --tolerance ${tolerance}`,
  table: [
    ['figure', 'value'],
    ['patients, records loaded (on this thread, record store on)', `${f0(hot.patients)}, ${f0(records)}`],
    ['relevant events held (code in a cluster some registry reads)', `${f0(hot.relevantEvents)} (${(hot.relevantEvents / hot.patients).toFixed(1)} per patient)`],
    ['engine.memory(): per patient (patientBytes / patients)', `${f0(perPatient)} B`],
    ['engine.memory(): per relevant event (eventBytes / relevant events)', perEvent === undefined ? '(not given)' : `${perEvent.toFixed(1)} B`],
    ['engine.memory(): total against the budget (1 KB per patient + 16 B per relevant event)', `${f0(hot.bytes)} B of ${f0(budget)} B (${pct(hot.bytes / budget)})`],
    [`grown over the last ${f0(patients - warmUp)} patients: engine.memory()`, `${f0(grownCounted)} B`],
    ['grown over the same load: V8 heap + ArrayBuffers (after gc)', `${f0(grownMeasured)} B (heap ${f0(after.process.heapUsed - before.process.heapUsed)}, ArrayBuffers ${f0(after.process.arrayBuffers - before.process.arrayBuffers)})`],
    ['engine count − measured, of measured', `${pct(difference)} (tolerance ±${pct(tolerance)}: ${within ? 'within' : 'OUTSIDE'})`],
  ],
  notes: [
    `Machine load: \`uptime\` at the start "${uptimeAtStart}", at the end "${uptimeAtEnd}".`,
    `The engine runs ${partitions} partition(s) on the calling thread (workerThreads: false), so V8's heap and ArrayBuffer counters see everything they hold; records are generated and given as parsed objects, in batches that are garbage by the time memory is measured. The first ${f0(warmUp)} patients are loaded before the baseline.`,
  ],
  data: { patients: hot.patients, records, recordsPerPatient, partitions, warmUp, loadMs, tolerance, before, after, grownCounted, grownMeasured, difference, within, hotStateBytesPerPatient: perPatient, bytesPerRelevantEvent: perEvent ?? null, budget, uptimeAtStart, uptimeAtEnd },
});
if (!within) {
  log(`the engine's count and the measured growth differ by ${pct(difference)}, more than ±${pct(tolerance)}`);
  process.exitCode = 1;
}
