import { createHash } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { CaregapsError, checkRecord, type CaregapsRecord, type ErrorCode, type QuarantinedRecord, type ReadResult } from '@caregaps/core';
import { partitionOf } from '@caregaps/engine';
import { Cluster, type ClusterOptions, type ClusterSettings } from './cluster.js';

export interface PublisherOptions extends ClusterOptions {
  /** Most records awaiting JetStream's acknowledgement at once (back-pressure). Default 2048. */
  inFlight?: number;
  /** How long one record is retried, under the same message id, before publishing fails (`CG_CLUSTER_PUBLISH`). Default 60 s. */
  retryMs?: number;
  /** How long to wait for one acknowledgement before retrying. Default 5 s. */
  ackTimeoutMs?: number;
  /** Called with every item refused (an invalid record or a refused read result), e.g. to write a quarantine file. */
  onRefused?: (refusal: QuarantinedRecord) => void;
}

/** What a publisher has done so far. */
export interface PublishSummary {
  /** Items handed to the publisher (records and refused read results). */
  read: number;
  /** Records the stream acknowledged as new. */
  published: number;
  /** Records the stream acknowledged as duplicates of ones it holds (same message id within its window). */
  duplicates: number;
  /** Organisation records written to the cluster's organisations bucket. */
  organisations: number;
  /** Items refused (invalid records, refused read results), by error code; kept in `refused`. */
  quarantined: Partial<Record<ErrorCode, number>>;
  /** Publish attempts repeated after a timeout or a lost connection. */
  retried: number;
}

/**
 * The message id of a record: source + id + version (DESIGN §7), so JetStream's duplicate window drops a
 * redelivery at the edge. A record without `version` adds a digest of its content instead, so a correction sent
 * without a version is a new message, not a duplicate.
 */
export function messageId(record: CaregapsRecord, bytes: Uint8Array): string {
  const version = 'version' in record && record.version !== undefined ? `v${record.version}` : `#${createHash('sha256').update(bytes).digest('base64url').slice(0, 22)}`;
  switch (record.kind) {
    case 'patient':
      return `patient|${record.nhsNumber}|${version}`;
    case 'event':
      return `event|${record.source ?? ''}|${record.id}|${version}`;
    case 'retract':
      return `retract|${record.source ?? ''}|${record.id}|${record.nhsNumber}|${version}`;
    case 'organisation':
      return `organisation|${record.code}|${version}`;
  }
}

const encoder = new TextEncoder();

/**
 * Publishes records to a cluster: each patient's records to their partition's subject (`<cluster>.records.<p>`),
 * with its message id, at most `inFlight` awaiting acknowledgement (awaiting `publish` is the back-pressure), and
 * retried under the same id when the server does not answer (a restart), so nothing is lost and nothing is
 * applied twice. Organisation records go to the organisations bucket. Invalid records are refused here and counted.
 */
export class Publisher {
  readonly summary: PublishSummary = { read: 0, published: 0, duplicates: 0, organisations: 0, quarantined: {}, retried: 0 };
  /** The first 100 items refused, with reasons (all of them go to `onRefused`). */
  readonly refused: QuarantinedRecord[] = [];
  private readonly pending = new Set<Promise<void>>();
  private failure: Error | undefined;
  /** While a retry is under way no new record is sent, so a partition's records keep their order. */
  private retrying: Promise<void> | undefined;

  private constructor(
    private readonly cluster: Cluster,
    private readonly options: PublisherOptions,
  ) {}

  /** The cluster's name and settings (partition count, achievement date). */
  get target(): { cluster: string } & ClusterSettings {
    return { cluster: this.cluster.names.cluster, ...this.cluster.settings };
  }

  static async open(options: PublisherOptions = {}): Promise<Publisher> {
    return new Publisher(await Cluster.connect(options), options);
  }

  /**
   * Publishes one item: a record, or a read result (`readRecords`), whose refusal is counted. Resolves once it is
   * sent and fewer than `inFlight` records await acknowledgement; rejects when an earlier record could not be
   * published (`CG_CLUSTER_PUBLISH`).
   */
  async publish(item: CaregapsRecord | ReadResult): Promise<void> {
    if (this.failure) throw this.failure;
    this.summary.read++;
    let record: unknown = item;
    let checked = false;
    if (isReadResult(item)) {
      if (!item.ok) return this.refuse(item);
      record = item.record;
      checked = true; // readRecords validated it
    }
    const fault = checked ? undefined : checkRecord(record);
    if (fault) {
      const id = (record as { id?: unknown } | null)?.id;
      return this.refuse({ ok: false, code: fault.code, reason: fault.message, line: isReadResult(item) ? item.line : 0, text: JSON.stringify(record)?.slice(0, 1024) ?? '', ...(typeof id === 'string' ? { recordId: id } : {}) });
    }
    const valid = record as CaregapsRecord;
    const bytes = encoder.encode(JSON.stringify(valid));
    if (valid.kind === 'organisation') {
      await this.cluster.organisations.put(valid.code, bytes);
      this.summary.organisations++;
      return;
    }
    while (this.retrying) await this.retrying;
    const subject = this.cluster.names.records(partitionOf(valid.nhsNumber, this.cluster.settings.partitions));
    const sent = this.send(subject, bytes, messageId(valid, bytes));
    this.pending.add(sent);
    sent.finally(() => this.pending.delete(sent)).catch(() => undefined);
    while (this.pending.size >= (this.options.inFlight ?? 2048)) await Promise.race(this.pending);
    if (this.failure) throw this.failure;
  }

  /** Publishes every item of a source (records or read results), then waits for every acknowledgement. */
  async publishAll(source: Iterable<CaregapsRecord | ReadResult> | AsyncIterable<CaregapsRecord | ReadResult>): Promise<PublishSummary> {
    for await (const item of source) await this.publish(item);
    return this.flush();
  }

  /** Waits until every record sent has been acknowledged; rejects if one could not be published. */
  async flush(): Promise<PublishSummary> {
    while (this.pending.size > 0) await Promise.all(this.pending);
    if (this.failure) throw this.failure;
    return this.summary;
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.pending);
    await this.cluster.close();
  }

  private refuse(refusal: QuarantinedRecord): void {
    this.summary.quarantined[refusal.code] = (this.summary.quarantined[refusal.code] ?? 0) + 1;
    if (this.refused.length < 100) this.refused.push(refusal);
    this.options.onRefused?.(refusal);
  }

  private async send(subject: string, data: Uint8Array, msgID: string): Promise<void> {
    const deadline = Date.now() + (this.options.retryMs ?? 60_000);
    for (let attempt = 0; ; attempt++) {
      try {
        const ack = await this.cluster.js.publish(subject, data, { msgID, timeout: this.options.ackTimeoutMs ?? 5000 });
        if (ack.duplicate) this.summary.duplicates++;
        else this.summary.published++;
        return;
      } catch (error) {
        if (Date.now() > deadline) {
          this.failure ??= new CaregapsError('CG_CLUSTER_PUBLISH', `JetStream did not acknowledge record ${msgID} on ${subject} within ${this.options.retryMs ?? 60_000} ms: ${(error as Error).message}`);
          throw this.failure;
        }
        this.summary.retried++;
        let done!: () => void;
        this.retrying ??= new Promise<void>((resolve) => (done = resolve)).finally(() => (this.retrying = undefined));
        await delay(Math.min(2000, 100 * 2 ** attempt));
        done?.();
      }
    }
  }
}

function isReadResult(item: unknown): item is ReadResult {
  return typeof item === 'object' && item !== null && typeof (item as { ok?: unknown }).ok === 'boolean' && !('kind' in item);
}
