import { describe, expect, it } from 'vitest';
import { Z95, Z998, controlLimits, limitCurve, positionOf } from '@caregaps/report';

describe('control limits', () => {
  it('match hand-computed binomial limits p ± z·sqrt(p(1−p)/n)', () => {
    // p = 0.8, n = 100: sqrt(0.8 × 0.2 / 100) = 0.04.
    expect(controlLimits(0.8, 100, Z95).lower).toBeCloseTo(0.8 - 1.96 * 0.04, 12); // 0.7216
    expect(controlLimits(0.8, 100, Z95).upper).toBeCloseTo(0.8784, 12);
    expect(controlLimits(0.8, 100, Z998).lower).toBeCloseTo(0.6764, 12);
    expect(controlLimits(0.8, 100, Z998).upper).toBeCloseTo(0.9236, 12);
    // p = 0.5, n = 400: sqrt(0.25 / 400) = 0.025.
    expect(controlLimits(0.5, 400, Z95)).toEqual({ lower: expect.closeTo(0.451, 12), upper: expect.closeTo(0.549, 12) });
    expect(controlLimits(0.5, 400, Z998)).toEqual({ lower: expect.closeTo(0.42275, 12), upper: expect.closeTo(0.57725, 12) });
  });

  it('uses z = 1.96 and z = 3.09', () => {
    expect(Z95).toBe(1.96);
    expect(Z998).toBe(3.09);
  });

  it('clamps the limits to [0, 1] for small denominators', () => {
    // p = 0.9, n = 4: half-width 3.09 × 0.15 = 0.4635 → upper 1.3635 clamps to 1.
    expect(controlLimits(0.9, 4, Z998)).toEqual({ lower: expect.closeTo(0.4365, 12), upper: 1 });
    expect(controlLimits(0.05, 4, Z95).lower).toBe(0);
  });

  it('narrow as the denominator grows', () => {
    const widths = [10, 100, 1000, 10000].map((n) => {
      const band = controlLimits(0.7, n, Z95);
      return band.upper - band.lower;
    });
    for (let i = 1; i < widths.length; i++) expect(widths[i]!).toBeLessThan(widths[i - 1]!);
  });

  it('refuses a denominator that is not positive and a proportion outside [0, 1]', () => {
    expect(() => controlLimits(0.5, 0, Z95)).toThrow(RangeError);
    expect(() => controlLimits(1.2, 10, Z95)).toThrow(RangeError);
  });
});

describe('position against the limits', () => {
  // Mean 0.8 at n = 100: 95 % limits 0.7216–0.8784, 99.8 % limits 0.6764–0.9236.
  it.each([
    [0.8, 'within'],
    [0.72, 'below-95'],
    [0.88, 'above-95'],
    [0.67, 'below-99.8'],
    [0.93, 'above-99.8'],
  ] as const)('%s of 100 against a mean of 0.8 is %s', (observed, position) => {
    expect(positionOf(observed, 100, 0.8)).toBe(position);
  });

  it('counts a point exactly on a limit as inside it', () => {
    const { upper } = controlLimits(0.8, 100, Z95);
    expect(positionOf(upper, 100, 0.8)).toBe('within');
  });
});

describe('limit curve', () => {
  it('runs from the first to the last denominator with the limits at each point', () => {
    const curve = limitCurve(0.8, 20, 500, 40);
    expect(curve[0]!.n).toBe(20);
    expect(curve[curve.length - 1]!.n).toBe(500);
    for (let i = 1; i < curve.length; i++) expect(curve[i]!.n).toBeGreaterThan(curve[i - 1]!.n);
    for (const point of curve) {
      expect(point.lower95).toBeCloseTo(controlLimits(0.8, point.n, Z95).lower, 12);
      expect(point.upper998).toBeCloseTo(controlLimits(0.8, point.n, Z998).upper, 12);
      expect(point.lower998).toBeLessThanOrEqual(point.lower95);
      expect(point.upper998).toBeGreaterThanOrEqual(point.upper95);
    }
  });
});
