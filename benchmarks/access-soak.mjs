// J1 load and soak (short form): sustained ingest (redelivered records) into the incremental engine with concurrent reads through the
// access layer (every read decided by the full built-in policies and audited to a keyed NDJSON log), then a burst at
// 10× the ingest rate. Reports events/s reached, read latency p50/p99, RSS slope and errors.
// Usage: node --expose-gc benchmarks/access-soak.mjs [patients=20000] [seconds=60] [eventsPerSecond=2000]
// Needs built packages (`pnpm build`). The plan's 24-hour soak is this script with a larger `seconds`.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRegistries } from '@caregaps/core';
import { FileCheckpoint, NdjsonAuditLog, withAccess } from '../packages/access/dist/index.js';
import { Engine } from '../packages/engine/dist/index.js';
import { Population } from '../packages/synthetic/dist/index.js';
import { ROOT, median, writeResults } from './lib.mjs';

const patients = Number(process.argv[2] ?? 20_000);
const seconds = Number(process.argv[3] ?? 60);
const rate = Number(process.argv[4] ?? 2000);
if (typeof global.gc !== 'function') throw new Error('run with node --expose-gc');
const log = (...a) => process.stderr.write(a.join(' ') + '\n');
const quantile = (v, q) => [...v].sort((a, b) => a - b)[Math.min(v.length - 1, Math.floor(q * v.length))] ?? 0;

const population = new Population({ patients, seed: 7 });
const byPatient = [...population.records()];
const asOf = population.config.extractDate;
const { compiled, index } = loadRegistries(join(ROOT, 'registries'), join(ROOT, 'codesets'));
const engine = new Engine({ compiled, index, asOf, organisations: population.organisations });
// The whole population is loaded first; the soak then streams every record again (redeliveries and re-sent
// versions, as a feed does), so the data held does not grow and the RSS slope measures leaks, not data.
for (const records of byPatient) for (const r of records) engine.apply(r);
const stream = byPatient.flat();
for (let i = stream.length - 1; i > 0; i--) {
  const j = (i * 7919) % (i + 1);
  [stream[i], stream[j]] = [stream[j], stream[i]];
}
const known = byPatient.map((rs) => rs.find((r) => r.kind === 'patient')).filter(Boolean);
log(`loaded ${byPatient.length} patients; ${stream.length} records re-streamed at ${rate}/s for ${seconds} s, then 10× for ${Math.ceil(seconds / 6)} s`);

const dir = mkdtempSync(join(tmpdir(), 'caregaps-soak-'));
const vault = mkdtempSync(join(tmpdir(), 'caregaps-soak-anchor-'));
const logFile = join(dir, 'audit.ndjson');
const audit = await NdjsonAuditLog.open(logFile, { key: randomBytes(32), checkpoint: new FileCheckpoint(join(vault, 'cp'), logFile) });
const access = withAccess(engine, { compiled, index, audit });

let applied = 0;
let next = 0;
const reads = { record: [], list: [] };
let errors = 0;
let refused = 0;
const rss = [];
const started = performance.now();
const phases = [
  { name: 'sustained', until: seconds * 1000, rate },
  { name: 'burst ×10', until: (seconds + Math.ceil(seconds / 6)) * 1000, rate: rate * 10 },
];
const perPhase = phases.map(() => ({ applied: 0, ms: 0 }));
let lastRss = 0;

async function readOnce() {
  const p = known[Math.floor(Math.random() * known.length)];
  const gp = access.as({ user: 'gp', roles: ['clinical-practitioner'], organisation: p.practice }, 'direct-care');
  try {
    let t = performance.now();
    await gp.patient(p.nhsNumber);
    reads.record.push(performance.now() - t);
    if (Math.random() < 0.05) {
      t = performance.now();
      await gp.patients({ registry: 'diabetes', indicator: 'DM020' });
      reads.list.push(performance.now() - t);
    }
  } catch (error) {
    if (error.code === 'CG_ACCESS_DENIED') refused++;
    else errors++;
  }
}

for (const [i, phase] of phases.entries()) {
  const phaseStart = performance.now();
  const offset = phaseStart - started;
  while (performance.now() - started < phase.until) {
    const elapsed = performance.now() - phaseStart;
    const due = Math.floor(((elapsed + 10) / 1000) * phase.rate) - perPhase[i].applied;
    for (let k = 0; k < due; k++) {
      engine.apply(stream[next++ % stream.length]);
      applied++;
      perPhase[i].applied++;
    }
    await readOnce();
    const now = performance.now();
    if (now - lastRss >= 5000) {
      // Live heap after a full collection: what stays reachable (a leak grows it; garbage does not).
      global.gc();
      rss.push([(now - started) / 60_000, process.memoryUsage().heapUsed / 2 ** 20, process.memoryUsage().rss / 2 ** 20]);
      lastRss = now;
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  perPhase[i].ms = performance.now() - phaseStart;
  void offset;
}
audit.close();
// Live-heap slope by least squares, MB per minute (the first 10% is warm-up and left out).
const points = rss.slice(Math.floor(rss.length / 10));
const mx = points.reduce((s, [x]) => s + x, 0) / points.length;
const my = points.reduce((s, [, y]) => s + y, 0) / points.length;
const slope = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0) / points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
const rows = phases.map((p, i) => [p.name, `${p.rate}`, `${Math.round((perPhase[i].applied / perPhase[i].ms) * 1000)}`]);
const data = {
  patients,
  seconds,
  targetRate: rate,
  phases: phases.map((p, i) => ({ name: p.name, targetPerSecond: p.rate, reachedPerSecond: (perPhase[i].applied / perPhase[i].ms) * 1000 })),
  reads: { record: reads.record.length, list: reads.list.length, refused },
  recordLatencyMs: { p50: quantile(reads.record, 0.5), p99: quantile(reads.record, 0.99), median: median(reads.record) },
  listLatencyMs: { p50: quantile(reads.list, 0.5), p99: quantile(reads.list, 0.99) },
  liveHeapMB: { first: rss[0]?.[1], last: rss.at(-1)?.[1], slopePerMinute: slope },
  rssMB: { first: rss[0]?.[2], last: rss.at(-1)?.[2] },
  errors,
  load: loadavg(),
};
writeResults('access-soak', {
  title: 'J1 load and soak (short form): ingest with concurrent audited reads',
  command: `node --expose-gc benchmarks/access-soak.mjs ${patients} ${seconds} ${rate}`,
  notes: [
    `Reads: ${reads.record.length} record views (p50 ${data.recordLatencyMs.p50.toFixed(2)} ms, p99 ${data.recordLatencyMs.p99.toFixed(2)} ms), ${reads.list.length} gap lists (p50 ${data.listLatencyMs.p50.toFixed(1)} ms, p99 ${data.listLatencyMs.p99.toFixed(1)} ms), each audited (keyed log, fsync per entry).`,
    `Live heap after GC ${data.liveHeapMB.first?.toFixed(0)} → ${data.liveHeapMB.last?.toFixed(0)} MB, slope ${slope.toFixed(2)} MB/min after warm-up (RSS ${data.rssMB.first?.toFixed(0)} → ${data.rssMB.last?.toFixed(0)} MB); errors ${errors}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}.`,
  ],
  table: [['phase', 'target events/s', 'reached events/s'], ...rows],
  data,
});
log(JSON.stringify(data));
rmSync(dir, { recursive: true, force: true });
rmSync(vault, { recursive: true, force: true });
