import type { Partition } from '../partition/partition.js';

/** The partition methods a transport carries, with their arguments. */
export type PartitionMethod = 'apply' | 'flush' | 'advance' | 'recompute' | 'patient' | 'results' | 'patients' | 'memory' | 'counts';

/** One call to a partition: plain data, so that it can cross a thread or a broker. */
export interface PartitionCall {
  method: PartitionMethod;
  args: unknown[];
}

/** What `counts` answers: the patients and queued patients of the partition. */
export interface PartitionCounts {
  patients: number;
  queued: number;
}

/**
 * How the router reaches a partition. A call is sent with `send` and its answer taken with `take`, so the router
 * can send to every partition before taking any answer (the partitions work in parallel when they run elsewhere).
 * The partition code does not know which transport carries it.
 */
export interface PartitionLink {
  send(call: PartitionCall): void;
  take(): unknown;
  close(): void;
}

/** Runs a call on a partition object (what every transport does at the partition's end). */
export function invoke(partition: Partition, call: PartitionCall): unknown {
  const a = call.args;
  switch (call.method) {
    case 'apply':
      return partition.apply(a[0] as Parameters<Partition['apply']>[0], a[1] as boolean);
    case 'flush':
      return partition.flush();
    case 'advance':
      return partition.advance(a[0] as number);
    case 'recompute':
      return partition.recompute();
    case 'patient':
      return partition.patient(a[0] as string, a[1] as boolean);
    case 'results':
      return partition.results(a[0] as boolean);
    case 'patients':
      return partition.patients(a[0] as Parameters<Partition['patients']>[0]);
    case 'memory':
      return partition.memory();
    case 'counts':
      return { patients: partition.patientCount, queued: partition.queuedCount } satisfies PartitionCounts;
  }
}

/** A partition in the engine's own thread: the call runs when it is sent. */
export class InThreadLink implements PartitionLink {
  private answer: unknown;

  constructor(private readonly partition: Partition) {}

  send(call: PartitionCall): void {
    this.answer = invoke(this.partition, call);
  }

  take(): unknown {
    const answer = this.answer;
    this.answer = undefined;
    return answer;
  }

  close(): void {}
}
