import { expect, it } from 'vitest';
// @ts-expect-error: a plain JavaScript example, imported as users would run it
import { tour } from './index.mjs';

interface Tour {
  summary: { rows: { count: number | string }[]; excludedPatients: number };
  gaps: { nhsNumber: string; indicator: string }[];
  exported: { csv: string; rowCount: number };
  record: { nhsNumber: string; categories: Record<string, { source: string }[]>; registries: { indicators: Record<string, string> }[] };
  refused: string;
  report: { user: string; decision: string }[];
  audit: { ok: boolean; entries: number };
}

it('runs the access tour: suppressed summary, gap list and export, record, refusal, access report, intact audit', async () => {
  const t = (await tour()) as Tour;
  expect(t.summary.excludedPatients).toBeGreaterThan(0);
  for (const row of t.summary.rows) expect(typeof row.count === 'string' || row.count === 0 || row.count % 5 === 0).toBe(true);
  expect(t.gaps.length).toBeGreaterThan(0);
  expect(t.exported.rowCount).toBe(t.gaps.length);
  expect(t.record.nhsNumber).toBe(t.gaps[0]!.nhsNumber);
  expect(t.record.registries[0]!.indicators.DM020).toBe('gap');
  expect(t.refused).toBe('CG_ACCESS_DENIED');
  // The report lists the GP's list, export and record view and the refused attempt.
  expect(t.report.map((e) => [e.user, e.decision])).toEqual([
    ['dr-lee', 'allow'],
    ['dr-lee', 'allow'],
    ['dr-lee', 'allow'],
    ['dr-far', 'deny'],
  ]);
  // Summary, list, export, record, refusal and the report itself: six attempts, six chained entries.
  expect(t.audit).toEqual({ ok: true, entries: 6, problems: [] });
});
