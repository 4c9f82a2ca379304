import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The last stream sequence a worker's store has committed for a partition: where its consumer resumes. It is
 * written after the store's transaction commits, atomically (a new file renamed over the old one) but without an
 * fsync of its own: after a crash it may name an earlier sequence than the store holds, and the messages in between
 * are applied again, which the store's identity and version decisions make harmless (a redelivery changes nothing).
 */
export function appliedFile(directory: string, partition: number): string {
  return join(directory, `partition-${partition}.applied`);
}

/** The sequence to resume after; 0 (replay the partition from its start, harmlessly) when the file is missing or unreadable. */
export function readApplied(directory: string, partition: number): number {
  const file = appliedFile(directory, partition);
  if (!existsSync(file)) return 0;
  try {
    const value = (JSON.parse(readFileSync(file, 'utf8')) as { sequence?: unknown }).sequence;
    return Number.isSafeInteger(value) && (value as number) >= 0 ? (value as number) : 0;
  } catch {
    return 0;
  }
}

export function writeApplied(directory: string, partition: number, sequence: number): void {
  const file = appliedFile(directory, partition);
  const next = `${file}.next`;
  writeFileSync(next, JSON.stringify({ sequence }));
  renameSync(next, file);
}
