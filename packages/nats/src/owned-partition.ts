import { CaregapsError, achievementDay, type CodesetIndex, type CompiledRegistry } from '@caregaps/core';
import type { Change, PartitionQuery } from '@caregaps/engine';
import { AckPolicy, DeliverPolicy, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { headers, type Subscription } from '@nats-io/transport-node';
import { readApplied, writeApplied } from './applied.js';
import { isWrongSequence, type Cluster } from './cluster.js';
import type { Lease } from './lease.js';
import { LocalPartition, storeFailure } from './partition-host.js';
import { layoutOf, type PartitionState, type QueryRequest, type QueryAnswer } from './protocol.js';

/** What an owned partition needs from its worker. */
export interface PartitionContext {
  cluster: Cluster;
  worker: string;
  store: string;
  compiled: readonly CompiledRegistry[];
  index: CodesetIndex;
  /** Most messages committed in one store transaction. */
  batchSize: number;
  /**
   * The partition stopped by itself: its lease was lost (`CG_CLUSTER_LEASE_LOST`), or its store failed (a
   * `StoreFailure`: then the worker stops too).
   */
  onStopped(partition: number, error: Error): void;
  /** Commit progress, for benchmarks and tests: messages applied so far in this partition. */
  onCommitted?(partition: number, applied: number, count: number): void;
}

/** The store could not commit (disk full, damage): the worker must stop acknowledging. */
export class StoreFailure extends Error {
  constructor(readonly failure: CaregapsError) {
    super(failure.message);
  }
}

/** Header of a change message: the fencing token of the owner that published it. */
export const TOKEN_HEADER = 'Caregaps-Token';

/** Longest a batch waits for more messages after its first. */
const LINGER_MS = 25;
/** Shortest time between two writes of a partition's state (its counts are read from there). */
const STATE_MS = 200;

/**
 * A partition this worker holds the lease of: its store and hot state (`LocalPartition`), a consumer of its subject
 * starting after what the store has committed, and the query subscription. Each batch is fenced (the lease renewed
 * by compare-and-set), committed, recorded as applied, acknowledged, and then its counts and changes published.
 */
export class OwnedPartition {
  private host: LocalPartition | undefined;
  private messages: ConsumerMessages | undefined;
  private query: Subscription | undefined;
  private loop: Promise<void> | undefined;
  private applied = 0;
  /** Highest sequence whose changes some owner has published: replays below it publish none again. */
  private publishedUpTo = 0;
  private stateDue = false;
  private stateWriting: Promise<void> | undefined;
  private stateRevision = 0;
  private serial: Promise<unknown> = Promise.resolve();
  private stopping = false;

  constructor(
    readonly partition: number,
    readonly lease: Lease,
    private readonly context: PartitionContext,
  ) {}

  private get names() {
    return this.context.cluster.names;
  }

  private get key(): string {
    return this.names.partitionKey(this.partition);
  }

  /** Opens the store, claims the partition's state, and starts consuming after what the store has committed. */
  async start(): Promise<void> {
    const { cluster, store } = this.context;
    const settings = await cluster.currentSettings();
    this.host = await LocalPartition.open({
      directory: store,
      partition: this.partition,
      partitions: cluster.settings.partitions,
      compiled: this.context.compiled,
      index: this.context.index,
      day: achievementDay(settings.asOf),
      subject: this.names.records(this.partition),
    });
    this.applied = readApplied(store, this.partition);
    const previous = await cluster.partitionState.get(this.key);
    if (previous && previous.operation === 'PUT') {
      this.stateRevision = previous.revision;
      this.publishedUpTo = (previous.json() as PartitionState).published;
    }
    await this.writeState();
    await this.replaceConsumers();
    this.query = cluster.nc.subscribe(this.names.query(this.partition), {
      callback: (error, msg) => {
        if (!error) msg.respond(this.answer(msg.data));
      },
    });
    const consumer = await cluster.js.consumers.get(this.names.stream, this.names.consumer(this.partition, this.context.worker));
    this.messages = await consumer.consume({ max_messages: this.context.batchSize * 2 });
    this.loop = this.consume(this.messages);
  }

  /** Deletes earlier owners' consumers of this partition and creates this worker's, after its committed sequence. */
  private async replaceConsumers(): Promise<void> {
    const { jsm } = this.context.cluster;
    const prefix = `p${this.partition}-`;
    for await (const info of jsm.consumers.list(this.names.stream)) {
      if (info.name.startsWith(prefix)) await jsm.consumers.delete(this.names.stream, info.name).catch(() => undefined);
    }
    await jsm.consumers.add(this.names.stream, {
      durable_name: this.names.consumer(this.partition, this.context.worker),
      filter_subject: this.names.records(this.partition),
      ack_policy: AckPolicy.All,
      ack_wait: 60_000_000_000,
      max_ack_pending: this.context.batchSize * 4,
      ...(this.applied > 0 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.applied + 1 } : { deliver_policy: DeliverPolicy.All }),
    });
  }

  /**
   * Collects a batch (until it is full, or `LINGER_MS` after its first message) and commits it, again and again:
   * a busy stream makes big batches, a quiet one is committed promptly.
   */
  private async consume(messages: ConsumerMessages): Promise<void> {
    const iterator = messages[Symbol.asyncIterator]();
    try {
      let next = iterator.next();
      for (;;) {
        const first = await next;
        if (first.done) return;
        const batch: JsMsg[] = [first.value];
        next = iterator.next();
        let ended = false;
        const linger = new Promise<'linger'>((resolve) => setTimeout(() => resolve('linger'), LINGER_MS));
        while (batch.length < this.context.batchSize) {
          const r = await Promise.race([next, linger]);
          if (r === 'linger') break;
          if (r.done) {
            ended = true;
            break;
          }
          batch.push(r.value);
          next = iterator.next();
        }
        await this.exclusive(() => this.commit(batch));
        if (ended || this.stopping) return;
      }
    } catch (error) {
      this.stopOnError(error as Error);
    }
  }

  /** Fence, commit, record, acknowledge, publish: in that order, so nothing is acknowledged before it is durable. */
  private async commit(batch: JsMsg[]): Promise<void> {
    const host = this.host!;
    const fresh = batch.filter((m) => m.seq > this.applied);
    let changes: Change[] = [];
    if (fresh.length > 0) {
      await this.fence();
      // Messages some owner has published changes for are applied quietly (a takeover catching up).
      const quiet = fresh.filter((m) => m.seq <= this.publishedUpTo);
      const loud = quiet.length === fresh.length ? [] : fresh.slice(quiet.length);
      try {
        if (quiet.length > 0) host.apply(quiet.map((m) => ({ data: m.data, sequence: m.seq })));
        if (loud.length > 0) changes = host.apply(loud.map((m) => ({ data: m.data, sequence: m.seq }))).changes;
        this.applied = fresh[fresh.length - 1]!.seq;
        writeApplied(this.context.store, this.partition, this.applied);
      } catch (error) {
        throw new StoreFailure(storeFailure(error));
      }
      this.context.onCommitted?.(this.partition, this.applied, fresh.length);
    }
    // AckPolicy.All: acknowledging the last acknowledges the batch. A lost acknowledgement only means a redelivery,
    // which the applied sequence skips.
    batch[batch.length - 1]!.ack();
    if (fresh.length > 0) this.published(changes);
  }

  /** Publishes changes now, and the partition's state (counts, applied position) soon: at most every STATE_MS. */
  private published(changes: Change[]): void {
    this.publishChanges(changes);
    this.stateDue = true;
    this.stateWriting ??= (async () => {
      while (this.stateDue && !this.stopping) {
        this.stateDue = false;
        await this.writeState();
        await new Promise((resolve) => setTimeout(resolve, STATE_MS));
      }
    })()
      .catch((error: Error) => this.stopOnError(error))
      .finally(() => (this.stateWriting = undefined));
  }

  /** Moves the achievement date of this partition and publishes the changes and counts. */
  advance(day: number): Promise<void> {
    return this.exclusive(async () => {
      if (!this.host || this.stopping) return;
      await this.fence();
      this.published(this.host.advance(day));
    });
  }

  /**
   * The fencing check before a commit: the lease renewed by compare-and-set. When the server cannot be asked (a
   * restart, a network split) the lease cannot be proved either, so that counts as lost too: nothing is committed.
   */
  private async fence(): Promise<void> {
    try {
      await this.lease.renew();
    } catch (error) {
      if (error instanceof CaregapsError) throw error;
      throw new CaregapsError('CG_CLUSTER_LEASE_LOST', `partition ${this.partition}: the lease could not be renewed (${(error as Error).message}), so the batch in hand is not committed`);
    }
  }

  /**
   * Writes the partition's state (applied position, counts by practice) by compare-and-set on the revision this
   * owner last wrote. A write refused because a stale owner wrote in between is repeated over it; one refused
   * because a newer owner wrote means this lease is lost. Changes up to `applied` have been published by then.
   */
  private async writeState(): Promise<void> {
    const host = this.host;
    if (!host) return;
    this.publishedUpTo = Math.max(this.publishedUpTo, this.applied);
    const state: PartitionState = {
      worker: this.context.worker,
      token: this.lease.token,
      applied: this.applied,
      published: this.publishedUpTo,
      patients: host.patientCount,
      layout: layoutOf(this.context.compiled),
      counts: Object.fromEntries([...host.counts()].filter(([, v]) => v.some((x) => x !== 0)).map(([practice, v]) => [practice, [...v]])),
      updatedAt: new Date().toISOString(),
    };
    const kv = this.context.cluster.partitionState;
    for (let attempt = 0; ; attempt++) {
      try {
        this.stateRevision = this.stateRevision === 0 ? await kv.create(this.key, JSON.stringify(state)) : await kv.update(this.key, JSON.stringify(state), this.stateRevision);
        return;
      } catch (error) {
        if (!isWrongSequence(error) || attempt === 3) {
          throw new CaregapsError('CG_CLUSTER_LEASE_LOST', `partition ${this.partition}: its state could not be written (${(error as Error).message}); it is handed back`);
        }
        const held = await kv.get(this.key);
        const holder = held?.operation === 'PUT' ? (held.json() as PartitionState) : undefined;
        if (holder && holder.token > this.lease.token) {
          throw new CaregapsError('CG_CLUSTER_LEASE_LOST', `partition ${this.partition}: worker ${holder.worker} owns it now (fencing token ${holder.token} > ${this.lease.token})`);
        }
        this.stateRevision = held?.revision ?? 0;
      }
    }
  }

  private publishChanges(changes: Change[]): void {
    if (changes.length === 0) return;
    const h = headers();
    h.set(TOKEN_HEADER, String(this.lease.token));
    this.context.cluster.nc.publish(this.names.changes(this.partition), JSON.stringify(changes), { headers: h });
  }

  private answer(data: Uint8Array): string {
    const host = this.host;
    let answer: QueryAnswer;
    try {
      const request = JSON.parse(new TextDecoder().decode(data)) as QueryRequest;
      if (!host || this.stopping) answer = { ok: false, error: `partition ${this.partition} is being handed over` };
      else if (request.method === 'patient') answer = { ok: true, applied: this.applied, result: host.patient(String(request.nhsNumber), request.explain === true) ?? null };
      else if (request.method === 'patients') answer = { ok: true, applied: this.applied, result: host.patients(request.query as PartitionQuery) };
      else if (request.method === 'memory') answer = { ok: true, applied: this.applied, result: { ...host.memory(), patientRecords: host.patientCount } };
      else answer = { ok: false, error: `unknown method ${String((request as { method?: unknown }).method)}` };
    } catch (error) {
      answer = { ok: false, error: (error as Error).message };
    }
    return JSON.stringify(answer);
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.serial.then(work);
    this.serial = run.catch(() => undefined);
    return run;
  }

  private stopOnError(error: Error): void {
    if (this.stopping) return;
    this.context.onStopped(this.partition, error);
  }

  /**
   * Stops consuming, lets a commit in progress finish, and closes the store; with `release`, gives the lease up
   * (a clean hand-over), otherwise leaves it to expire or to its new owner.
   */
  async stop(release: boolean): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.messages?.stop();
    this.query?.unsubscribe();
    await this.loop;
    await this.serial;
    await this.stateWriting;
    // The last counts, unless the lease is gone.
    if (release) await this.writeState().catch(() => undefined);
    const { jsm, names } = { jsm: this.context.cluster.jsm, names: this.names };
    if (release) {
      await jsm.consumers.delete(names.stream, names.consumer(this.partition, this.context.worker)).catch(() => undefined);
      await this.lease.release();
    }
    await this.host?.close();
    this.host = undefined;
  }
}
