import { CaregapsError } from '@caregaps/core';

/** The partition count a new cluster gets: fixed for the cluster's life, so adding machines never rehashes patients. */
export const DEFAULT_PARTITIONS = 64;

/**
 * The names one cluster uses on a NATS server, all derived from its name (default `caregaps`), so that several
 * clusters (or test runs) can share a server: subjects `<name>.records.<p>`, `<name>.changes.<p>`,
 * `<name>.query.<p>`, the stream `<NAME>_RECORDS` and the KV buckets `<name>-<what>`.
 */
export class ClusterNames {
  constructor(readonly cluster = 'caregaps') {
    if (!/^[a-z][a-z0-9-]{0,31}$/.test(cluster)) {
      throw new CaregapsError('CG_USAGE', `a cluster name is 1–32 lower-case letters, digits or '-', starting with a letter (got "${cluster}")`);
    }
  }

  records(partition: number): string {
    return `${this.cluster}.records.${partition}`;
  }

  get allRecords(): string {
    return `${this.cluster}.records.*`;
  }

  changes(partition: number): string {
    return `${this.cluster}.changes.${partition}`;
  }

  get allChanges(): string {
    return `${this.cluster}.changes.*`;
  }

  query(partition: number): string {
    return `${this.cluster}.query.${partition}`;
  }

  /** The records stream: every subject `<name>.records.*`, kept (limits retention): it is the log workers replay. */
  get stream(): string {
    return `${this.cluster.toUpperCase().replaceAll('-', '_')}_RECORDS`;
  }

  /** KV bucket of partition leases (entries expire after the lease time unless renewed). */
  get leases(): string {
    return `${this.cluster}-leases`;
  }

  /** KV bucket of each partition's applied position and counts by practice, written by its owner. */
  get partitions(): string {
    return `${this.cluster}-partitions`;
  }

  /** KV bucket of live workers (entries expire after the lease time unless renewed). */
  get workers(): string {
    return `${this.cluster}-workers`;
  }

  /** KV bucket of organisation records (the hierarchy counts roll up through), by code. */
  get organisations(): string {
    return `${this.cluster}-organisations`;
  }

  /** KV bucket holding the cluster's settings (partition count, achievement date). */
  get config(): string {
    return `${this.cluster}-config`;
  }

  /** A worker's consumer of one partition. */
  consumer(partition: number, worker: string): string {
    return `p${partition}-${worker}`;
  }

  /** The KV key of a partition. */
  partitionKey(partition: number): string {
    return `p${partition}`;
  }
}
