import { describe, expect, it } from 'vitest';
import type { OrganisationRecord } from '@caregaps/core';
import { LEVELS, OrganisationHierarchy, nhsDigitalSuppression, type OrganisationCounts, type OrganisationLevel, type RegistryInfo } from '@caregaps/access';
import { Z95, Z998, controlLimits, funnelOf, funnelSpec, positionOf, publish, renderSvg, type PopulationCounts } from '@caregaps/report';

const org = (code: string, type: OrganisationRecord['type'], parent: string | null): OrganisationRecord => ({ kind: 'organisation', code, name: `Org ${code}`, type, parent });

// ICB Q → boroughs B1, B2 → PCNs P1, P2 → practices A–C and D–G.
const hierarchy = new OrganisationHierarchy([
  org('Q', 'icb', null),
  org('B1', 'borough', 'Q'),
  org('B2', 'borough', 'Q'),
  org('P1', 'pcn', 'B1'),
  org('P2', 'pcn', 'B2'),
  ...['A', 'B', 'C'].map((c) => org(c, 'practice', 'P1')),
  ...['D', 'E', 'F', 'G'].map((c) => org(c, 'practice', 'P2')),
]);
const registries: RegistryInfo[] = [{ id: 'r', title: 'Registry R', indicators: ['X'] }];

type Practice = { registered: number; met: number; gap: number; excepted: number; na: number };

/** Exact counts for every level from practice counts, summed up the hierarchy. */
function countsOf(practices: Record<string, Practice>): PopulationCounts {
  const byLevel = new Map<OrganisationLevel, OrganisationCounts[]>();
  for (const level of LEVELS) {
    const table = new Map<string, OrganisationCounts>();
    for (const [code, p] of Object.entries(practices)) {
      const at = hierarchy.ancestor(code, level);
      const row = table.get(at) ?? { organisation: at, registry: 'r', registered: 0, onRegister: 0, indicators: { X: { met: 0, gap: 0, excepted: 0, 'not-applicable': 0 } } };
      row.registered += p.registered;
      row.onRegister += p.met + p.gap + p.excepted + p.na;
      const x = row.indicators.X!;
      x.met += p.met;
      x.gap += p.gap;
      x.excepted += p.excepted;
      x['not-applicable'] += p.na;
      table.set(at, row);
    }
    byLevel.set(level, [...table.values()]);
  }
  return { asOf: '2025-03-31', byLevel, practices: new Set(Object.keys(practices)) };
}

// Every count is 0 or a multiple of 5 of at least 10, so publication changes nothing and the points are exact.
const exact: Record<string, Practice> = {
  A: { registered: 2000, met: 280, gap: 100, excepted: 10, na: 10 }, // 280/380 = 0.737
  B: { registered: 1000, met: 155, gap: 35, excepted: 10, na: 0 }, // 155/190 = 0.816
  C: { registered: 3000, met: 300, gap: 280, excepted: 20, na: 0 }, // 300/580 = 0.517
  D: { registered: 1500, met: 225, gap: 65, excepted: 10, na: 0 }, // 225/290 = 0.776
  E: { registered: 2500, met: 400, gap: 50, excepted: 0, na: 0 }, // 400/450 = 0.889
  F: { registered: 400, met: 60, gap: 20, excepted: 0, na: 0 }, // 60/80 = 0.75
  G: { registered: 700, met: 100, gap: 30, excepted: 0, na: 0 }, // 100/130 = 0.769
};

const suppression = nhsDigitalSuppression();

describe('funnel plot data', () => {
  const snapshot = publish(countsOf(exact), registries, hierarchy, suppression);
  const funnel = funnelOf(snapshot, 'r', 'X', suppression)!;

  it('has one point per practice at its denominator (met + gap) and achievement (met ÷ denominator)', () => {
    expect(funnel.points.map((p) => [p.code, p.n, p.p])).toEqual([
      ['A', 380, 280 / 380],
      ['B', 190, 155 / 190],
      ['C', 580, 300 / 580],
      ['D', 290, 225 / 290],
      ['E', 450, 400 / 450],
      ['F', 80, 60 / 80],
      ['G', 130, 100 / 130],
    ]);
    expect(funnel.notPlotted).toEqual([]);
  });

  it('draws the limits around the overall achievement', () => {
    // Σ met = 1520, Σ (met + gap) = 2100.
    expect(funnel.mean).toBeCloseTo(1520 / 2100, 12);
    expect(funnel.total).toBe(2100);
  });

  it('highlights practices outside the limits', () => {
    const position = Object.fromEntries(funnel.points.map((p) => [p.code, p.position]));
    // mean p = 0.72381, p(1−p) = 0.19991.
    // C: n 580, se 0.018565, lower 99.8 % limit 0.66644 → 0.517 is below it.
    expect(position.C).toBe('below-99.8');
    // E: n 450, se 0.021077, upper 99.8 % limit 0.78894 → 0.889 is above it.
    expect(position.E).toBe('above-99.8');
    // B: n 190, se 0.032437, upper 95 % limit 0.78739, upper 99.8 % limit 0.82404 → 0.816 is between them.
    expect(position.B).toBe('above-95');
    // A: 0.737 is within 0.72381 ± 1.96 × 0.022937.
    expect(position.A).toBe('within');
    for (const p of funnel.points) expect(p.position).toBe(positionOf(p.p, p.n, funnel.mean));
  });

  it('puts exactly those points, and the limit curves, into the vega-lite spec', async () => {
    const spec = funnelSpec(funnel, 'X') as unknown as { layer: { mark: { type: string }; data: { values: Record<string, unknown>[] } }[] };
    const points = spec.layer.find((l) => l.mark.type === 'point')!.data.values;
    expect(points.map((p) => [p.code, p.n, p.value])).toEqual(funnel.points.map((p) => [p.code, p.n, p.p]));
    expect(points.find((p) => p.code === 'C')!.label).toBe('below 99.8% limit');
    const labels = spec.layer.find((l) => l.mark.type === 'text')!.data.values.map((v) => v.code).sort();
    expect(labels).toEqual(['C', 'E']);
    const curves = spec.layer.find((l) => l.mark.type === 'line')!.data.values;
    for (const c of curves) {
      const n = c.n as number;
      const z = String(c.line).endsWith('99.8%') ? Z998 : Z95;
      const band = controlLimits(funnel.mean, n, z);
      expect(c.value).toBeCloseTo(String(c.line).startsWith('upper') ? band.upper : band.lower, 12);
    }
    const mean = spec.layer.find((l) => l.mark.type === 'rule')!.data.values[0]!.value;
    expect(mean).toBeCloseTo(funnel.mean, 12);
    const svg = await renderSvg(funnelSpec(funnel, 'X'));
    expect(svg.startsWith('<svg')).toBe(true);
    // The rendered chart has one symbol per practice and labels the two practices outside the 99.8 % limits.
    const symbols = /<g class="mark-symbol role-mark layer_2_marks"[^>]*>(.*?)<\/g>/s.exec(svg)![1]!;
    expect(symbols.match(/<path/g)).toHaveLength(7);
    const texts = /<g class="mark-text role-mark layer_3_marks"[^>]*>(.*?)<\/g>/s.exec(svg)![1]!;
    expect([...texts.matchAll(/>([A-Z])<\/text>/g)].map((m) => m[1]).sort()).toEqual(['C', 'E']);
  });
});

describe('suppression of the published numbers', () => {
  // G has 3 met and 2 excepted: suppressed, and secondary suppression hides a sibling so subtraction cannot recover them.
  const small: Record<string, Practice> = { ...exact, G: { registered: 700, met: 3, gap: 127, excepted: 2, na: 8 } };
  const counts = countsOf(small);
  const snapshot = publish(counts, registries, hierarchy, suppression);

  it('publishes every count as 0, * or a rounding to the nearest 5 (or * by secondary suppression), never the true small count', () => {
    let checked = 0;
    for (const row of snapshot.rows) {
      const truth = counts.byLevel.get(row.level)!.find((c) => c.organisation === row.code)!;
      const pairs: [number, unknown][] = [
        [truth.registered, row.registered],
        [truth.onRegister, row.onRegister],
        [truth.indicators.X!.met, row.indicators.X!.met],
        [truth.indicators.X!.gap, row.indicators.X!.gap],
        [truth.indicators.X!.excepted, row.indicators.X!.excepted],
        [truth.indicators.X!['not-applicable'], row.indicators.X!.notApplicable],
      ];
      for (const [count, shown] of pairs) {
        checked++;
        if (count === 0) expect(shown).toBe(0);
        else if (count <= 7) expect(shown).toBe('*');
        else expect([Math.round(count / 5) * 5, '*']).toContain(shown);
      }
    }
    expect(checked).toBe(6 * (1 + 2 + 2 + 7));
    const g = snapshot.rows.find((r) => r.code === 'G')!.indicators.X!;
    expect([g.met, g.excepted, g.notApplicable, g.gap]).toEqual(['*', '*', 10, 125]);
  });

  it('computes rates from the published numbers and suppresses them when a number they need is suppressed', () => {
    for (const row of snapshot.rows) {
      const x = row.indicators.X!;
      if (typeof x.met === 'number' && typeof x.gap === 'number') {
        expect(x.denominator).toBe(x.met + x.gap);
        expect(x.achievement).toBe(x.met + x.gap === 0 ? null : Math.round((1000 * x.met) / (x.met + x.gap)) / 10);
      } else {
        expect(x.denominator).toBe('*');
        expect(x.achievement).toBe('*');
      }
      if (typeof row.onRegister === 'number' && typeof row.registered === 'number') {
        expect(row.prevalence).toBe(Math.round((1000 * row.onRegister) / row.registered) / 10);
      }
    }
  });

  it('does not plot a practice whose numbers are suppressed, and plots the others from published numbers', () => {
    const funnel = funnelOf(snapshot, 'r', 'X', suppression)!;
    expect(funnel.notPlotted).toContain('G');
    expect(funnel.points.map((p) => p.code)).not.toContain('G');
    for (const point of funnel.points) {
      const x = snapshot.rows.find((r) => r.level === 'practice' && r.code === point.code)!.indicators.X!;
      expect(point.n).toBe((x.met as number) + (x.gap as number));
      expect(point.p).toBe((x.met as number) / point.n);
    }
    expect(funnel.points.length + funnel.notPlotted.length).toBe(7);
  });

  it('draws no funnel when the overall numbers are suppressed', () => {
    const tiny = publish(countsOf({ A: { registered: 40, met: 3, gap: 2, excepted: 0, na: 0 } }), registries, hierarchy, suppression);
    expect(funnelOf(tiny, 'r', 'X', suppression)).toBeUndefined();
  });
});
