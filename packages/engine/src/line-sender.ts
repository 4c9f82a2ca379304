import { lineBatchOf, type ChunkLines } from './ndjson.js';
import type { RoutedBatch, RoutedSummary, Router } from './router.js';
import type { PartitionCall } from './transport/link.js';

/**
 * Sends batches of NDJSON lines to the partitions that own them (`ingest`, `ingestNdjson`), in as many rounds as their
 * identities need (`RoutedBatch.rounds`). A batch of one round may stay in flight while the engine thread prepares
 * the next (the partitions parse and commit it meanwhile); it is collected — committed in every partition, its
 * refusals, changes and counts merged — before the next is sent, and only then acknowledged.
 */
export class LineSender {
  private inFlight: { sent: number[]; lines: number } | undefined;
  private acknowledged = 0;

  constructor(
    private readonly router: Router,
    private readonly partitions: number,
    readonly summary: RoutedSummary,
    /** Called after each batch is committed everywhere, with the number of lines acknowledged so far. */
    private readonly onAcknowledged: (acknowledged: number) => void,
  ) {}

  /**
   * Sends lines `[from, to)` of a chunk, routed by `routed` (one entry per line, in order). With `wait`, returns once
   * they are committed and acknowledged; otherwise a batch of one round is left in flight.
   */
  send(chunk: ChunkLines, from: number, to: number, routed: RoutedBatch, file: string | undefined, hold: boolean, wait: boolean): void {
    const parts = this.partitions;
    const { round, count, last } = routed.rounds(parts);
    const picked: number[][] = Array.from({ length: count * parts }, () => []);
    for (let i = from; i < to; i++) picked[round[i - from]! * parts + routed.partition[i - from]!]!.push(i);
    const callOf = (r: number) => (p: number): PartitionCall | undefined => {
      const mine = picked[r * parts + p]!;
      return mine.length === 0 ? undefined : { method: 'applyLines', args: [lineBatchOf(chunk, mine, file, last[p] === r), hold] };
    };
    this.settle();
    if (count === 1) {
      this.inFlight = { sent: this.router.dispatch(callOf(0)), lines: to - from };
      if (wait) this.settle();
    } else if (count > 1) {
      for (let r = 0; r < count; r++) this.router.round(callOf(r), this.summary);
      this.acknowledge(to - from);
    }
  }

  /** Collects the batch in flight, if any, and acknowledges it. */
  settle(): void {
    if (!this.inFlight) return;
    const { sent, lines } = this.inFlight;
    this.inFlight = undefined;
    this.router.collect(sent, this.summary);
    this.acknowledge(lines);
  }

  /** After a failure: takes whatever is still in flight, unacknowledged, so the partitions are free for the next call. */
  abandon(): void {
    if (!this.inFlight) return;
    const { sent } = this.inFlight;
    this.inFlight = undefined;
    this.router.collect(sent, { accepted: 0, quarantined: 0, stale: 0 });
  }

  private acknowledge(lines: number): void {
    this.acknowledged += lines;
    this.onAcknowledged(this.acknowledged);
  }
}
