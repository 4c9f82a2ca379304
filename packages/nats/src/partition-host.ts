/**
 * One partition on a worker: the engine's `PartitionHost` (its LMDB record store and hot state) fed with the
 * messages of the partition's subject as NDJSON lines, with the partition's counts by practice kept up to date
 * from the count deltas it reports (the cluster publishes totals, not deltas).
 */
import { existsSync } from 'node:fs';
import { CaregapsError, type CodesetIndex, type CompiledRegistry } from '@caregaps/core';
import { PartitionHost, RecordStore, partitionFile, type Change, type LineBatch, type PartitionQuery, type PartitionReport, type PatientStatus } from '@caregaps/engine';

export interface LocalPartitionOptions {
  /** The worker's store directory: this partition's store is `partition-<n>.mdb` in it. */
  directory: string;
  partition: number;
  /** The cluster's partition count. */
  partitions: number;
  compiled: readonly CompiledRegistry[];
  index: CodesetIndex;
  /** Achievement day for a store that has none yet. */
  day: number;
  /** Named in quarantine reports as the "file" of a refused message (its "line" is the stream sequence). */
  subject: string;
}

/** What applying one batch did, once it has committed. */
export interface BatchOutcome {
  accepted: number;
  quarantined: number;
  stale: number;
  /** Net changes of the batch, in order. */
  changes: Change[];
}

/** One received message: its bytes and its stream sequence. */
export interface Received {
  data: Uint8Array;
  sequence: number;
}

export class LocalPartition {
  private readonly totals = new Map<string, Int32Array>();

  private constructor(
    private readonly host: PartitionHost,
    private readonly subject: string,
  ) {
    this.count(host.flush());
  }

  /**
   * Opens (creating if missing) the partition's store and rebuilds its hot state from it. The engine's partition
   * checks an identity it does not hold against its sibling partitions' stores in the same directory; on a worker
   * those are the partitions it holds or held, and an empty store stands for each one it never held (so the check
   * sees no holder there, as in one partition of its own).
   */
  static async open(options: LocalPartitionOptions): Promise<LocalPartition> {
    for (let p = 0; p < options.partitions; p++) {
      if (p === options.partition || existsSync(partitionFile(options.directory, p))) continue;
      await RecordStore.open({ directory: options.directory, partition: p }).close();
    }
    const host = PartitionHost.open({
      registries: options.compiled,
      index: options.index,
      day: options.day,
      directory: options.directory,
      partition: options.partition,
      partitions: options.partitions,
    });
    return new LocalPartition(host, options.subject);
  }

  /**
   * Parses, validates, commits (one store transaction, refusals kept in its quarantine) and applies a batch of
   * messages. Throws (`CG_STORE_WRITE`, …) with nothing applied when the store cannot commit.
   */
  apply(batch: readonly Received[]): BatchOutcome {
    let size = 0;
    for (const m of batch) size += m.data.length;
    const lines: LineBatch = { bytes: new Uint8Array(size), starts: new Int32Array(batch.length), ends: new Int32Array(batch.length), lines: new Float64Array(batch.length), file: this.subject };
    let at = 0;
    batch.forEach((m, i) => {
      lines.bytes.set(m.data, at);
      lines.starts[i] = at;
      at += m.data.length;
      lines.ends[i] = at;
      lines.lines[i] = m.sequence;
    });
    const report = this.host.applyLines(lines);
    this.count(report);
    return { accepted: report.accepted, quarantined: report.quarantined, stale: report.stale, changes: report.changes };
  }

  /** Moves the achievement date (re-evaluating only patients whose horizon passed); returns the changes. */
  advance(day: number): Change[] {
    const report = this.host.advance(day);
    this.count(report);
    return report.changes;
  }

  patient(nhsNumber: string, explain: boolean): PatientStatus | undefined {
    return this.host.patient(nhsNumber, explain);
  }

  patients(query: PartitionQuery): string[] {
    return this.host.patients(query);
  }

  /** Counts by practice (the counter layout of `CounterLayout`), as of the last call. */
  counts(): ReadonlyMap<string, Int32Array> {
    return this.totals;
  }

  get patientCount(): number {
    return this.host.counts().patients;
  }

  /** Bytes of hot state (typed arrays) the partition holds. */
  memory(): { bytes: number; patients: number; events: number } {
    return this.host.memory();
  }

  async close(): Promise<void> {
    await this.host.close();
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
