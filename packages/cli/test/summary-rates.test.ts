// Issue 12 §9: `caregaps summary` gives both the share of the register (rate = met ÷ on the register) and QOF
// achievement (met ÷ (met + gap)), each computed from the published numbers of the same table.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, run } from './run.js';

const SAMPLE = join(ROOT, 'examples/sample-population');

describe('caregaps summary rates', () => {
  it('met rows carry achievement = met ÷ (met + gap) beside rate = met ÷ register', async () => {
    const { code, out } = await run('summary', '--input', join(SAMPLE, 'records.ndjson'), '--orgs', join(SAMPLE, 'organisations.ndjson'), '--as-of', '2025-03-31', '--by', 'borough', '--format', 'json', '--registry', 'diabetes');
    expect(code).toBe(0);
    type Row = { organisation: string; indicator: string | null; measure: string; count: number | string; denominator: number | string | null; rate: number | string | null; achievement: number | string | null };
    const rows = (JSON.parse(out) as { rows: Row[] }).rows;
    const find = (r: Row, measure: string) => rows.find((x) => x.organisation === r.organisation && x.indicator === r.indicator && x.measure === measure)!;
    let checked = 0;
    let differ = 0;
    for (const met of rows.filter((r) => r.measure === 'met')) {
      const gap = find(met, 'gap');
      if (typeof met.count !== 'number' || typeof gap.count !== 'number' || met.count + gap.count === 0) continue;
      expect(met.achievement).toBe(Math.round((1000 * met.count) / (met.count + gap.count)) / 10);
      expect(met.rate).toBe(Math.round((1000 * met.count) / (met.denominator as number)) / 10);
      checked++;
      if (met.achievement !== met.rate) differ++;
    }
    expect(checked).toBeGreaterThan(3);
    expect(differ).toBeGreaterThan(0); // the excepted and not-applicable make the two differ
    for (const r of rows.filter((x) => x.measure !== 'met')) expect(r.achievement).toBeNull();
  });
});
