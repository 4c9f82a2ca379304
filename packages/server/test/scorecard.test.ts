/**
 * The practice scorecard and its trends. Oracles: the access layer's own published summaries read directly (ranks
 * and the PCN/borough/ICB comparison are recomputed here by hand), and the batch evaluator on each earlier date for
 * the trend (raw achievement, which the published figure may differ from only by rounding to 5).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PatientStore, evaluatePopulation, loadRegistries, preparedPatients, readRecords } from '@caregaps/core';
import { quarterEnds } from '@caregaps/server';
import { ROOT, SAMPLE, SAMPLE_NHS_NUMBERS, serveSample, signIn, type Served } from './fixture.js';

let served: Served;
const cookies: Record<string, string> = {};

beforeAll(async () => {
  served = await serveSample(20);
  for (const id of ['gp-barnet', 'icb-analyst']) cookies[id] = await signIn(served.app, id);
});

afterAll(async () => {
  await served?.app.close();
  served?.host.engine.close();
});

const get = (url: string, as: string) => served.app.inject({ url, headers: { cookie: cookies[as]! } });
const cells = (html: string, indicator: string) => {
  const row = new RegExp(`<tr data-indicator="${indicator}">(.*?)</tr>`).exec(html)![1]!;
  return { achievements: [...row.matchAll(/<td class="num">([^<]*)<br>/g)].map((m) => m[1]!), rank: /<td data-rank>([^<]*)</.exec(row)![1]!, position: /<td data-position="([^"]*)">/.exec(row)![1]! };
};

describe('practice scorecard', () => {
  it('sets each indicator of the GP\'s practice against its PCN, borough and ICB, with its rank among the practices', async () => {
    const page = await get('/scorecard?registry=diabetes', 'gp-barnet');
    expect(page.statusCode).toBe(200);
    const gp = served.host.access.as({ user: 'oracle', roles: ['clinical-practitioner'], organisation: 'Z10001' }, 'direct-care');
    const at = async (level: 'practice' | 'pcn' | 'borough' | 'icb') => (await gp.summary({ level, registry: 'diabetes' })).rows.filter((r) => r.indicator === 'DM020' && r.measure === 'met');
    const practices = await at('practice');
    const own = practices.find((r) => r.organisation === 'Z10001')!;
    const expected = [own, (await at('pcn')).find((r) => r.organisation === 'U90001')!, (await at('borough')).find((r) => r.organisation === 'E09000003')!, (await at('icb'))[0]!];
    const shown = cells(page.body, 'DM020');
    expect(shown.achievements).toEqual(expected.map((r) => (typeof r.achievement === 'number' ? `${r.achievement.toFixed(1)}%` : String(r.achievement))));
    const numeric = practices.map((r) => r.achievement).filter((a): a is number => typeof a === 'number');
    expect(shown.rank).toBe(`${1 + numeric.filter((a) => a > (own.achievement as number)).length} of ${numeric.length}`);
    expect(['below-99.8', 'below-95', 'within', 'above-95', 'above-99.8']).toContain(shown.position);
  });

  it('draws the trend over the quarter ends before the achievement date, each point the practice\'s achievement then', async () => {
    expect(quarterEnds('2025-03-31')).toEqual(['2024-03-31', '2024-06-30', '2024-09-30', '2024-12-31']);
    expect(quarterEnds('2025-05-15', 2)).toEqual(['2024-12-31', '2025-03-31']);
    const page = await get('/scorecard?registry=diabetes&practice=Z10001', 'gp-barnet');
    const dates = [...page.body.matchAll(/<tr data-date="([^"]+)">/g)].map((m) => m[1]);
    expect(dates).toEqual(['2024-03-31', '2024-06-30', '2024-09-30', '2024-12-31', '2025-03-31']);
    expect(page.body).toMatch(/<figure class="chart" aria-labelledby="trend-heading"><svg/);
    const { compiled, index } = loadRegistries(join(ROOT, 'registries'), join(ROOT, 'codesets'), { only: ['diabetes'] });
    const store = new PatientStore();
    for await (const item of readRecords(join(SAMPLE, 'records.ndjson'))) if (item.ok) store.apply(item.record);
    const shown = dates.map((d) => Number(new RegExp(`<tr data-date="${d}"><th scope="row">[^<]*</th><td class="num">([0-9.]+)%`).exec(page.body)![1]));
    dates.forEach((date, i) => {
      let met = 0;
      let gap = 0;
      for (const r of evaluatePopulation(preparedPatients(store, index), compiled, date!)) {
        if (store.get(r.nhsNumber)!.patient!.practice !== 'Z10001') continue;
        if (r.indicators['DM020'] === 'met') met++;
        if (r.indicators['DM020'] === 'gap') gap++;
      }
      expect(Math.abs(shown[i]! - (100 * met) / (met + gap)), `${date}: met ${met}, gap ${gap}`).toBeLessThan(4);
    });
    expect(new Set(shown).size).toBeGreaterThan(1);
  });

  it('is anonymised for the ICB analyst: published numbers only, no NHS number', async () => {
    const page = await get('/scorecard?registry=diabetes&practice=Z20001', 'icb-analyst');
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('Camden synthetic practice 1 (Z20001)');
    expect([...page.body.matchAll(/\d{10}/g)].map((m) => m[0]).filter((n) => SAMPLE_NHS_NUMBERS.has(n))).toEqual([]);
    for (const m of page.body.matchAll(/met ([^ <]+) of ([^ <]+)</g)) for (const v of [m[1]!, m[2]!]) expect(v === '*' || Number(v.replace(/,/g, '')) % 5 === 0, v).toBe(true);
  });
});
