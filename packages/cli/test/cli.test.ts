import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CODESETS, REGISTRIES, run } from './run.js';


const dir = mkdtempSync(join(tmpdir(), 'caregaps-cli-'));
const records = join(dir, 'records.ndjson');
writeFileSync(
  records,
  [
    '{"kind":"patient","nhsNumber":"9434765919","birthDate":"1957-03-02","sex":"female","practice":"F83004","registeredFrom":"2001-05-01"}',
    '{"kind":"event","id":"o1","nhsNumber":"9434765919","code":"44054006","date":"2015-03-01"}',
    '{"kind":"event","id":"o2","nhsNumber":"9434765919","code":"999791000000106","date":"2025-01-10","value":52}',
    '{"kind":"patient","nhsNumber":"9990000018","birthDate":"1990-01-01","sex":"male","practice":"F83004","registeredFrom":"2001-05-01"}',
    '{"kind":"event","id":"o3","nhsNumber":"9990000018","code":"44054006","date":"2020-03-01"}',
    '{"kind":"event","id":"o4","nhsNumber":"9990000018","code":"999791000000106","date":"2025-01-10","value":70}',
    'garbage',
    '{"kind":"event","id":"o5","nhsNumber":"1234567890","code":"44054006","date":"2015-03-01"}',
  ].join('\n') + '\n',
);

describe('caregaps evaluate', () => {
  it('writes one line per patient per register, and quarantines bad lines with file and line', async () => {
    const quarantine = join(dir, 'q.ndjson');
    const { code, out, err } = await run('evaluate', '--input', records, '--as-of', '2025-03-31', '--registry', 'diabetes', '--quarantine', quarantine);
    expect(code).toBe(0);
    const lines = out.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toEqual([
      // DM012 reads FRC_COD, missing from the bundled codesets: each line names the provisional indicators.
      { nhsNumber: '9434765919', registry: 'diabetes', indicators: expect.objectContaining({ DM020: 'met', DM021: 'not-applicable' }), provisional: expect.arrayContaining(['DM012']) },
      { nhsNumber: '9990000018', registry: 'diabetes', indicators: expect.objectContaining({ DM020: 'gap' }), provisional: expect.arrayContaining(['DM012']) },
    ]);
    expect(err).toContain('6 records accepted, 2 quarantined');
    const q = readFileSync(quarantine, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(q.map((x) => [x.line, x.code])).toEqual([[7, 'CG_RECORD_JSON'], [8, 'CG_RECORD_NHS_NUMBER']]);
  });

  it('explains each status with the deciding rule and the records read', async () => {
    const { out } = await run('evaluate', '--input', records, '--as-of', '2025-03-31', '--registry', 'diabetes', '--explain');
    const gap = JSON.parse(out.trim().split('\n')[1]!);
    expect(gap.explanation.indicators.DM020.numerator.decidedBy).toEqual({ rule: 1, action: 'reject' });
    expect(gap.explanation.indicators.DM020.numerator.facts.IFCCHBA_VAL).toEqual({ value: 70, records: ['o4'] });
  });

  it('prints a readable summary', async () => {
    const { code, out } = await run('evaluate', '--input', records, '--as-of', '2025-03-31', '--summary');
    expect(code).toBe(0);
    expect(out).toMatch(/diabetes: 2 on the register/);
    expect(out).toMatch(/DM020 +met +1 +gap +1/);
    // DM012 reads clusters whose codes are missing here: the summary says so rather than showing a bare 0 %.
    expect(out).toMatch(/^ ?\* ?DM012 /m);
    expect(out).toContain('* provisional:');
    // Retired indicators are still evaluated and say so, with the reason and its source.
    expect(out).toMatch(/^[* ] MH021 .*retired$/m);
    expect(out).toMatch(/^MH021 retired: Retired from QOF in 2025\/26/m);
    expect(out).toMatch(/^LD004 retired: /m);
  });

  it.each([
    [['evaluate', '--input', records, '--as-of', '31/03/2025'], 2],
    [['evaluate', '--input', join(dir, 'nope.ndjson'), '--as-of', '2025-03-31'], 2],
    [['evaluate', '--as-of', '2025-03-31'], 2],
    [['evaluate', '--input', records, '--as-of', '2025-03-31', '--registry', 'nope'], 2],
    [['frobnicate'], 2],
  ])('exits 2 on usage or input errors: %j', async (argv, expected) => {
    const { code, err } = await run(...argv);
    expect(code).toBe(expected);
    expect(err.length).toBeGreaterThan(0);
  });
});

describe('caregaps validate', () => {
  it('accepts the bundled registries', async () => {
    const { code, out } = await run('validate', join(REGISTRIES, 'diabetes/registry.yaml'), join(REGISTRIES, 'diabetes/tests.yaml'), join(CODESETS, 'DM_COD.csv'));
    expect(code).toBe(0);
    expect(out.trim().split('\n')).toHaveLength(3);
  });
  it('prints file:line:column and exits 1 for a broken rule file', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, readFileSync(join(REGISTRIES, 'diabetes/registry.yaml'), 'utf8').replace('latest: DM_COD', 'latest: DM_CODE'));
    const { code, err } = await run('validate', bad);
    expect(code).toBe(1);
    expect(err).toMatch(new RegExp(`${bad}:\\d+:\\d+: no codeset for cluster DM_CODE .*\\[CG_RULE_UNKNOWN_CLUSTER\\]`));
  });
});

describe('caregaps test', () => {
  it('runs a registry folder and counts passes', async () => {
    const { code, out } = await run('test', join(REGISTRIES, 'diabetes'));
    expect(code).toBe(0);
    expect(out).toMatch(/^\d+ passed, 0 failed$/m);
  });
  it('shows expected, actual and the deciding rule for a failing case, and exits 1', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'caregaps-reg-'));
    writeFileSync(join(folder, 'registry.yaml'), readFileSync(join(REGISTRIES, 'diabetes/registry.yaml')));
    writeFileSync(
      join(folder, 'tests.yaml'),
      `registry: diabetes
asOf: "2025-03-31"
cases:
  - name: wrong on purpose
    events: [{ code: "44054006", date: "2015-03-01" }, { code: "999791000000106", date: "2025-01-10", value: 70 }]
    expect: { register: true, indicators: { DM020: met } }
`,
    );
    const { code, out } = await run('test', folder);
    expect(code).toBe(1);
    expect(out).toContain('FAIL wrong on purpose');
    expect(out).toContain('DM020: expected met, got gap (decided by numerator rule 1)');
    expect(out).toMatch(/^0 passed, 1 failed$/m);
  });
});

describe('caregaps evaluate --format', () => {
  it('writes individual FHIR MeasureReports, one per patient per register', async () => {
    const { code, out } = await run('evaluate', '--input', records, '--as-of', '2025-03-31', '--registry', 'diabetes', '--format', 'measure-report');
    expect(code).toBe(0);
    const reports = out.trim().split('\n').map((l) => JSON.parse(l));
    expect(reports.map((r) => [r.resourceType, r.type, r.subject.identifier.value])).toEqual([
      ['MeasureReport', 'individual', '9434765919'],
      ['MeasureReport', 'individual', '9990000018'],
    ]);
  });
  it('writes one summary MeasureReport per registry whose score is the achievement', async () => {
    const { out } = await run('evaluate', '--input', records, '--as-of', '2025-03-31', '--registry', 'diabetes', '--format', 'measure-report-summary');
    const [report] = out.trim().split('\n').map((l) => JSON.parse(l));
    const dm020 = report.group.find((g: { code: { coding: { code: string }[] } }) => g.code.coding[0]!.code === 'DM020');
    expect(dm020.measureScore.value).toBe(0.5);
  });
  it('refuses an unknown format with exit code 2', async () => {
    expect((await run('evaluate', '--input', records, '--as-of', '2025-03-31', '--format', 'xml')).code).toBe(2);
  });
});
