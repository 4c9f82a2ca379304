/**
 * The faults of issue 14, each against a real nats-server and real worker processes (reliability plan C1, C3, C4,
 * C5), each printing its figure: kill -9 of a worker mid-batch, a paused worker whose lease was taken (fencing),
 * a server restart with a producer redelivering, workers joining and leaving, and a full disk under a worker.
 * The oracle is the batch evaluation of the same records (`oracle.ts`).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { CaregapsRecord } from '@caregaps/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterClient, Publisher, type PublisherOptions } from '../src/index.js';
import { bundleWorker, WorkerProcess } from './child.js';
import { NATS_SERVER, NatsServer, SKIP_REASON } from './nats-server.js';
import { compareWithBatch } from './oracle.js';
import { AS_OF, registries, testPopulation } from './population.js';

if (!NATS_SERVER) console.warn(`skipping the NATS fault tests: ${SKIP_REASON}`);

const LEASE_MS = 1000;

/** Publishes records a slice at a time with pauses, so that faults strike while records flow. */
async function flow(publisher: Publisher, records: readonly CaregapsRecord[], slice: number, pauseMs: number): Promise<void> {
  for (let i = 0; i < records.length; i += slice) {
    for (const record of records.slice(i, i + slice)) await publisher.publish(record);
    await delay(pauseMs);
  }
  await publisher.flush();
}

/** Unmounts the test's tmpfs, waiting for processes that have just ended to let go of it (then lazily). */
async function unmount(mount: string): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      execFileSync('umount', [mount], { stdio: 'ignore' });
      return;
    } catch {
      await delay(250);
    }
  }
  execFileSync('umount', ['-l', mount], { stdio: 'ignore' });
}

describe.skipIf(!NATS_SERVER)('faults on a real nats-server', () => {
  let server: NatsServer;
  let bundle: { dir: string; script: string };
  const dirs: string[] = [];
  const workers: WorkerProcess[] = [];
  const tempDir = (prefix = 'caregaps-worker-') => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(dir);
    return dir;
  };

  beforeAll(async () => {
    [server, bundle] = await Promise.all([NatsServer.start(), bundleWorker()]);
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    await server?.dispose();
    for (const dir of [...dirs, bundle?.dir]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const options = (cluster: string, partitions: number, url = server.url): PublisherOptions => ({ servers: url, cluster, partitions, asOf: AS_OF, leaseMs: LEASE_MS });
  const spawnWorker = (cluster: string, store: string, id: string, url = server.url) => {
    const worker = new WorkerProcess(bundle.script, { servers: url, cluster, store, id, batchSize: 256 });
    workers.push(worker);
    return worker;
  };
  const finalState = async (cluster: string, records: readonly CaregapsRecord[], url = server.url) => {
    const client = await ClusterClient.connect({ servers: url, cluster, compiled: registries().compiled });
    try {
      const status = await client.caughtUp({ timeoutMs: 60_000 });
      return { status, comparison: await compareWithBatch(client, records) };
    } finally {
      await client.close();
    }
  };

  it('kill -9 of a worker mid-batch, 20 times at random points: nothing acknowledged is lost, nothing applied twice', async () => {
    const cluster = 'kill';
    const { records } = testPopulation(120, 30, 'kill');
    const publisher = await Publisher.open({ ...options(cluster, 4), inFlight: 64 });
    const stores = [tempDir(), tempDir()];
    const live = [spawnWorker(cluster, stores[0]!, 'k0'), spawnWorker(cluster, stores[1]!, 'k1')];
    const flowing = flow(publisher, records, 15, 130);
    let kills = 0;
    let missed = 0;
    for (let i = 0; i < 20; i++) {
      // The worker that committed last (the one applying now), or either at random when neither has yet.
      const slot = live[0]!.lastCommitAt === live[1]!.lastCommitAt ? Math.floor(Math.random() * 2) : live[0]!.lastCommitAt > live[1]!.lastCommitAt ? 0 : 1;
      const victim = live[slot]!;
      // Strike while it works: just after one of its commits, at a random point in the next batch.
      await victim.next((line) => line.commit !== undefined, 3000).catch(() => missed++);
      await delay(Math.floor(Math.random() * 25));
      await victim.kill();
      kills++;
      live[slot] = spawnWorker(cluster, stores[slot]!, `k${i + 2}`);
    }
    await flowing;
    const summary = await publisher.flush();
    await publisher.close();
    const { status, comparison } = await finalState(cluster, records);
    const takeovers = workers.flatMap((w) => w.lines).filter((l) => l.event === 'took').length;
    console.log(
      `[C3 kill -9] kills ${kills} (${missed} without a commit to strike after); records ${records.length}, acknowledged by the stream ${summary.published + summary.duplicates}; ` +
        `partitions taken ${takeovers}; patients compared ${comparison.patients}; lost or applied twice (statuses differing from batch) ${comparison.differing.length}; counts differing ${comparison.countsDiffering.length}`,
    );
    expect(kills).toBe(20);
    expect(status.caughtUp).toBe(true);
    expect(summary.published + summary.duplicates).toBe(records.length);
    expect(comparison.differing).toEqual([]);
    expect(comparison.countsDiffering).toEqual([]);
    await Promise.all(live.map((w) => w.kill()));
  }, 150_000);

  it('a paused worker whose lease was taken over: its commit is refused by the fencing token, nothing applied twice', async () => {
    const cluster = 'pause';
    const { records } = testPopulation(60, 30, 'pause');
    const publisher = await Publisher.open({ ...options(cluster, 1), inFlight: 64 });
    // One partition; "a" ranks first, so it holds the partition and "b" waits.
    const a = spawnWorker(cluster, tempDir(), 'a');
    await a.next((l) => l.event === 'took');
    const b = spawnWorker(cluster, tempDir(), 'b');
    await b.next((l) => l.event === 'started');
    const flowing = flow(publisher, records, 10, 60);
    await a.next((l) => l.commit !== undefined);
    a.signal('SIGSTOP');
    const paused = Date.now();
    await b.next((l) => l.event === 'took', 20_000);
    await b.next((l) => l.commit !== undefined, 20_000);
    const since = a.lines.length;
    a.signal('SIGCONT');
    const lost = await a.next((l) => l.event === 'lost', 20_000);
    const staleCommits = a.lines.slice(since).filter((l) => l.commit !== undefined && a.lines.indexOf(l) < a.lines.indexOf(lost)).length;
    await flowing;
    await publisher.close();
    const { comparison } = await finalState(cluster, records);
    console.log(
      `[C4/C5 fencing] worker a paused ${Date.now() - paused} ms (lease ${LEASE_MS} ms); b took over; on waking a's batch was refused: "${lost.message!.split('\n')[0]}"; ` +
        `stale commits accepted ${staleCommits}; statuses differing from batch ${comparison.differing.length}; counts differing ${comparison.countsDiffering.length}`,
    );
    expect(lost.message).toMatch(/CG_CLUSTER_LEASE_LOST/);
    expect(staleCommits).toBe(0);
    expect(comparison.differing).toEqual([]);
    expect(comparison.countsDiffering).toEqual([]);
    await Promise.all([a.kill(), b.kill()]);
  }, 120_000);

  it('nats-server restarted mid-stream, and a producer that redelivers: 0 lost, 0 duplicated in effect', async () => {
    const own = await NatsServer.start();
    try {
      const cluster = 'restart';
      const { records } = testPopulation(80, 30, 'restart');
      const worker = spawnWorker(cluster, tempDir(), 'r0', own.url);
      const publisher = await Publisher.open({ ...options(cluster, 4, own.url), inFlight: 64, ackTimeoutMs: 500, retryMs: 30_000 });
      const flowing = flow(publisher, records, 20, 40);
      await worker.next((l) => l.commit !== undefined, 20_000);
      await own.stop();
      await delay(1000);
      await own.run();
      await flowing;
      const first = await publisher.flush();
      await publisher.close();
      // A producer that sends the first half again (a retry of its own after a crash): all of it dropped at the edge.
      const again = await Publisher.open(options(cluster, 4, own.url));
      const redelivered = records.slice(0, Math.floor(records.length / 2));
      const second = await again.publishAll(redelivered);
      await again.close();
      const { status, comparison } = await finalState(cluster, records, own.url);
      console.log(
        `[C1/C4 server restart] records ${records.length}; publishes retried across the restart ${first.retried}; redelivered ${redelivered.length}, dropped as duplicates ${second.duplicates}, stored again ${second.published}; ` +
          `stream holds ${status.records} messages; statuses differing from batch ${comparison.differing.length}; counts differing ${comparison.countsDiffering.length}`,
      );
      expect(first.published + first.duplicates).toBe(records.length);
      expect(second.published).toBe(0);
      expect(second.duplicates).toBe(redelivered.length);
      expect(comparison.differing).toEqual([]);
      expect(comparison.countsDiffering).toEqual([]);
      await worker.kill();
    } finally {
      await own.dispose();
    }
  }, 120_000);

  it('a worker joins and another leaves while records flow: the rebalance loses nothing and counts equal the batch', async () => {
    const cluster = 'rebalance';
    const { records } = testPopulation(100, 30, 'rebalance');
    const publisher = await Publisher.open({ ...options(cluster, 8), inFlight: 64 });
    const first = spawnWorker(cluster, tempDir(), 'j1');
    await first.next((l) => l.event === 'took');
    const flowing = flow(publisher, records, 20, 60);
    await first.next((l) => l.commit !== undefined);
    const joining = spawnWorker(cluster, tempDir(), 'j2');
    await joining.next((l) => l.event === 'took', 20_000);
    await joining.next((l) => l.commit !== undefined, 20_000);
    first.signal('SIGTERM');
    expect(await first.exited).toBe(0);
    await flowing;
    await publisher.close();
    const { status, comparison } = await finalState(cluster, records);
    const released = first.lines.filter((l) => l.event === 'released').length;
    const taken = joining.lines.filter((l) => l.event === 'took').length;
    console.log(
      `[C5 rebalance] j2 joined and took ${taken} partitions; j1 left and released ${released}; owner now ${[...new Set(status.partitionStatus.map((p) => p.owner))].join(', ')}; ` +
        `statuses differing from batch ${comparison.differing.length}; counts differing ${comparison.countsDiffering.length}`,
    );
    expect(status.partitionStatus.every((p) => p.owner === 'j2')).toBe(true);
    expect(comparison.differing).toEqual([]);
    expect(comparison.countsDiffering).toEqual([]);
    await joining.kill();
  }, 120_000);

  it("a full disk under a worker's store: it stops acknowledging and says why; nothing acknowledged is lost", async (context) => {
    const mount = tempDir('caregaps-full-');
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mount], { stdio: 'ignore' });
    } catch {
      console.warn('skipping the full-disk test: a small tmpfs cannot be mounted here (it needs root)');
      context.skip();
      return;
    }
    try {
      const cluster = 'full';
      const { records } = testPopulation(240, 30, 'full');
      const store = join(mount, 'store');
      mkdirSync(store);
      const publisher = await Publisher.open({ ...options(cluster, 2), inFlight: 64 });
      const worker = spawnWorker(cluster, store, 'f1');
      await worker.next((l) => l.event === 'started', 20_000);
      await publisher.publishAll(records);
      await publisher.close();
      const stopped = await worker.seen((l) => l.event === 'stopped' && /CG_STORE_WRITE/.test(l.message ?? ''), 30_000);
      const code = await worker.exited;
      const committed = worker.lines.filter((l) => l.commit !== undefined).reduce((n, l) => n + l.count!, 0);
      // A worker with room takes the partitions over from the stream: everything the stream acknowledged is there.
      spawnWorker(cluster, tempDir(), 'f2');
      const { comparison } = await finalState(cluster, records);
      console.log(
        `[C3 disk full] worker f1 committed ${committed} of ${records.length} records on a 1 MB tmpfs, then: "${stopped.message!.split('\n')[0]}" (exit ${code}); ` +
          `after f2 took over: statuses differing from batch ${comparison.differing.length}; counts differing ${comparison.countsDiffering.length}`,
      );
      expect(code).toBe(1);
      expect(committed).toBeLessThan(records.length);
      expect(comparison.differing).toEqual([]);
      expect(comparison.countsDiffering).toEqual([]);
    } finally {
      await unmount(mount);
    }
  }, 120_000);
});
