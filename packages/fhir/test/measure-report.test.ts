import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadRegistries, type PatientResult } from '@caregaps/core';
import { individualMeasureReport, summaryMeasureReports, INDICATOR_SYSTEM } from '@caregaps/fhir';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const { compiled } = loadRegistries(join(ROOT, 'registries'), join(ROOT, 'codesets'), ['diabetes']);
const options = { asOf: '2025-03-31', registries: compiled, date: '2025-04-01T09:00:00Z' };

const result = (nhsNumber: string, DM020: PatientResult['indicators'][string], DM021: PatientResult['indicators'][string] = 'not-applicable'): PatientResult => ({
  nhsNumber,
  registry: 'diabetes',
  indicators: { DM020, DM021, DM012: 'gap', DM036: 'excepted' },
});

const populations = (group: { population?: { code?: { coding?: { code?: string }[] }; count?: number }[] }) =>
  Object.fromEntries((group.population ?? []).map((p) => [p.code!.coding![0]!.code, p.count]));

describe('individualMeasureReport', () => {
  it('puts each status in the FHIR measure populations, one group per indicator', () => {
    const report = individualMeasureReport(result('9434765919', 'met'), options);
    expect(report).toMatchObject({
      resourceType: 'MeasureReport',
      status: 'complete',
      type: 'individual',
      measure: 'https://caregaps.dev/fhir/Measure/diabetes',
      subject: { identifier: { system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9434765919' } },
      period: { start: '2024-04-01', end: '2025-03-31' },
      date: '2025-04-01T09:00:00Z',
    });
    const byIndicator = Object.fromEntries(report.group!.map((g) => [g.code!.coding![0]!.code, populations(g)]));
    expect(report.group![0]!.code!.coding![0]!.system).toBe(INDICATOR_SYSTEM);
    expect(byIndicator['DM020']).toEqual({ 'initial-population': 1, denominator: 1, 'denominator-exception': 0, numerator: 1 });
    expect(byIndicator['DM021']).toEqual({ 'initial-population': 1, denominator: 0, 'denominator-exception': 0, numerator: 0 });
    expect(byIndicator['DM012']).toEqual({ 'initial-population': 1, denominator: 1, 'denominator-exception': 0, numerator: 0 });
    expect(byIndicator['DM036']).toEqual({ 'initial-population': 1, denominator: 1, 'denominator-exception': 1, numerator: 0 });
  });

  it('lists the records that decided as evaluated resources when results are explained', () => {
    const explained: PatientResult = {
      ...result('9434765919', 'met'),
      explanation: {
        register: { decidedBy: { rule: 2, action: 'select' }, steps: [], facts: { DMLAT_DAT: { value: '2015-03-01', records: ['dx1'] } } },
        indicators: {
          DM020: {
            status: 'met',
            denominator: { decidedBy: { rule: 2, action: 'select' }, steps: [], facts: {} },
            numerator: { decidedBy: { rule: 1, action: 'select' }, steps: [], facts: { IFCCHBA_VAL: { value: 52, records: ['h1'] } } },
          },
        },
      },
    };
    expect(individualMeasureReport(explained, options).evaluatedResource!.map((r) => r.identifier!.value)).toEqual(['dx1', 'h1']);
  });
});

describe('summaryMeasureReports', () => {
  it('sums the populations and scores achievement as numerator ÷ (denominator − exceptions)', () => {
    const results = [result('1', 'met'), result('2', 'met'), result('3', 'gap'), result('4', 'excepted'), result('5', 'not-applicable', 'met')];
    const [report] = summaryMeasureReports(results, options);
    expect(report!.type).toBe('summary');
    const dm020 = report!.group!.find((g) => g.code!.coding![0]!.code === 'DM020')!;
    expect(populations(dm020)).toEqual({ 'initial-population': 5, denominator: 4, 'denominator-exception': 1, numerator: 2 });
    expect(dm020.measureScore!.value).toBeCloseTo(2 / 3);
    const dm021 = report!.group!.find((g) => g.code!.coding![0]!.code === 'DM021')!;
    expect(dm021.measureScore!.value).toBe(1);
  });

  it('gives every registry a report, without a score where nobody is in the denominator', () => {
    const [report] = summaryMeasureReports([], options);
    expect(report!.group!.every((g) => g.measureScore === undefined && populations(g)['initial-population'] === 0)).toBe(true);
  });
});
