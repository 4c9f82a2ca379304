import type { OrganisationRecord, QuarantinedRecord } from '@caregaps/core';
import type { Aggregates } from './aggregates.js';
import type { BatchReport, Release } from './partition/host.js';
import type { PartitionReport } from './partition/partition.js';
import type { PartitionCall, PartitionLink } from './transport/link.js';
import type { Change, RecordWrite } from './types.js';

export { partitionOf } from './partition/route.js';

/** What a routed batch did, over every partition. */
export interface RoutedSummary {
  accepted: number;
  quarantined: number;
  stale: number;
}

/**
 * A batch on its way to the partitions: per item, its partition, its patient (the NHS number as routed; `undefined`
 * for none) and the hash of its event id (`identityHash`; -1 when it has none). The items are sent in rounds: a
 * record of an identity that an earlier record of the batch has in another partition goes in a later round, so that
 * its partition's cross-partition identity check (`PartitionHost`) sees the earlier one committed.
 */
export class RoutedBatch {
  readonly partition: number[] = [];
  readonly identity: number[] = [];
  readonly patient: unknown[] = [];

  add(partition: number, identity: number, patient: unknown): void {
    this.partition.push(partition);
    this.identity.push(identity);
    this.patient.push(patient);
  }

  get size(): number {
    return this.partition.length;
  }

  clear(): void {
    this.partition.length = 0;
    this.identity.length = 0;
    this.patient.length = 0;
  }

  /**
   * The round of each item, and the last round each partition has items in. A patient's records keep their order
   * (their round never goes down); a record whose identity an earlier record has in another partition goes in the
   * round after that record's. One round unless an identity is shared by patients of two partitions in one batch
   * (a conflict or a correction).
   */
  rounds(partitions: number): { round: Int32Array; count: number; last: Int32Array } {
    const round = new Int32Array(this.size);
    const last = new Int32Array(partitions).fill(-1);
    if (partitions === 1) {
      if (this.size > 0) last[0] = 0;
      return { round, count: this.size > 0 ? 1 : 0, last };
    }
    const ofPatient = new Map<unknown, number>();
    /** identity hash → round * 1024 + partition of its latest item. */
    const ofIdentity = new Map<number, number>();
    let count = 0;
    for (let i = 0; i < this.size; i++) {
      const p = this.partition[i]!;
      const patient = this.patient[i];
      let r = patient === undefined ? 0 : (ofPatient.get(patient) ?? 0);
      const h = this.identity[i]!;
      if (h !== -1) {
        const seen = ofIdentity.get(h);
        if (seen !== undefined) {
          const seenRound = Math.floor(seen / 1024);
          r = Math.max(r, seen % 1024 === p ? seenRound : seenRound + 1);
        }
        ofIdentity.set(h, r * 1024 + p);
      }
      if (patient !== undefined) ofPatient.set(patient, r);
      round[i] = r;
      if (r > last[p]!) last[p] = r;
      if (r + 1 > count) count = r + 1;
    }
    return { round, count, last };
  }
}

/**
 * FNV-1a over an event id (as UTF-16 code units), for `RoutedBatch`. The source is left out on purpose: a retraction
 * without source touches the id in every source, so records of one id in two partitions are ordered whatever their
 * sources (two sources' ids that happen to match cost an extra round, never a wrong verdict).
 */
export function identityHash(id: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), 0x01000193);
  return (hash >>> 0) & 0x7fffffff;
}

/**
 * Sends batches to the partitions that own their patients and merges what the partitions report: changes go out in
 * order per partition, count deltas are added up the organisation hierarchy (which only the router holds),
 * refusals are gathered, organisation records applied, and identities a correction moved between partitions are
 * released where they were. The router holds no record or event: only the organisations and the counts.
 */
export class Router {
  constructor(
    readonly links: readonly PartitionLink[],
    private readonly aggregates: Aggregates,
    private readonly emit: (change: Change) => void,
    private readonly organisation: (record: OrganisationRecord) => void,
    private readonly refused: (refusal: QuarantinedRecord) => void,
    /** Told each patient and organisation record a round stored, once every answer of the round is taken. */
    private readonly written: (write: RecordWrite) => void = () => undefined,
  ) {}

  /** Records stored by the reports received and not yet told (`written`). */
  private writes: RecordWrite[] | undefined;

  /**
   * Sends one round's call to each partition that has items in it (`callOf` gives it, or `undefined` for none),
   * then merges every answer and releases what corrections moved. Returns when every partition has committed.
   */
  round(callOf: (partition: number) => PartitionCall | undefined, summary: RoutedSummary): void {
    this.collect(this.dispatch(callOf), summary);
  }

  /** Sends a round without waiting (the partitions work while this thread prepares the next): `collect` it next. */
  dispatch(callOf: (partition: number) => PartitionCall | undefined): number[] {
    const sent: number[] = [];
    this.links.forEach((link, p) => {
      const call = callOf(p);
      if (call === undefined) return;
      link.send(call);
      sent.push(p);
    });
    return sent;
  }

  /** Takes the answers of a dispatched round, merges them and releases what corrections moved. */
  collect(sent: readonly number[], summary: RoutedSummary): void {
    let releases: Release[][] | undefined; // per partition, made for the first correction that moved an identity
    let failure: unknown;
    for (const p of sent) {
      try {
        const report = this.links[p]!.take() as BatchReport;
        summary.accepted += report.accepted;
        summary.quarantined += report.quarantined;
        summary.stale += report.stale;
        for (const refusal of report.refused) this.refused(refusal);
        for (const org of report.organisations) this.organisation(org);
        for (const release of report.releases) (releases ??= this.links.map(() => []))[release.partition]!.push(release);
        this.receive(report);
      } catch (error) {
        // Every answer is taken (each link is free again) before the first failure is thrown.
        failure ??= error;
      }
    }
    this.tellWrites(); // what committed, even when another partition failed: every link is free by now
    if (failure !== undefined) throw failure;
    const moved = releases;
    if (moved) this.all((p) => (moved[p]!.length > 0 ? { method: 'release', args: [moved[p]!] } : undefined)).forEach((r) => this.receive(r as PartitionReport));
  }

  flush(): void {
    this.all(() => ({ method: 'flush', args: [] })).forEach((r) => this.receive(r as PartitionReport));
  }

  advance(day: number): void {
    this.all(() => ({ method: 'advance', args: [day] })).forEach((r) => this.receive(r as PartitionReport));
  }

  recompute(): void {
    this.all(() => ({ method: 'recompute', args: [] })).forEach((r) => this.receive(r as PartitionReport));
  }

  /** Sends a call to every partition (or those `callOf` gives one), then takes every answer (in partition order). */
  all(callOf: (partition: number) => PartitionCall | undefined): unknown[] {
    const sent = this.dispatch(callOf);
    const answers: unknown[] = [];
    let failure: unknown;
    for (const p of sent) {
      try {
        answers.push(this.links[p]!.take());
      } catch (error) {
        failure ??= error;
      }
    }
    if (failure !== undefined) throw failure;
    return answers;
  }

  /** Asks one partition. */
  ask(partition: number, call: PartitionCall): unknown {
    const link = this.links[partition]!;
    link.send(call);
    return link.take();
  }

  /** Adds a report's count deltas up the hierarchy, emits its changes and keeps the records it stored to tell. */
  receive(report: PartitionReport): void {
    for (const delta of report.deltas) this.aggregates.addDelta(delta.practice, delta.delta);
    for (const change of report.changes) this.emit(change);
    const { organisations, patients } = report as Partial<BatchReport>;
    for (const org of organisations ?? []) (this.writes ??= []).push({ kind: 'organisation', code: org.code });
    for (const nhsNumber of patients ?? []) (this.writes ??= []).push({ kind: 'patient', nhsNumber });
  }

  private tellWrites(): void {
    const writes = this.writes;
    this.writes = undefined;
    for (const write of writes ?? []) this.written(write);
  }
}
