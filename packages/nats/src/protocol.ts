import type { CompiledRegistry } from '@caregaps/core';
import type { PartitionQuery } from '@caregaps/engine';

/**
 * A partition's state in the partitions bucket, written by its owner after each commit (compare-and-set on the
 * revision it last wrote, so a stale owner's write is refused).
 */
export interface PartitionState {
  worker: string;
  /** The owner's fencing token (the revision its lease was taken at). */
  token: number;
  /** The last stream sequence the owner's store has committed. */
  applied: number;
  /** The highest sequence whose changes any owner has published. */
  published: number;
  /** Patients whose patient record has arrived. */
  patients: number;
  /** Registries and indicators, in counter order: counts made with other registries are refused when summed. */
  layout: string[];
  /** Count vectors by practice (layout of the engine's `CounterLayout`), practices with all counts zero left out. */
  counts: Record<string, number[]>;
  updatedAt: string;
}

/** A request to a partition's owner. */
export type QueryRequest =
  | { method: 'patient'; nhsNumber: string; explain?: boolean }
  | { method: 'patients'; query: PartitionQuery }
  | { method: 'memory' };

/** The owner's answer, with the stream sequence its state is at. */
export type QueryAnswer = { ok: true; applied: number; result: unknown } | { ok: false; error: string };

/** The counter layout of a set of registries, as a list of `registry` and `registry/indicator` names. */
export function layoutOf(compiled: readonly CompiledRegistry[]): string[] {
  return compiled.flatMap((r) => [r.id, ...r.indicatorIds.map((i) => `${r.id}/${i}`)]);
}
