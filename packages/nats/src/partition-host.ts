/**
 * One partition on a worker: its LMDB record store and the engine's partition code (hot state, statuses, horizons,
 * count deltas), behind the few calls the worker makes. This file is the only one that knows how the engine's
 * partition and store fit together, so the worker does not change when the engine offers that as one class.
 */
import {
  CaregapsError,
  PatientStore,
  readLine,
  type CaregapsRecord,
  type CodesetIndex,
  type CompiledRegistry,
  type QuarantinedRecord,
} from '@caregaps/core';
import { Partition, RecordStore, partitionOf, type Change, type PartitionQuery, type PartitionRecord, type PartitionReport, type PatientStatus } from '@caregaps/engine';

export interface PartitionHostOptions {
  /** The worker's store directory: this partition's store is `partition-<n>.mdb` in it. */
  directory: string;
  partition: number;
  /** The cluster's partition count (a record of another partition is quarantined, never applied here). */
  partitions: number;
  compiled: readonly CompiledRegistry[];
  index: CodesetIndex;
  /** Achievement day the partition evaluates on. */
  day: number;
}

/** What applying one batch did, once it has committed. */
export interface BatchOutcome {
  accepted: number;
  quarantined: number;
  stale: number;
  /** Net changes of the batch, in order. */
  changes: Change[];
}

/** One received message: its bytes and where it came from (for quarantine reports). */
export interface Received {
  data: Uint8Array;
  /** The stream sequence, reported as the "line" of a quarantined message. */
  sequence: number;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

export class PartitionHost {
  private readonly partition: Partition;
  /** The record state that decides identity and versions, as the in-process engine keeps it. */
  private readonly records = new PatientStore();
  private readonly totals = new Map<string, Int32Array>();

  private constructor(
    private readonly options: PartitionHostOptions,
    private readonly store: RecordStore,
  ) {
    this.partition = new Partition(options.compiled, options.index, options.day, false);
  }

  /** Opens (creating if missing) the partition's store and rebuilds its hot state from it, without changes. */
  static open(options: PartitionHostOptions): PartitionHost {
    const store = RecordStore.open({ directory: options.directory, partition: options.partition });
    const host = new PartitionHost(options, store);
    try {
      host.replay();
    } catch (error) {
      void store.close();
      throw error;
    }
    return host;
  }

  private replay(): void {
    const run: PartitionRecord[] = [];
    for (const stored of this.store.patients()) {
      for (const record of [stored.patient, ...stored.events, ...stored.retractions]) if (record) this.decide(record, run);
      if (run.length >= 4096) {
        this.count(this.partition.apply(run, true));
        run.length = 0;
      }
    }
    this.count(this.partition.apply(run, true));
    this.count(this.partition.flush());
  }

  /**
   * Parses, validates, commits and applies one batch of received messages: one store transaction (refusals kept in
   * its quarantine), then the partition. Throws (`CG_STORE_WRITE`, …) without applying anything when the store
   * cannot commit.
   */
  apply(batch: readonly Received[]): BatchOutcome {
    const outcome: BatchOutcome = { accepted: 0, quarantined: 0, stale: 0, changes: [] };
    const records: CaregapsRecord[] = [];
    const bytes: Uint8Array[] = [];
    const refused: QuarantinedRecord[] = [];
    for (const message of batch) {
      const refusal = (code: QuarantinedRecord['code'], reason: string, text: string): void => {
        refused.push({ ok: false, code, reason, line: message.sequence, file: `partition ${this.options.partition}`, text: text.slice(0, 1024) });
      };
      let text: string;
      try {
        text = decoder.decode(message.data);
      } catch {
        refusal('CG_RECORD_ENCODING', 'the message is not valid UTF-8', '');
        continue;
      }
      const read = readLine(text, message.sequence, `partition ${this.options.partition}`);
      if (read === undefined) continue; // a blank message carries no record
      if (!read.ok) {
        refused.push(read);
        continue;
      }
      const record = read.record;
      if (record.kind !== 'organisation' && partitionOf(record.nhsNumber, this.options.partitions) !== this.options.partition) {
        refusal('CG_CLUSTER_CONFIG', `NHS number ${record.nhsNumber} belongs to partition ${partitionOf(record.nhsNumber, this.options.partitions)} of ${this.options.partitions}, not ${this.options.partition}: the publisher uses another partition count`, text);
        continue;
      }
      records.push(record);
      bytes.push(message.data);
    }
    const written = this.store.writeSync({ records, bytes, quarantined: refused });
    outcome.quarantined = refused.length + written.quarantined.length;
    const routed: PartitionRecord[] = [];
    records.forEach((record, i) => {
      const stored = written.outcomes[i]!;
      if (stored === 'conflict') return;
      if (stored === 'stale') {
        outcome.stale++;
        return;
      }
      this.decide(record, routed);
      outcome.accepted++;
    });
    const report = this.partition.apply(routed);
    this.count(report);
    outcome.changes = report.changes;
    return outcome;
  }

  /** Moves the achievement date (re-evaluating only patients whose horizon passed); returns the changes. */
  advance(day: number): Change[] {
    const report = this.partition.advance(day);
    this.count(report);
    return report.changes;
  }

  patient(nhsNumber: string, explain: boolean): PatientStatus | undefined {
    return this.partition.patient(nhsNumber, explain);
  }

  patients(query: PartitionQuery): string[] {
    return this.partition.patients(query);
  }

  /** Counts by practice (the counter layout of `CounterLayout`), as of the last call. */
  counts(): ReadonlyMap<string, Int32Array> {
    return this.totals;
  }

  get patientCount(): number {
    return this.partition.patientCount;
  }

  /** Bytes of hot state (typed arrays) the partition holds. */
  memory(): { bytes: number; patients: number; events: number } {
    return this.partition.memory();
  }

  async close(): Promise<void> {
    await this.store.close();
  }

  /** Applies a committed record to the record state and adds what the partition must apply (as the engine does). */
  private decide(record: CaregapsRecord, routed: PartitionRecord[]): void {
    switch (record.kind) {
      case 'organisation':
        return;
      case 'retract': {
        for (const removed of this.records.retract(record).removed) routed.push({ kind: 'remove', id: removed.id, source: removed.source, nhsNumber: removed.nhsNumber });
        return;
      }
      case 'patient':
        if (this.records.apply(record).outcome === 'applied') routed.push(record);
        return;
      case 'event': {
        const applied = this.records.putEvent(record);
        if (applied.outcome !== 'applied') return;
        if (applied.held !== undefined) routed.push({ kind: 'remove', id: applied.held.id, source: applied.held.source, nhsNumber: applied.held.nhsNumber });
        routed.push(record);
        return;
      }
    }
  }

  private count(report: PartitionReport): void {
    for (const { practice, delta } of report.deltas) {
      const total = this.totals.get(practice);
      if (total === undefined) this.totals.set(practice, Int32Array.from(delta));
      else for (let k = 0; k < delta.length; k++) total[k]! += delta[k]!;
    }
  }
}

/** A store error as the worker reports it: CaregapsErrors as they are, anything else as a failed commit. */
export function storeFailure(error: unknown): CaregapsError {
  if (error instanceof CaregapsError) return error;
  return new CaregapsError('CG_STORE_WRITE', `the record store could not commit: ${(error as Error).message ?? String(error)}`);
}
