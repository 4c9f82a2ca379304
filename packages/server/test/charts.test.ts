/** Dashboard charts are rendered once per distinct spec (published numbers only) and the last 64 are kept. */
import { describe, expect, test } from 'vitest';
import type { ChartSpec } from '@caregaps/report';
import { chartSvg } from '../src/charts.js';

const spec = (n: number): ChartSpec => ({ $schema: 'https://vega.github.io/schema/vega-lite/v5.json', data: { values: [{ x: n, y: 1 }] }, mark: 'point', encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' } } }) as ChartSpec;

describe('chartSvg', () => {
  test('an equal spec reuses the rendered chart; a different one is rendered; the oldest of more than 64 is dropped', async () => {
    const first = chartSvg(spec(0));
    expect(chartSvg(structuredClone(spec(0)))).toBe(first);
    const svg = await first;
    expect(svg).toMatch(/^<svg/);
    const other = chartSvg(spec(1));
    expect(other).not.toBe(first);
    expect(await other).not.toBe(svg);
    for (let n = 2; n <= 64; n++) chartSvg(spec(n)); // 65 distinct specs asked for: the first (least recently used) goes
    expect(chartSvg(spec(0))).not.toBe(first);
    expect(await chartSvg(spec(0))).toBe(svg);
  }, 120_000);
});
