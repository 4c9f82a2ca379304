import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { CaregapsError } from '@caregaps/core';

/**
 * The last stream sequence a worker's store has committed for a partition: where its consumer resumes. It is
 * written after the store's transaction commits (a crash in between replays a few messages, which the store's
 * identity and version decisions make harmless), atomically (a new file renamed over the old one).
 */
export function appliedFile(directory: string, partition: number): string {
  return join(directory, `partition-${partition}.applied`);
}

export function readApplied(directory: string, partition: number): number {
  const file = appliedFile(directory, partition);
  if (!existsSync(file)) return 0;
  const value = (JSON.parse(readFileSync(file, 'utf8')) as { sequence?: unknown }).sequence;
  if (!Number.isSafeInteger(value) || (value as number) < 0) throw new CaregapsError('CG_STORE_DAMAGED', `${file} does not hold a stream sequence`);
  return value as number;
}

export function writeApplied(directory: string, partition: number, sequence: number): void {
  const file = appliedFile(directory, partition);
  const next = `${file}.next`;
  const fd = openSync(next, 'w');
  try {
    writeSync(fd, JSON.stringify({ sequence }));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(next, file);
}
