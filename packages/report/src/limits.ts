/**
 * Funnel-plot control limits for a proportion (binomial, normal approximation), as used to show unwarranted
 * variation between practices: p ± z·sqrt(p(1−p)/n).
 * @module
 */

/** z for the 95 % limits (two-sided, about 1 in 20 practices outside by chance). */
export const Z95 = 1.96;
/** z for the 99.8 % limits (two-sided, about 1 in 500 practices outside by chance). */
export const Z998 = 3.09;

/** Lower and upper limits of one band, clamped to [0, 1]. */
export interface Band {
  lower: number;
  upper: number;
}

/** The limits around the mean `p` for a denominator of `n` at a given `z`. */
export function controlLimits(p: number, n: number, z: number): Band {
  if (!(n > 0)) throw new RangeError(`A control limit needs a positive denominator, not ${n}`);
  if (!(p >= 0 && p <= 1)) throw new RangeError(`A control limit needs a proportion between 0 and 1, not ${p}`);
  const half = z * Math.sqrt((p * (1 - p)) / n);
  return { lower: Math.max(0, p - half), upper: Math.min(1, p + half) };
}

/** Where a practice falls against the limits. Exactly on a limit counts as inside it. */
export type Position = 'within' | 'above-95' | 'below-95' | 'above-99.8' | 'below-99.8';

export const POSITIONS: readonly Position[] = ['below-99.8', 'below-95', 'within', 'above-95', 'above-99.8'];

/** Classifies an observed proportion `observed` with denominator `n` against the mean `p`. */
export function positionOf(observed: number, n: number, p: number): Position {
  const wide = controlLimits(p, n, Z998);
  if (observed > wide.upper) return 'above-99.8';
  if (observed < wide.lower) return 'below-99.8';
  const narrow = controlLimits(p, n, Z95);
  if (observed > narrow.upper) return 'above-95';
  if (observed < narrow.lower) return 'below-95';
  return 'within';
}

/** One point of the limit curves. */
export interface LimitPoint {
  n: number;
  lower95: number;
  upper95: number;
  lower998: number;
  upper998: number;
}

/**
 * The limit curves from `from` to `to` (denominators), at `steps` + 1 denominators spaced evenly on a square-root
 * scale, so the curve is smooth where it bends most (small n) without many points where it is nearly flat.
 */
export function limitCurve(p: number, from: number, to: number, steps = 60): LimitPoint[] {
  const lo = Math.max(1, from);
  const hi = Math.max(lo, to);
  const points: LimitPoint[] = [];
  let previous = 0;
  for (let i = 0; i <= steps; i++) {
    const root = Math.sqrt(lo) + ((Math.sqrt(hi) - Math.sqrt(lo)) * i) / steps;
    const n = i === steps ? hi : Math.round(root * root * 100) / 100;
    if (n <= previous) continue;
    previous = n;
    const a = controlLimits(p, n, Z95);
    const b = controlLimits(p, n, Z998);
    points.push({ n, lower95: a.lower, upper95: a.upper, lower998: b.lower, upper998: b.upper });
  }
  return points;
}
