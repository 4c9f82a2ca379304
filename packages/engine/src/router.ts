import type { OrganisationRecord } from '@caregaps/core';
import type { Aggregates } from './aggregates.js';
import type { PartitionRecord, PartitionReport } from './partition/partition.js';
import type { PartitionCall, PartitionLink } from './transport/link.js';
import type { Change } from './types.js';

/** The partition of an NHS number: FNV-1a over its digits, modulo the number of partitions. */
export function partitionOf(nhsNumber: string, partitions: number): number {
  if (partitions === 1) return 0;
  let hash = 0x811c9dc5;
  for (let i = 0; i < nhsNumber.length; i++) hash = Math.imul(hash ^ nhsNumber.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % partitions;
}

/**
 * Routes records to the partition that owns their patient, and merges what the partitions report: changes go out in
 * order per partition, count deltas are added up the organisation hierarchy (which only the router holds).
 * Organisation records stay here. Records arrive decided: the record state has settled identity and versions, and
 * a removal names the patient whose event goes (so a declared correction reaches the partition it leaves).
 */
export class Router {
  private readonly queues: PartitionRecord[][];

  constructor(
    readonly links: readonly PartitionLink[],
    private readonly aggregates: Aggregates,
    private readonly emit: (change: Change) => void,
    private readonly organisation: (record: OrganisationRecord) => void,
  ) {
    this.queues = links.map(() => []);
  }

  /** Applies records in order; with `hold`, the partitions evaluate what they touched only at `flush`. */
  route(records: readonly PartitionRecord[], hold = false): void {
    const parts = this.links.length;
    for (const record of records) {
      if (record.kind === 'organisation') this.organisation(record);
      else this.queues[partitionOf(record.nhsNumber, parts)]!.push(record);
    }
    const sent: PartitionLink[] = [];
    this.links.forEach((link, p) => {
      const queue = this.queues[p]!;
      if (queue.length === 0) return;
      link.send({ method: 'apply', args: [queue, hold] });
      sent.push(link);
    });
    for (const link of sent) this.receive(link.take() as PartitionReport);
    for (const queue of this.queues) queue.length = 0;
  }

  flush(): void {
    this.all({ method: 'flush', args: [] }).forEach((r) => this.receive(r as PartitionReport));
  }

  advance(day: number): void {
    this.all({ method: 'advance', args: [day] }).forEach((r) => this.receive(r as PartitionReport));
  }

  recompute(): void {
    this.all({ method: 'recompute', args: [] }).forEach((r) => this.receive(r as PartitionReport));
  }

  /** Sends a call to every partition, then takes every answer (in partition order). */
  all(call: PartitionCall): unknown[] {
    for (const link of this.links) link.send(call);
    return this.links.map((link) => link.take());
  }

  /** Asks the partition that owns an NHS number. */
  ask(nhsNumber: string, call: PartitionCall): unknown {
    const link = this.links[partitionOf(nhsNumber, this.links.length)]!;
    link.send(call);
    return link.take();
  }

  close(): void {
    for (const link of this.links) link.close();
  }

  private receive(report: PartitionReport): void {
    for (const delta of report.deltas) this.aggregates.addDelta(delta.practice, delta.delta);
    for (const change of report.changes) this.emit(change);
  }
}
