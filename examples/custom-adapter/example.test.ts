import { expect, it } from 'vitest';
// @ts-expect-error: a plain JavaScript example, imported as users would run it
import { runExample } from './index.mjs';

interface ExampleRun {
  lab: Array<Record<string, unknown>>;
  quarantined: Array<{ code: string; at: { line: number } }>;
  results: Array<{ nhsNumber: string; indicators: Record<string, string> }>;
  refused: string;
}

it('reads the lab feed through a registered third-party adapter, normalises local codes, links and evaluates', async () => {
  const run = (await runExample({ log: () => {} })) as ExampleRun;
  expect(run.lab).toEqual([
    { kind: 'event', id: 'acme-lab:A1001', nhsNumber: '9434765919', code: '999791000000106', date: '2025-01-10', value: 52, unit: 'mmol/mol', source: 'RAL01' },
    { kind: 'event', id: 'acme-lab:A1002', nhsNumber: '9990000026', code: '999791000000106', date: '2025-01-12', value: 65, unit: 'mmol/mol', source: 'RAL01' },
    { kind: 'event', id: 'acme-lab:A1006', nhsNumber: '9990000026', code: 'CHOL', system: 'local:acme-lab', date: '2025-01-15', value: 5.2, unit: 'mmol/L', source: 'RAL01' },
  ]);
  expect(run.quarantined.map((q) => [q.code, q.at.line])).toEqual([
    ['CG_SOURCE_NOT_DONE', 4],
    ['CG_RECORD_NHS_NUMBER', 5],
    ['CG_SOURCE_DATE', 6],
  ]);
  expect(Object.fromEntries(run.results.map((r) => [r.nhsNumber, r.indicators['DM020']]))).toEqual({ '9434765919': 'met', '9990000026': 'gap' });
  expect(run.refused).toBe('CG_ADAPTER_ENGINE');
});
