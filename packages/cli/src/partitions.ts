import { CaregapsError } from '@caregaps/core';

/** The `--partitions` option as a number (absent: 1). */
export function partitionsOf(text: string | undefined): number {
  if (text === undefined) return 1;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 1024) throw new CaregapsError('CG_USAGE', `--partitions must be a whole number from 1 to 1024, not "${text}"`);
  return n;
}
