// Per-record latency of `engine.apply` on the in-memory path (an engine without a durable store), beside floors
// timed the same way in the same run: the timer around nothing and a fixed computation (each timed right after every
// apply, so the machine's load falls on the floors as on the engine), and a call to a worker thread that answers at
// once (the floor of any synchronous call to a partition on a worker thread). Small and quick, for before/after
// comparisons on a loaded machine; the engine benchmark (engine.mjs) measures the same at scale.
// Each engine configuration (`--modes`, comma-separated) holds the same population and gets the same new records:
// events copying the code and value of sampled loaded events (the population's mix of relevant and background codes),
// for random loaded patients, new ids, dates in the last year; 5 % repeat an earlier one with another date (a correction).
// Usage: node --expose-gc benchmarks/apply-latency.mjs [--patients 10000] [--records-per-patient 100] [--latency 50000]
//          [--partitions n] [--modes default,in-thread,workers] [--profile]
// (--profile samples the timed applies with V8's profiler, whose interrupts inflate their tail: compare tails without it)
// (each mode's own default partition count unless --partitions is given: one in the calling thread, one per core on
// worker threads).
import { achievementDay, formatDay, loadRegistries } from '@caregaps/core';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Engine } from '../packages/engine/dist/index.js';
import { Population } from '../packages/synthetic/dist/index.js';
import { ROOT, option, quantile, workerRoundTrips, writeResults, selfTimeProfiler } from './lib.mjs';

const patients = option('patients', 10_000);
const recordsPerPatient = option('records-per-patient', 100);
const samples = option('latency', 50_000);
const partitionsAsked = option('partitions', 0);
const at = process.argv.indexOf('--modes');
const modes = (at < 0 ? 'default,workers' : process.argv[at + 1]).split(',');
const profiling = process.argv.includes('--profile');
const WARM_UP = 5_000;
const uptime = () => execFileSync('uptime', { encoding: 'utf8' }).trim();
const log = (...parts) => process.stderr.write(`${parts.join(' ')}\n`);
const uptimeAtStart = uptime();
log(`uptime: ${uptimeAtStart}`);

const loaded = loadRegistries(join(ROOT, 'registries'), join(ROOT, 'codesets'));
const asOf = '2025-03-31';
const asOfDay = achievementDay(asOf);
const population = new Population({ patients, recordsPerPatient, seed: 1, codesets: join(ROOT, 'codesets') });
const chunks = [...population.ndjson()].map((c) => c.bytes);
const numbers = [];
const sampled = [];
for (const group of population.records()) {
  numbers.push(group[0].nhsNumber);
  group.forEach((r, i) => r.kind === 'event' && i % 100 === 0 && sampled.push(r));
}

let seed = 42;
const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296;
function newRecords(count, prefix) {
  const out = [];
  for (let i = 0; i < count; i++) {
    if (rnd() < 0.05 && i > 0) {
      out.push({ ...out[Math.floor(rnd() * out.length)], date: formatDay(asOfDay - Math.floor(rnd() * 365)) });
      continue;
    }
    const like = sampled[Math.floor(rnd() * sampled.length)];
    const e = { kind: 'event', id: `${prefix}:${i}`, nhsNumber: numbers[Math.floor(rnd() * numbers.length)], code: like.code, date: formatDay(asOfDay - Math.floor(rnd() * 365)), source: 'bench' };
    if (like.value !== undefined) e.value = like.value;
    if (like.values !== undefined) e.values = like.values;
    if (like.unit !== undefined) e.unit = like.unit;
    out.push(e);
  }
  return out;
}

const profiler = selfTimeProfiler({ interval: 100, top: 20 });
const profiled = async (fn) => (profiling ? profiler(fn) : { value: await fn(), top: [] });

const q = (a) => ({ p50: quantile(a, 0.5), p99: quantile(a, 0.99), p999: quantile(a, 0.999), p9999: quantile(a, 0.9999), max: a[a.length - 1] });
const MODES = { default: {}, 'in-thread': { workerThreads: false }, workers: { workerThreads: true } };
const figures = { patients, recordsPerPatient, samples, modes: {} };
for (const mode of modes) {
  if (!(mode in MODES)) throw new Error(`no mode ${mode} (have ${Object.keys(MODES).join(', ')})`);
  const engine = new Engine({ ...loaded, asOf, organisations: population.organisations, ...(partitionsAsked ? { partitions: partitionsAsked } : {}), ...MODES[mode] });
  await engine.ingestNdjson(chunks, { bulk: true });
  const records = newRecords(samples + WARM_UP, `latency-${mode}`);
  let accepted = 0;
  const times = new Float64Array(samples);
  const idle = new Float64Array(samples);
  const fixed = new Float64Array(samples);
  let sink = 0;
  for (let i = 0; i < WARM_UP; i++) engine.apply(records[i]);
  global.gc?.();
  const usage = process.resourceUsage();
  const { top } = await profiled(() => {
    for (let i = 0; i < samples; i++) {
      let t = process.hrtime.bigint();
      if (engine.apply(records[WARM_UP + i])) accepted++;
      times[i] = Number(process.hrtime.bigint() - t) / 1000;
      t = process.hrtime.bigint();
      sink = (sink * 31 + i) % 1000003;
      idle[i] = Number(process.hrtime.bigint() - t) / 1000;
      t = process.hrtime.bigint();
      for (let j = 0; j < 2000; j++) sink = (sink * 31 + j) % 1000003;
      fixed[i] = Number(process.hrtime.bigint() - t) / 1000;
    }
  });
  const used = process.resourceUsage();
  // Page faults during the timed applies: a major one reads a page of the store's file back from disk.
  const faults = { major: used.majorPageFault - usage.majorPageFault, minor: used.minorPageFault - usage.minorPageFault };
  engine.close();
  const m = { engine: q(times.sort()), faults, idle: q(idle.sort()), fixed: q(fixed.sort()), partitions: engine.partitions, accepted, sink, profile: top };
  figures.modes[mode] = m;
  log(`${mode} (${m.partitions} partitions): apply ${JSON.stringify(m.engine)} µs (${accepted} of ${samples} accepted; page faults ${JSON.stringify(faults)}); timed beside it: idle ${JSON.stringify(m.idle)}, fixed computation ${JSON.stringify(m.fixed)}`);
  for (const t of top) log(`  ${t.share}% ${t.fn}`);
}

figures.workerRoundTripMicros = q(await workerRoundTrips(samples));
const uptimeAtEnd = uptime();
log(`worker round trip ${JSON.stringify(figures.workerRoundTripMicros)}`);
log(`uptime: ${uptimeAtEnd}`);

const f1 = (x) => x.toFixed(1);
const row = (label, x) => [label, `${f1(x.p50)} / ${f1(x.p99)} / ${f1(x.p999)} µs`, `${f1(x.p9999)} / ${f1(x.max)} µs`];
writeResults('apply-latency', {
  title: 'Per-record apply latency, in-memory engine',
  command: `node --expose-gc benchmarks/apply-latency.mjs ${process.argv.slice(2).join(' ')}`.trim(),
  notes: [
    `${patients.toLocaleString('en-GB')} patients × ${recordsPerPatient} records; ${samples.toLocaleString('en-GB')} timed applies per engine after ${WARM_UP.toLocaleString('en-GB')} for warm-up.`,
    `Machine load: \`uptime\` at the start "${uptimeAtStart}", at the end "${uptimeAtEnd}" (2 cores shared with other sessions).`,
  ],
  table: [
    ['what', 'p50 / p99 / p99.9', 'p99.99 / max'],
    ...modes.flatMap((m) => {
      const x = figures.modes[m];
      return [
        row(`engine.apply, ${m === 'default' ? 'default options' : m} (${x.partitions} partitions)`, x.engine),
        row('  timed beside it: the timer around nothing', x.idle),
        row('  timed beside it: a fixed computation (2,000 multiply-modulo steps)', x.fixed),
      ];
    }),
    row('a call to a worker thread that answers at once (post, Atomics.wait, receiveMessageOnPort)', figures.workerRoundTripMicros),
  ],
  data: figures,
});
