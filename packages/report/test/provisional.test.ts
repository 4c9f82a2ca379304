// Issue 12 §14: an indicator that reads missing clusters and that nobody can meet here is shown as provisional with
// its reason — no 0 % funnel plot, no flat 0 % trend line; a provisional indicator that is met keeps its plot, marked.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { createReport, type ReportResult } from '@caregaps/report';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SAMPLE = join(ROOT, 'examples/sample-population');

let result: ReportResult;
beforeAll(async () => {
  result = await createReport({
    records: join(SAMPLE, 'records.ndjson'),
    organisations: join(SAMPLE, 'organisations.ndjson'),
    asOf: '2025-03-31',
    trend: ['2024-03-31'],
    registries: join(ROOT, 'registries'),
    codesets: join(ROOT, 'codesets'),
    only: ['diabetes'],
  });
}, 120_000);

describe('provisional indicators in the report', () => {
  it('a provisional indicator met by nobody has no funnel plot and no trend line, and the page says why', () => {
    const diabetes = result.model.registries.find((r) => r.id === 'diabetes')!;
    const neverMet = diabetes.indicators.filter((id) => diabetes.provisional[id] && result.model.current.rows.every((r) => r.registry !== 'diabetes' || r.indicators[id]?.met === 0 || r.indicators[id]?.met === undefined));
    expect(neverMet.length).toBeGreaterThan(0); // e.g. DM012: its foot-examination clusters are missing here
    for (const id of neverMet) {
      expect(result.model.funnels.map((f) => f.id)).not.toContain(`funnel-${id}`);
      expect(result.model.missingFunnels).toContainEqual({ registry: 'diabetes', indicator: id, reason: expect.stringContaining('provisional') });
      const trend = result.model.trends.find((t) => t.id === 'trend-diabetes')!;
      expect(trend.svg).not.toContain(`>${id}<`);
      expect(result.html).toMatch(new RegExp(`${id} \\([^)]*provisional`));
    }
  });

  it('a provisional indicator that is met keeps its plot, marked provisional', () => {
    const diabetes = result.model.registries.find((r) => r.id === 'diabetes')!;
    const plotted = result.model.funnels.filter((f) => diabetes.provisional[f.id.replace('funnel-', '')]);
    expect(plotted.length).toBeGreaterThan(0);
    for (const f of plotted) expect(f.title).toMatch(/\(provisional\)$/);
  });
});
