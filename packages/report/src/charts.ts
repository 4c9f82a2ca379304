/**
 * The report's charts as vega-lite specs over published numbers only, rendered to SVG headless (no browser).
 * @module
 */
import type { TopLevelSpec } from 'vega-lite';
import type { Published, SuppressionPolicy } from '@caregaps/access';
import { POSITIONS, limitCurve, positionOf, type LimitPoint, type Position } from './limits.js';
import { publishedSum, rowsOf, type Snapshot } from './model.js';

/**
 * A vega-lite specification (vega-lite's `TopLevelSpec`), typed as plain JSON in the public API: vega-lite's own
 * types need the DOM library and cannot be resolved under moduleResolution node10, so embedders could not compile.
 */
export interface ChartSpec {
  readonly $schema?: string;
}

/** A practice on a funnel plot: its published denominator and achievement (a proportion). */
export interface FunnelPoint {
  code: string;
  name: string;
  n: number;
  p: number;
  position: Position;
}

/** The data of one indicator's funnel plot. */
export interface Funnel {
  registry: string;
  indicator: string;
  /** The overall achievement (published met ÷ published met + gap over the whole population). */
  mean: number;
  /** The overall denominator it comes from. */
  total: number;
  points: FunnelPoint[];
  /** Practices not plotted because a number they need is suppressed (codes). */
  notPlotted: string[];
  /** Practices with a denominator of 0 (nothing to plot). */
  empty: string[];
  limits: LimitPoint[];
}

export const POSITION_LABELS: Record<Position, string> = {
  'below-99.8': 'below 99.8% limit',
  'below-95': 'below 95% limit',
  within: 'within 95% limits',
  'above-95': 'above 95% limit',
  'above-99.8': 'above 99.8% limit',
};

const POSITION_COLOURS: Record<Position, string> = {
  'below-99.8': '#b2182b',
  'below-95': '#ef8a62',
  within: '#8c8c8c',
  'above-95': '#67a9cf',
  'above-99.8': '#2166ac',
};

/**
 * The funnel plot data for one indicator from a snapshot: practices with a published denominator, against the
 * overall achievement from the top level's published numbers. `undefined` when the overall numbers are suppressed
 * or zero (there is no mean to draw limits around).
 */
export function funnelOf(snapshot: Snapshot, registry: string, indicator: string, suppression: SuppressionPolicy): Funnel | undefined {
  const isSuppressed = (v: Published) => suppression.isSuppressed(v);
  let met = 0;
  let total = 0;
  for (const row of rowsOf(snapshot, 'icb', registry)) {
    const entry = row.indicators[indicator];
    if (!entry || isSuppressed(entry.met) || isSuppressed(entry.denominator)) return undefined;
    met += entry.met as number;
    total += entry.denominator as number;
  }
  if (total === 0) return undefined;
  const mean = met / total;
  const points: FunnelPoint[] = [];
  const notPlotted: string[] = [];
  const empty: string[] = [];
  for (const row of rowsOf(snapshot, 'practice', registry)) {
    const entry = row.indicators[indicator];
    if (!entry) continue;
    const n = publishedSum(entry.met, entry.gap, isSuppressed);
    if (isSuppressed(n) || isSuppressed(entry.met)) notPlotted.push(row.code);
    else if (n === 0) empty.push(row.code);
    else {
      const p = (entry.met as number) / (n as number);
      points.push({ code: row.code, name: row.name, n: n as number, p, position: positionOf(p, n as number, mean) });
    }
  }
  const ns = points.map((pt) => pt.n);
  const limits = limitCurve(mean, Math.min(...ns, total) * 0.8, Math.max(...ns, 1) * 1.1);
  return { registry, indicator, mean, total, points, notPlotted, empty, limits };
}

/** The vega-lite spec of a funnel plot: limit curves, the mean, and one point per practice coloured by position. */
export function funnelSpec(funnel: Funnel, title: string): ChartSpec {
  const curves = funnel.limits.flatMap((l) => [
    { n: l.n, value: l.lower95, line: 'lower 95%', band: '95% limits' },
    { n: l.n, value: l.upper95, line: 'upper 95%', band: '95% limits' },
    { n: l.n, value: l.lower998, line: 'lower 99.8%', band: '99.8% limits' },
    { n: l.n, value: l.upper998, line: 'upper 99.8%', band: '99.8% limits' },
  ]);
  const x = { field: 'n', type: 'quantitative', title: 'Denominator (patients, met + gap)', scale: { zero: true } } as const;
  const y = { field: 'value', type: 'quantitative', title: 'Achievement', scale: { domain: [0, 1] }, axis: { format: '.0%' } } as const;
  const outliers = funnel.points.filter((p) => p.position === 'above-99.8' || p.position === 'below-99.8');
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, subtitle: `Mean ${(100 * funnel.mean).toFixed(1)}% over ${funnel.total} patients; ${funnel.points.length} practice${funnel.points.length === 1 ? '' : 's'} plotted` },
    width: 440,
    height: 260,
    layer: [
      {
        data: { values: curves },
        mark: { type: 'line', strokeWidth: 1.2 },
        encoding: {
          x,
          y,
          detail: { field: 'line', type: 'nominal' },
          strokeDash: { field: 'band', type: 'nominal', title: 'Control limits', scale: { domain: ['95% limits', '99.8% limits'], range: [[4, 3], [1, 0]] } },
          color: { value: '#555' },
        },
      },
      {
        data: { values: [{ value: funnel.mean }] },
        mark: { type: 'rule', color: '#222', strokeWidth: 1 },
        encoding: { y: { field: 'value', type: 'quantitative' } },
      },
      {
        data: { values: funnel.points.map((p) => ({ ...p, value: p.p, label: POSITION_LABELS[p.position] })) },
        mark: { type: 'point', filled: true, size: 55, opacity: 0.9 },
        encoding: {
          x,
          y,
          color: {
            field: 'label',
            type: 'nominal',
            title: 'Practice',
            scale: { domain: POSITIONS.map((p) => POSITION_LABELS[p]), range: POSITIONS.map((p) => POSITION_COLOURS[p]) },
          },
        },
      },
      {
        data: { values: outliers.map((p) => ({ n: p.n, value: p.p, code: p.code })) },
        mark: { type: 'text', dx: 6, align: 'left', fontSize: 9, color: '#222' },
        encoding: { x, y, text: { field: 'code', type: 'nominal' } },
      },
    ],
    resolve: { scale: { color: 'independent' } },
  } as TopLevelSpec;
}

/** One value of a trend line. */
export interface TrendPoint {
  date: string;
  series: string;
  /** A proportion. */
  value: number;
}

/** A line chart over achievement dates (ordinal, so dates keep their exact labels whatever the time zone). */
export function trendSpec(points: readonly TrendPoint[], options: { title: string; seriesTitle: string; yTitle: string; yDomain?: readonly [number, number] }): ChartSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: options.title,
    width: 440,
    height: 220,
    data: { values: points.map((p) => ({ ...p })) },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'date', type: 'ordinal', title: 'Achievement date', axis: { labelAngle: 0 } },
      y: { field: 'value', type: 'quantitative', title: options.yTitle, axis: { format: '.0%' }, scale: options.yDomain ? { domain: [...options.yDomain] } : { zero: true } },
      color: { field: 'series', type: 'nominal', title: options.seriesTitle },
    },
  } as TopLevelSpec;
}

/**
 * Renders a vega-lite spec to an SVG string without a browser. vega is loaded on first use with import(): it is
 * ESM-only with top-level await, which require() cannot load, so the CommonJS build could not import it statically.
 */
export async function renderSvg(spec: ChartSpec): Promise<string> {
  const [vega, vegaLite] = await Promise.all([import('vega'), import('vega-lite')]);
  const view = new vega.View(vega.parse(vegaLite.compile(spec as TopLevelSpec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
