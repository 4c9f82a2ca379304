import { CaregapsError } from '@caregaps/core';
import type { KV } from '@nats-io/kv';
import { isWrongSequence } from './cluster.js';

/** What a lease entry holds: who has the partition and since when. */
export interface LeaseValue {
  worker: string;
  takenAt: string;
}

/**
 * A worker's lease on one partition, in the leases KV bucket (whose entries expire after the lease time unless
 * renewed). It is taken by compare-and-set on "no entry" and renewed by compare-and-set on the revision it last
 * wrote, so the server refuses the renewal of a worker whose lease expired or was taken meanwhile, however long
 * that worker was paused. `token` (the revision at which it was taken) grows with every new owner: it is the
 * fencing token stamped on what the owner publishes.
 */
export class Lease {
  private chain: Promise<void> = Promise.resolve();
  private lost = false;

  private constructor(
    private readonly kv: KV,
    readonly key: string,
    readonly worker: string,
    private revision: number,
  ) {
    this.token = revision;
  }

  /** The revision at which the lease was taken: the fencing token. */
  readonly token: number;

  /** Takes the lease if nobody holds it; `undefined` when another worker does. */
  static async take(kv: KV, key: string, worker: string): Promise<Lease | undefined> {
    const value: LeaseValue = { worker, takenAt: new Date().toISOString() };
    try {
      return new Lease(kv, key, worker, await kv.create(key, JSON.stringify(value)));
    } catch (error) {
      if (isWrongSequence(error)) return undefined;
      throw error;
    }
  }

  /** Whether a renewal has been refused (the lease is gone for good). */
  get isLost(): boolean {
    return this.lost;
  }

  /**
   * Renews the lease by compare-and-set on its revision, or throws `CG_CLUSTER_LEASE_LOST` when the server refuses
   * it. Called before every commit (the fencing check) and on the worker's heartbeat; renewals run one at a time.
   */
  renew(): Promise<void> {
    const next = this.chain.then(() => this.renewNow());
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async renewNow(): Promise<void> {
    if (this.lost) throw this.lostError();
    const value: LeaseValue = { worker: this.worker, takenAt: new Date().toISOString() };
    try {
      this.revision = await this.kv.update(this.key, JSON.stringify(value), this.revision);
    } catch (error) {
      if (!isWrongSequence(error)) throw error;
      this.lost = true;
      throw this.lostError();
    }
  }

  /** Gives the lease up (only if it is still ours), so another worker can take the partition at once. */
  async release(): Promise<void> {
    await this.chain;
    if (this.lost) return;
    this.lost = true;
    await this.kv.delete(this.key, { previousSeq: this.revision }).catch(() => undefined);
  }

  private lostError(): CaregapsError {
    return new CaregapsError('CG_CLUSTER_LEASE_LOST', `worker ${this.worker} lost its lease ${this.key} (taken at revision ${this.token}): another worker owns the partition now`);
  }
}
