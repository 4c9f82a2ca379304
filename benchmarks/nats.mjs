// Scale-out on NATS JetStream, side by side in one run: 1, 2 and 4 worker processes (`caregaps cluster worker`)
// over one local nats-server. For each: records/s end to end (publish → committed by the owning worker, every
// partition caught up), the publish rate, the largest consumer lag seen, and the failover time after kill -9 of one
// worker (until every partition is owned and caught up again). Also the per-partition figures the sizing model in
// docs/scale-out.md is derived from: records, patients, store bytes, hot-state bytes, worker memory.
// Usage: node benchmarks/nats.mjs [patients=2000] [recordsPerPatient=100] [workers=1,2,4] [--save]
//   (needs `pnpm build` and Debian's nats-server; the default lease, 10 s)
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { readRecords } from '@caregaps/core';
import { ClusterClient, Publisher } from '../packages/nats/dist/index.js';
import { ROOT, load, population, writeResults } from './lib.mjs';

const args = process.argv.slice(2).filter((a) => a !== '--save');
const patients = Number(args[0] ?? 2000);
const perPatient = Number(args[1] ?? 100);
const counts = (args[2] ?? '1,2,4').split(',').map(Number);
const LEASE_MS = 10_000;
const AS_OF = '2025-03-31';
const CLI = join(ROOT, 'packages', 'cli', 'bin', 'caregaps.js');

if (spawnSync('nats-server', ['--version']).status !== 0) {
  console.error('nats-server is not installed (apt-get install nats-server)');
  process.exit(2);
}

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

const port = await freePort();
const serverStore = mkdtempSync(join(tmpdir(), 'caregaps-bench-nats-'));
const server = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', serverStore], { stdio: 'ignore' });
const url = `nats://127.0.0.1:${port}`;
await delay(1000);

const files = await population(patients, perPatient);
const organisations = [];
for await (const r of readRecords(files.organisations)) if (r.ok) organisations.push(r.record);
let recordCount = 0;
for await (const r of readRecords(files.records)) if (r.ok) recordCount++;

const rssMiB = (pid) => {
  try {
    return Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024);
  } catch {
    return undefined;
  }
};
const dirBytes = (dir) => readdirSync(dir).reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);

function startWorker(cluster, store, id) {
  const child = spawn(process.execPath, [CLI, 'cluster', 'worker', '--server', url, '--cluster', cluster, '--store', store, '--id', id, '--as-of', AS_OF, '--lease', String(LEASE_MS)], {
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  return { child, store, id };
}

/** Polls status until `done(status)`; returns the time it took and the largest lag seen. */
async function until(client, done, timeoutMs = 600_000) {
  const started = Date.now();
  let maxLag = 0;
  for (;;) {
    const status = await client.status();
    if (Number.isFinite(status.lag)) maxLag = Math.max(maxLag, status.lag);
    if (done(status)) return { ms: Date.now() - started, maxLag, status };
    if (Date.now() - started > timeoutMs) throw new Error(`timed out: ${JSON.stringify({ unowned: status.unowned, lag: status.lag })}`);
    await delay(200);
  }
}

const runs = [];
for (const n of counts) {
  const cluster = `bench-${n}`;
  const options = { servers: url, cluster, asOf: AS_OF, leaseMs: LEASE_MS };
  const client = await ClusterClient.connect(options);
  const workers = Array.from({ length: n }, (_, i) => startWorker(cluster, mkdtempSync(join(tmpdir(), 'caregaps-bench-worker-')), `w${i + 1}`));
  // Workers first, each with its share of the partitions, so the run measures steady applying, not start-up.
  await until(client, (s) => s.unowned === 0 && s.workers.length === n && s.workers.every((w) => w.partitions.length >= Math.floor(s.partitions / n)), 120_000);
  const loadBefore = load();
  process.stderr.write(`${n} worker(s) own every partition; publishing ${recordCount} records\n`);
  const publisher = await Publisher.open(options);
  const started = Date.now();
  let published = false;
  const watching = until(client, (s) => published && s.caughtUp);
  await publisher.publishAll(organisations);
  await publisher.publishAll(readRecords(files.records));
  const publishMs = Date.now() - started;
  published = true;
  await publisher.close();
  process.stderr.write(`published in ${(publishMs / 1000).toFixed(1)} s; waiting for the workers to catch up\n`);
  const caught = await watching;
  const endToEndMs = Date.now() - started;
  const memory = await client.memory();
  const rss = workers.map((w) => rssMiB(w.child.pid));
  const storeBytes = workers.map((w) => dirBytes(w.store));
  const partitions = caught.status.partitions;
  // Failover: kill -9 one worker; with one worker, start it again on its store (recovery), else survivors take over.
  process.stderr.write(`caught up after ${((Date.now() - started) / 1000).toFixed(1)} s; killing the busiest worker\n`);
  // The victim is the worker holding the most partitions now.
  const held = (await client.status()).partitionStatus.reduce((m, p) => m.set(p.owner, (m.get(p.owner) ?? 0) + 1), new Map());
  const slot = workers.reduce((best, w, i) => ((held.get(w.id) ?? 0) > (held.get(workers[best].id) ?? 0) ? i : best), 0);
  const victim = workers[slot];
  const victimPartitions = held.get(victim.id) ?? 0;
  const killedAt = Date.now();
  victim.child.kill('SIGKILL');
  if (n === 1) workers[0] = startWorker(cluster, victim.store, 'w1b');
  const failover = await until(client, (s) => s.unowned === 0 && s.caughtUp && !s.partitionStatus.some((p) => p.owner === victim.id));
  const failoverMs = Date.now() - killedAt;
  runs.push({
    workers: n,
    records: recordCount,
    partitions,
    publishMs,
    publishPerSecond: Math.round(recordCount / (publishMs / 1000)),
    endToEndMs,
    endToEndPerSecond: Math.round(recordCount / (endToEndMs / 1000)),
    maxLag: caught.maxLag,
    failoverMs,
    victimPartitions,
    lease: LEASE_MS,
    load: { before: loadBefore, after: load() },
    workerRssMiB: rss,
    storeBytesPerWorker: storeBytes,
    hotStateBytes: memory.reduce((s, m) => s + m.bytes, 0),
    hotStatePatients: memory.reduce((s, m) => s + m.patients, 0),
  });
  process.stderr.write(`${n} worker(s): ${JSON.stringify(runs.at(-1))}\n`);
  for (const w of workers) w.child.kill('SIGTERM');
  await delay(1000);
  for (const w of workers) {
    w.child.kill('SIGKILL');
    rmSync(w.store, { recursive: true, force: true });
  }
  await client.close();
}
server.kill('SIGTERM');
await delay(500);
rmSync(serverStore, { recursive: true, force: true });

const one = runs[0];
const perPartition = {
  records: Math.round(one.records / one.partitions),
  patients: Math.round(patients / one.partitions),
  storeBytes: Math.round(one.storeBytesPerWorker.reduce((a, b) => a + b, 0) / one.partitions),
  hotStateBytes: Math.round(one.hotStateBytes / one.partitions),
  /** Records per second one worker process applies (all its partitions), end to end. */
  workerRecordsPerSecond: one.endToEndPerSecond,
};
writeResults('nats', {
  title: 'Scale-out on NATS JetStream: 1, 2 and 4 worker processes over one local nats-server',
  command: `node benchmarks/nats.mjs ${patients} ${perPatient} ${counts.join(',')}`,
  table: [
    ['workers', 'records', 'publish records/s', 'end-to-end records/s', 'largest lag', 'failover after kill -9 (s; partitions it held)', 'worker RSS (MiB)', 'load before → after'],
    ...runs.map((r) => [
      r.workers,
      r.records,
      r.publishPerSecond,
      r.endToEndPerSecond,
      r.maxLag,
      `${(r.failoverMs / 1000).toFixed(1)} (${r.victimPartitions})`,
      r.workerRssMiB.join(', '),
      `${r.load.before[0]} → ${r.load.after[0]}`,
    ]),
  ],
  notes: [
    `${patients} synthetic patients × ${perPatient} records (seed 1), ${one.partitions} partitions, lease ${LEASE_MS / 1000} s, as of ${AS_OF}; workers are \`caregaps cluster worker\` processes, publishing is one \`Publisher\` in the benchmark's process, all on this one machine with the nats-server.`,
    'End to end: from the first publish until every partition is owned and its owner has committed (fsynced LMDB) every record the stream holds for it; largest lag is the most records delivered but not yet acknowledged, or not yet delivered, seen in a status poll (every 200 ms).',
    'Failover: from kill -9 of the worker holding the most partitions until every partition is owned by a live worker and caught up: the lease expiring, the survivors taking the partitions over (with one worker, the same worker restarted on its store) and replaying them (a survivor that never held a partition rebuilds it from the stream).',
    `Per partition (from the 1-worker run): ${perPartition.records} records, ${perPartition.patients} patients, ${perPartition.storeBytes} bytes of LMDB store, ${perPartition.hotStateBytes} bytes of hot state. The sizing model in docs/scale-out.md scales these.`,
    'The machine is shared with other sessions (load averages above, 2 cores): compare only figures from one run.',
  ],
  data: { patients, recordsPerPatient: perPatient, runs, perPartition },
});
