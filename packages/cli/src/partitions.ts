import { CaregapsError } from '@caregaps/core';

/** `{ partitions }` for the engine's options from `--partitions`; absent, nothing (the engine's default: one per core, or a store's own count). */
export function optionalPartitions(text: string | undefined): { partitions?: number } {
  if (text === undefined) return {};
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 1024) throw new CaregapsError('CG_USAGE', `--partitions must be a whole number from 1 to 1024, not "${text}"`);
  return { partitions: n };
}
