import type { CodesetIndex, EventRecord } from '@caregaps/core';

/** A patient's events, oldest first (ties by id), as the record view lists them. */
export function eventsByDate(events: Iterable<EventRecord>): EventRecord[] {
  return [...events].sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : a.id < b.id ? -1 : 1));
}

/** The names of the clusters a code belongs to. */
export function clusterNames(index: CodesetIndex, code: string): string[] {
  return index.clustersOf(code).map((n) => index.clusters[n]!);
}

/** The term a codeset gives a code, from the first of its clusters that has one. */
export function termOf(index: CodesetIndex, code: string): string | undefined {
  for (const cluster of clusterNames(index, code)) {
    const term = index.codeset(cluster)?.codes.get(code);
    if (term) return term;
  }
  return undefined;
}
