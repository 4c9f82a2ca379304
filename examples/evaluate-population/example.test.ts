import { expect, it } from 'vitest';
// @ts-expect-error: a plain JavaScript example, imported as users would run it
import { gapList } from './index.mjs';

it('lists DM020 gaps for one practice, each explained by the rule and the HbA1c read', async () => {
  const { practice, gaps } = (await gapList('2025-03-31')) as { practice: string; gaps: { latestHbA1c: number | null; on: string | null; decidedBy: string }[] };
  expect(practice).toMatch(/^[A-Z0-9]+$/);
  expect(gaps.length).toBeGreaterThan(0);
  for (const g of gaps) {
    expect(g.decidedBy).toBe('numerator rule 1');
    // A gap means no HbA1c ≤ 58 in the 12 months to PPED: none at all, the latest above 58, or the latest too old
    // (on or before 2024-03-31, the excluded far boundary).
    const explained = g.latestHbA1c === null || g.latestHbA1c > 58 || (g.on !== null && g.on <= '2024-03-31');
    expect(explained, JSON.stringify(g)).toBe(true);
  }
});
