import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadRegistries } from '@caregaps/core';
import { OrganisationHierarchy, type OrganisationLevel } from '@caregaps/access';
import { countPopulation, createReport, loadPopulation, reportDates, secondaryUsePatients, type ReportResult } from '@caregaps/report';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SAMPLE = join(ROOT, 'examples', 'sample-population');
const RECORDS = join(SAMPLE, 'records.ndjson');
const ORGS = join(SAMPLE, 'organisations.ndjson');
const REGISTRIES = join(ROOT, 'registries');
const CODESETS = join(ROOT, 'codesets');
const TREND = ['2024-03-31', '2024-09-30'];

let result: ReportResult;
beforeAll(async () => {
  result = await createReport({ records: RECORDS, organisations: ORGS, asOf: '2025-03-31', trend: TREND, registries: REGISTRIES, codesets: CODESETS });
});

/** A published count is 0, the suppression token, or a rounding to 5 of a count of 8 or more. */
function publishable(value: number | string): boolean {
  return value === '*' || value === 0 || (typeof value === 'number' && value % 5 === 0 && value >= 10);
}

describe('provisional indicators in the report', () => {
  it('marks them with * and the clusters named, computed from the codesets loaded', () => {
    const diabetes = result.model.registries.find((r) => r.id === 'diabetes')!;
    // DM012 reads FRC_COD, missing from the bundled codesets.
    expect(diabetes.provisional['DM012']).toContain('FRC_COD (missing)');
    expect(result.html).toContain('DM012 *');
    expect(result.html).toMatch(/<b>DM012<\/b>[^<]*<em class="provisional">\* provisional: reads [^<]*FRC_COD \(missing\)/);
  });
});

describe('the report model (sample population)', () => {
  it('publishes every count by the small-number rule, checked against the exact counts', async () => {
    const loaded = loadRegistries(REGISTRIES, CODESETS);
    const { store, organisations } = await loadPopulation([ORGS, RECORDS]);
    const { patients, optedOut } = secondaryUsePatients(store, loaded.index);
    expect(optedOut).toBeGreaterThan(0);
    const exact = countPopulation(patients, loaded.compiled, new OrganisationHierarchy(organisations), '2025-03-31');
    let checked = 0;
    let small = 0;
    for (const row of result.model.current.rows) {
      const truth = exact.byLevel.get(row.level as OrganisationLevel)!.find((c) => c.organisation === row.code && c.registry === row.registry)!;
      const pairs: [number, number | string][] = [
        [truth.registered, row.registered],
        [truth.onRegister, row.onRegister],
      ];
      for (const [id, statuses] of Object.entries(truth.indicators)) {
        const shown = row.indicators[id]!;
        pairs.push([statuses.met, shown.met], [statuses.gap, shown.gap], [statuses.excepted, shown.excepted], [statuses['not-applicable'], shown.notApplicable]);
      }
      for (const [count, shown] of pairs) {
        checked++;
        if (count === 0) expect(shown).toBe(0);
        else if (count <= 7) {
          small++;
          expect(shown).toBe('*');
        } else expect([Math.round(count / 5) * 5, '*']).toContain(shown);
      }
    }
    // Every organisation with registered patients × every registry: the list size and the register, 4 statuses per indicator.
    const organisationCount = [...exact.byLevel.values()].reduce((n, rows) => n + new Set(rows.map((r) => r.organisation)).size, 0);
    const indicatorCount = loaded.compiled.reduce((n, r) => n + r.indicatorIds.length, 0);
    expect(organisationCount).toBeGreaterThanOrEqual(16);
    expect(result.model.current.rows).toHaveLength(organisationCount * loaded.compiled.length);
    expect(checked).toBe(organisationCount * (loaded.compiled.length * 2 + indicatorCount * 4));
    expect(small).toBeGreaterThan(0);
  });

  it('publishes the trend dates the same way and keeps them in date order', () => {
    expect(result.model.dates).toEqual(['2024-03-31', '2024-09-30', '2025-03-31']);
    expect(result.model.snapshots.map((s) => s.asOf)).toEqual(result.model.dates);
    for (const snapshot of result.model.snapshots) {
      for (const row of snapshot.rows) {
        expect(publishable(row.registered) && publishable(row.onRegister)).toBe(true);
        for (const x of Object.values(row.indicators)) expect([x.met, x.gap, x.excepted, x.notApplicable].every(publishable)).toBe(true);
      }
    }
  });

  it('plots only practices with published numbers', () => {
    expect(result.model.funnels.length + result.model.missingFunnels.length).toBe(result.model.registries.reduce((n, r) => n + r.indicators.length, 0));
    for (const { funnel } of result.model.funnels) {
      for (const point of funnel.points) {
        const x = result.model.current.rows.find((r) => r.level === 'practice' && r.code === point.code && r.registry === funnel.registry)!.indicators[funnel.indicator]!;
        expect(typeof x.met).toBe('number');
        expect(point.n).toBe(x.denominator);
      }
      const practices = result.model.current.rows.filter((r) => r.level === 'practice' && r.registry === funnel.registry).length;
      expect(funnel.points.length + funnel.notPlotted.length + funnel.empty.length).toBe(practices);
    }
  });
});

describe('the page', () => {
  it('is self-contained: no external scripts, styles, fonts, images or links, and a policy that forbids requests', () => {
    const html = result.html;
    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src 'none';`);
    for (const forbidden of [/<link\b/i, /\ssrc=/i, /url\(/i, /@import/i, /@font-face/i, /href="(?!#)/i, /<img\b/i, /<iframe\b/i]) {
      expect(html).not.toMatch(forbidden);
    }
  });

  it('has a chart for every funnel plot and trend, and the expected sections and tables', () => {
    const html = result.html;
    expect(html.match(/<svg /g)).toHaveLength(result.model.funnels.length + result.model.trends.length);
    expect(result.model.trends.map((t) => t.id)).toContain('trend-prevalence');
    for (const heading of ['Register sizes and prevalence', 'Indicator achievement', 'Variation between practices', 'Trends', 'About these figures']) {
      expect(html).toContain(`<h2>${heading}</h2>`);
    }
    for (const id of ['table-prevalence', 'table-achievement-diabetes', 'table-achievement-smi', 'table-trend-diabetes']) expect(html).toContain(`id="${id}"`);
  });

  it('shows only published counts in its tables', () => {
    const counts = [...result.html.matchAll(/<td class="num" data-sort="(\d+)">([\d,]+)<\/td>/g)];
    expect(counts.length).toBeGreaterThan(100);
    for (const [, sort, text] of counts) {
      expect(Number(text!.replaceAll(',', ''))).toBe(Number(sort));
      expect(publishable(Number(sort))).toBe(true);
    }
    const details = [...result.html.matchAll(/<span class="detail">([^<]*)<\/span>/g)].map((m) => m[1]!);
    expect(details.length).toBeGreaterThan(100);
    for (const detail of details) {
      for (const n of detail.match(/[\d,]+/g) ?? []) expect(publishable(Number(n.replaceAll(',', '')))).toBe(true);
    }
  });
});

describe('report dates', () => {
  it('orders and de-duplicates the dates and refuses a bad one with CG_USAGE', () => {
    expect(reportDates('2025-03-31', ['2024-12-31', '2025-03-31', ' 2024-06-30'])).toEqual(['2024-06-30', '2024-12-31', '2025-03-31']);
    expect(() => reportDates('2025-03-31', ['2024-13-01'])).toThrow(expect.objectContaining({ code: 'CG_USAGE' }));
  });
});

describe('organisation problems and untrusted text', () => {
  async function* chunks(text: string): AsyncGenerator<string> {
    yield text;
  }

  it('counts practices missing from the organisation file under (unmapped), names problems, and escapes names and titles', async () => {
    const orgLines = readFileSync(ORGS, 'utf8').split('\n').filter((l) => l && !l.includes('"Z50001"'));
    orgLines.push('{"kind":"organisation","code":"Z99999","name":"<b>Orphan</b> practice","type":"practice","parent":"NOPE"}');
    const { model, html } = await createReport({
      records: RECORDS,
      organisations: chunks(orgLines.join('\n') + '\n'),
      asOf: '2025-03-31',
      registries: REGISTRIES,
      codesets: CODESETS,
      only: ['diabetes'],
      title: '<script>alert(1)</script> report',
    });
    expect(model.unmappedPractices).toEqual(['Z50001']);
    expect(model.organisationProblems).toEqual([{ code: 'Z99999', reason: 'parent NOPE is not in the organisation records' }]);
    const pcns = model.current.rows.filter((r) => r.level === 'pcn').map((r) => r.code);
    expect(pcns).toContain('(unmapped)');
    expect(html).toContain('Practices not in the organisation records (counted under "(unmapped)"): Z50001.');
    expect(html).toContain('Z99999 (parent NOPE is not in the organisation records)');
    expect(html).not.toContain('<script>alert(1)</script>');
    expect(html).toContain('&#60;script&#62;alert(1)&#60;/script&#62; report');
  });
});
