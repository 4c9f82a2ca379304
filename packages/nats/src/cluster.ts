import { CaregapsError, achievementDay, formatDay } from '@caregaps/core';
import { jetstream, jetstreamManager, RetentionPolicy, StorageType, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV, type KvEntry } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { ClusterNames, DEFAULT_PARTITIONS } from './names.js';

/** Where the cluster lives and, when it is new, how it is set up. */
export interface ClusterOptions {
  /** NATS server URL(s). Default `nats://127.0.0.1:4222`. */
  servers?: string | string[];
  /** The cluster's name on the server (subjects and buckets derive from it). Default `caregaps`. */
  cluster?: string;
  /**
   * Partitions, fixed when the cluster is first set up (default 64). Given for an existing cluster, it must match
   * (`CG_CLUSTER_CONFIG`).
   */
  partitions?: number;
  /** The achievement date a new cluster starts on (YYYY-MM-DD; default today). An existing cluster keeps its own. */
  asOf?: string;
  /** How long a partition lease (and a worker's presence) lasts without renewal, for a new cluster. Default 10 s. */
  leaseMs?: number;
  /** JetStream's duplicate window on the records stream, for a new cluster: redeliveries within it are dropped. Default 10 min. */
  duplicateWindowMs?: number;
}

/** The settings every publisher, worker and client of a cluster share (kept in its config bucket). */
export interface ClusterSettings {
  partitions: number;
  /** The achievement date, YYYY-MM-DD. */
  asOf: string;
}

const SETTINGS_KEY = 'settings';
const DEFAULT_LEASE_MS = 10_000;
const DEFAULT_DUPLICATE_WINDOW_MS = 10 * 60_000;

/**
 * A connection to one cluster on a NATS server, with its stream and buckets made ready: the records stream (one
 * subject per partition, kept with limits retention as the log workers replay from), and KV buckets for leases,
 * partition state, workers, organisations and settings. Creating what is missing is idempotent, so publishers,
 * workers and clients may start in any order.
 */
export class Cluster {
  private constructor(
    readonly nc: NatsConnection,
    readonly names: ClusterNames,
    readonly js: JetStreamClient,
    readonly jsm: JetStreamManager,
    readonly settings: ClusterSettings,
    /** Lease time of the leases bucket (its entries' maximum age). */
    readonly leaseMs: number,
    readonly leases: KV,
    readonly partitionState: KV,
    readonly workers: KV,
    readonly organisations: KV,
    readonly config: KV,
  ) {}

  static async connect(options: ClusterOptions = {}): Promise<Cluster> {
    const names = new ClusterNames(options.cluster);
    if (options.partitions !== undefined && (!Number.isInteger(options.partitions) || options.partitions < 1 || options.partitions > 1024)) {
      throw new CaregapsError('CG_USAGE', `partitions must be a whole number from 1 to 1024 (got ${options.partitions})`);
    }
    const servers = options.servers ?? 'nats://127.0.0.1:4222';
    let nc: NatsConnection;
    try {
      nc = await connect({ servers, name: `caregaps-${names.cluster}`, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    } catch (error) {
      throw new CaregapsError('CG_CLUSTER_CONNECT', `Cannot reach the NATS server at ${String(servers)}: ${(error as Error).message}`);
    }
    try {
      const jsm = await jetstreamManager(nc);
      const js = jetstream(nc);
      const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
      await ensureStream(jsm, names, options.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS);
      const kvm = new Kvm(js);
      const [leases, partitionState, workers, organisations, config] = await Promise.all([
        kvm.create(names.leases, { history: 1, ttl: leaseMs }),
        kvm.create(names.partitions, { history: 1 }),
        kvm.create(names.workers, { history: 1, ttl: leaseMs }),
        kvm.create(names.organisations, { history: 1 }),
        kvm.create(names.config, { history: 1 }),
      ]);
      const settings = await settle(config, options);
      const ttl = (await leases.status()).ttl;
      return new Cluster(nc, names, js, jsm, settings, ttl > 0 ? ttl : leaseMs, leases, partitionState, workers, organisations, config);
    } catch (error) {
      await nc.close().catch(() => undefined);
      if (error instanceof CaregapsError) throw error;
      throw new CaregapsError('CG_CLUSTER_CONNECT', `The NATS server at ${String(servers)} did not set up the cluster (is JetStream enabled? start nats-server with -js): ${(error as Error).message}`);
    }
  }

  /** The current settings (the achievement date may have moved since `connect`). */
  async currentSettings(): Promise<ClusterSettings> {
    const entry = await this.config.get(SETTINGS_KEY);
    return entry ? (entry.json() as ClusterSettings) : this.settings;
  }

  /** Moves the cluster's achievement date; every worker advances its partitions when it sees the change. */
  async advanceTo(asOf: string): Promise<void> {
    const day = achievementDay(asOf);
    for (;;) {
      const entry = await this.config.get(SETTINGS_KEY);
      const settings = { ...(entry?.json() as ClusterSettings), asOf: formatDay(day) };
      try {
        await this.config.update(SETTINGS_KEY, JSON.stringify(settings), entry!.revision);
        return;
      } catch (error) {
        if (!isWrongSequence(error)) throw error;
      }
    }
  }

  /**
   * The entries that hold a value now in the workers or leases bucket (whose entries expire). Not `KV.keys()`: it
   * lists through a consumer, and an entry that expires while it is listed leaves the listing waiting about 30 s
   * for a heartbeat (a worker's rebalance round, its lease renewals and its shutdown waited with it). Here one
   * stream info request names the bucket's subjects, and a get of each drops deleted keys (their markers stay
   * until they age out) and keys that expired in between.
   */
  async liveEntries(bucket: 'workers' | 'leases'): Promise<KvEntry[]> {
    const name = this.names[bucket];
    const prefix = `$KV.${name}.`;
    const info = await this.jsm.streams.info(`KV_${name}`, { subjects_filter: `${prefix}>` });
    const keys = Object.keys(info.state.subjects ?? {}).map((subject) => subject.slice(prefix.length));
    const entries = await Promise.all(keys.map((key) => this[bucket].get(key)));
    return entries.filter((entry): entry is KvEntry => entry?.operation === 'PUT');
  }

  async close(): Promise<void> {
    if (!this.nc.isClosed()) await this.nc.drain().catch(() => this.nc.close());
  }
}

async function ensureStream(jsm: JetStreamManager, names: ClusterNames, duplicateWindowMs: number): Promise<void> {
  try {
    await jsm.streams.info(names.stream);
  } catch {
    try {
      await jsm.streams.add({
        name: names.stream,
        subjects: [names.allRecords],
        retention: RetentionPolicy.Limits,
        storage: StorageType.File,
        duplicate_window: duplicateWindowMs * 1_000_000,
      });
    } catch (error) {
      // Another process created it in between.
      await jsm.streams.info(names.stream).catch(() => {
        throw error;
      });
    }
  }
}

/** The cluster's settings: created from the options when absent, else read (and the partition count checked). */
async function settle(config: KV, options: ClusterOptions): Promise<ClusterSettings> {
  const wanted: ClusterSettings = {
    partitions: options.partitions ?? DEFAULT_PARTITIONS,
    asOf: formatDay(achievementDay(options.asOf ?? new Date().toISOString().slice(0, 10))),
  };
  try {
    await config.create(SETTINGS_KEY, JSON.stringify(wanted));
    return wanted;
  } catch (error) {
    if (!isWrongSequence(error)) throw error;
  }
  const held = (await config.get(SETTINGS_KEY))!.json() as ClusterSettings;
  if (options.partitions !== undefined && options.partitions !== held.partitions) {
    throw new CaregapsError(
      'CG_CLUSTER_CONFIG',
      `cluster ${new ClusterNames(options.cluster).cluster} has ${held.partitions} partitions, not ${options.partitions}: the partition count is fixed when the cluster is set up (leave --partitions out, or use a new --cluster name)`,
    );
  }
  return held;
}

/** Whether JetStream refused a write because the expected revision was not the current one (compare-and-set). */
export function isWrongSequence(error: unknown): boolean {
  const e = error as { message?: string; api_error?: { err_code?: number }; code?: number | string };
  return e?.api_error?.err_code === 10071 || /wrong last sequence|key exists/i.test(e?.message ?? '');
}
