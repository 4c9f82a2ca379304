import { existsSync, mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { CaregapsError, achievementDay, type CodesetIndex, type CompiledRegistry } from '@caregaps/core';
import type { KvWatchEntry } from '@nats-io/kv';
import { appliedFile } from './applied.js';
import { Cluster, type ClusterOptions } from './cluster.js';
import { Lease } from './lease.js';
import { OwnedPartition, StoreFailure } from './owned-partition.js';

export interface WorkerOptions extends ClusterOptions {
  /** The worker's store directory: one LMDB file per partition it has applied (`partition-<n>.mdb`). */
  store: string;
  /** Compiled registries and their codeset index, as for the in-process engine. */
  compiled: readonly CompiledRegistry[];
  index: CodesetIndex;
  /** The worker's name in the cluster (default: a random one). */
  id?: string;
  /** Most records committed in one store transaction (default 2048). */
  batchSize?: number;
  /** What the worker does, as it happens (took, released or lost a partition; stopped, and why). */
  log?: (event: WorkerEvent) => void;
  /** Called after each commit: the partition, its applied stream sequence, and how many messages the batch had. */
  onCommitted?: (partition: number, applied: number, count: number) => void;
}

export interface WorkerEvent {
  kind: 'joined' | 'took' | 'released' | 'lost' | 'stopped' | 'advanced';
  partition?: number;
  message: string;
}

/** What a worker announces in the workers bucket (renewed on every heartbeat; gone when it stops renewing). */
export interface WorkerInfo {
  id: string;
  host: string;
  pid: number;
  store: string;
  partitions: number[];
  startedAt: string;
}

/**
 * A JetStream worker (DESIGN §7): joins a cluster, takes a fair share of its partitions by lease and applies
 * them with the engine's partition code and its own LMDB record stores. Every lease time / 3 it renews its
 * presence and leases (on a timer of their own, so a slow round of taking never lets them lapse), and in rounds
 * gives up partitions above its share (so a joining worker gets some) and takes free ones up to its share (so a
 * dead worker's partitions are taken over once their leases expire). If a store cannot commit
 * (disk full), the worker stops acknowledging, gives all its partitions up and stops, saying why (`stopped`).
 */
export class ClusterWorker {
  readonly id: string;
  private readonly owned = new Map<number, OwnedPartition>();
  /** Partitions being taken (their store opening, their consumer being made), with their leases. */
  private readonly starting = new Map<number, Lease>();
  private timer: NodeJS.Timeout | undefined;
  private tick: Promise<void> = Promise.resolve();
  private keepAliveTimer: NodeJS.Timeout | undefined;
  private keepingAlive: Promise<void> = Promise.resolve();
  private stopped = false;
  private failure: Error | undefined;
  private readonly startedAt = new Date().toISOString();
  private settingsWatch: { stop(): void } | undefined;
  private resolveDone!: (error: Error | undefined) => void;
  /** Settles when the worker stops: with the error that stopped it, or `undefined` after `stop()`. */
  readonly done: Promise<Error | undefined> = new Promise((resolve) => (this.resolveDone = resolve));

  private constructor(
    private readonly cluster: Cluster,
    private readonly options: WorkerOptions,
  ) {
    this.id = options.id ?? randomUUID().slice(0, 8);
    if (!/^[A-Za-z0-9_-]{1,40}$/.test(this.id)) throw new CaregapsError('CG_USAGE', `a worker id is 1–40 letters, digits, '-' or '_' (got "${this.id}")`);
  }

  static async start(options: WorkerOptions): Promise<ClusterWorker> {
    mkdirSync(options.store, { recursive: true });
    const cluster = await Cluster.connect(options);
    const worker = new ClusterWorker(cluster, options);
    await worker.heartbeat();
    worker.log({ kind: 'joined', message: `worker ${worker.id} joined cluster ${cluster.names.cluster} (${cluster.settings.partitions} partitions, lease ${cluster.leaseMs} ms, as of ${cluster.settings.asOf})` });
    await worker.watchSettings();
    worker.keepAlive();
    worker.schedule(0);
    return worker;
  }

  /** The partitions this worker owns now. */
  partitions(): number[] {
    return [...this.owned.keys()].sort((a, b) => a - b);
  }

  private log(event: WorkerEvent): void {
    this.options.log?.(event);
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.tick = this.rebalance()
        .catch((error: Error) => this.log({ kind: 'stopped', message: `rebalance failed, retrying: ${error.message}` }))
        .finally(() => this.schedule(this.interval));
    }, delay);
  }

  /** Every lease time / 3: presence and lease renewals, whatever the rebalance round is doing. */
  private keepAlive(): void {
    if (this.stopped) return;
    this.keepAliveTimer = setTimeout(() => {
      this.keepingAlive = this.renew()
        .catch((error: Error) => this.log({ kind: 'stopped', message: `renewal failed, retrying: ${error.message}` }))
        .finally(() => this.keepAlive());
    }, this.interval);
  }

  private get interval(): number {
    return Math.max(100, Math.floor(this.cluster.leaseMs / 3));
  }

  /** Presence, then every lease held (a refused renewal gives its partition up). */
  private async renew(): Promise<void> {
    await this.heartbeat();
    await Promise.all([
      ...[...this.owned.values()].map((owned) =>
        owned.lease.renew().catch((error: Error) => {
          // (Unless a round has just released it.)
          if (error instanceof CaregapsError && error.code === 'CG_CLUSTER_LEASE_LOST' && this.owned.get(owned.partition) === owned) this.lose(owned.partition, error);
        }),
      ),
      // A partition being taken: a refusal surfaces when its start fences or renews next.
      ...[...this.starting.values()].map((lease) => lease.renew().catch(() => undefined)),
    ]);
  }

  private async heartbeat(): Promise<void> {
    const info: WorkerInfo = { id: this.id, host: hostname(), pid: process.pid, store: this.options.store, partitions: this.partitions(), startedAt: this.startedAt };
    await this.cluster.workers.put(this.id, JSON.stringify(info));
  }

  /** One round: give up or take partitions towards a fair share. */
  private async rebalance(): Promise<void> {
    if (this.stopped) return;
    const total = this.cluster.settings.partitions;
    const workers = (await this.cluster.liveEntries('workers')).map((e) => e.key).sort();
    if (!workers.includes(this.id)) workers.push(this.id);
    workers.sort();
    const rank = workers.indexOf(this.id);
    const share = Math.floor(total / workers.length) + (rank < total % workers.length ? 1 : 0);
    const holding = this.owned.size + this.starting.size;
    if (holding > share) {
      const give = this.partitions().slice(share - holding);
      for (const p of give) await this.release(p);
      return;
    }
    if (holding === share) return;
    const leased = new Set((await this.cluster.liveEntries('leases')).map((e) => Number(e.key.slice(1))));
    const free = Array.from({ length: total }, (_, p) => p).filter((p) => !leased.has(p) && !this.owned.has(p) && !this.starting.has(p));
    // Partitions this store already holds first (less to catch up on), then at random (workers contend less).
    free.sort((a, b) => Number(existsSync(appliedFile(this.options.store, b))) - Number(existsSync(appliedFile(this.options.store, a))) || Math.random() - 0.5);
    const started = Date.now();
    for (const p of free.slice(0, share - holding)) {
      // Taking (a store's replay) takes time: leave the rest to the next round rather than let our leases lapse.
      if (Date.now() - started > this.cluster.leaseMs / 3) break;
      await this.take(p);
    }
  }

  private async take(partition: number): Promise<void> {
    const lease = await Lease.take(this.cluster.leases, this.cluster.names.partitionKey(partition), this.id);
    if (!lease) return;
    this.starting.set(partition, lease);
    const owned = new OwnedPartition(partition, lease, {
      cluster: this.cluster,
      worker: this.id,
      store: this.options.store,
      compiled: this.options.compiled,
      index: this.options.index,
      batchSize: this.options.batchSize ?? 2048,
      onStopped: (p, error) => void this.onPartitionStopped(p, error),
      ...(this.options.onCommitted ? { onCommitted: this.options.onCommitted } : {}),
    });
    try {
      await owned.start();
      this.owned.set(partition, owned);
      this.log({ kind: 'took', partition, message: `took partition ${partition} (fencing token ${lease.token})` });
    } catch (error) {
      // A store that cannot open (damaged, locked) is a store failure; anything else hands the partition back.
      const failure = error instanceof CaregapsError && error.code.startsWith('CG_STORE') ? new StoreFailure(error) : (error as Error);
      await owned.stop(!(error instanceof CaregapsError && error.code === 'CG_CLUSTER_LEASE_LOST')).catch(() => undefined);
      await this.onPartitionStopped(partition, failure);
    } finally {
      this.starting.delete(partition);
    }
  }

  private async release(partition: number): Promise<void> {
    const owned = this.owned.get(partition);
    if (!owned) return;
    this.owned.delete(partition);
    await owned.stop(true);
    this.log({ kind: 'released', partition, message: `released partition ${partition} (rebalance)` });
  }

  private lose(partition: number, error: Error): void {
    const owned = this.owned.get(partition);
    this.owned.delete(partition);
    void owned?.stop(false).catch(() => undefined);
    this.log({ kind: 'lost', partition, message: `partition ${partition} given up: ${error.message}` });
  }

  private async onPartitionStopped(partition: number, stopped: Error): Promise<void> {
    if (!(stopped instanceof StoreFailure)) return this.lose(partition, stopped);
    const error = stopped.failure;
    // The store cannot commit (disk full, damage): nothing more is acknowledged here; others take the partitions.
    const owned = this.owned.get(partition);
    this.owned.delete(partition);
    this.failure ??= error;
    // A store on a full disk may not even close: stop anyway after a lease time (its lease then lapses).
    await Promise.race([owned?.stop(true).catch(() => undefined), new Promise((resolve) => setTimeout(resolve, this.cluster.leaseMs).unref())]);
    this.log({ kind: 'stopped', partition, message: `partition ${partition}: this worker stops acknowledging and gives its partitions up: ${error.message}` });
    await this.stop();
  }

  /** Follows the cluster's achievement date: each owned partition advances when it moves. */
  private async watchSettings(): Promise<void> {
    const watch = await this.cluster.config.watch({ key: 'settings' });
    this.settingsWatch = watch;
    void (async () => {
      let asOf = this.cluster.settings.asOf;
      for await (const entry of watch as AsyncIterable<KvWatchEntry>) {
        if (entry.operation !== 'PUT') continue;
        const next = (entry.json() as { asOf: string }).asOf;
        if (next === asOf) continue;
        asOf = next;
        const day = achievementDay(next);
        await Promise.all([...this.owned.values()].map((owned) => owned.advance(day).catch(() => undefined)));
        this.log({ kind: 'advanced', message: `advanced ${this.owned.size} partitions to ${next}` });
      }
    })();
  }

  /** Leaves the cluster: stops consuming, lets commits in progress finish, gives every lease up and disconnects. */
  async stop(): Promise<void> {
    if (this.stopped) return this.done.then(() => undefined);
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.keepAliveTimer);
    this.settingsWatch?.stop();
    await Promise.all([this.tick.catch(() => undefined), this.keepingAlive.catch(() => undefined)]);
    // Without a server nothing can be released (the leases expire by themselves): give up after a lease time.
    const released = (async () => {
      for (const p of this.partitions()) await this.release(p).catch(() => undefined);
      await this.cluster.workers.delete(this.id).catch(() => undefined);
    })();
    await Promise.race([released, new Promise((resolve) => setTimeout(resolve, this.cluster.leaseMs).unref())]);
    await Promise.race([this.cluster.close(), new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
    if (this.failure) this.log({ kind: 'stopped', message: `worker ${this.id} stopped: ${this.failure.message}` });
    this.resolveDone(this.failure);
  }
}
