// `caregaps codesets` and `--codesets-from` on the commands: every cluster a registry reads with its source and
// status, provisional flags in the summary, the results and MeasureReports, and the same option on every command.
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main } from '../src/main.js';
import { run } from './run.js';

const shared = (p: string) => fileURLToPath(new URL(`../../../../shared/codelists/${p}`, import.meta.url));
const SOURCES = ['pcd-20240531', 'opencodelists', 'substitutes/nhs-drug-refsets-20231025'].map(shared);
const FROM = SOURCES.flatMap((s) => ['--codesets-from', s]);

const dir = mkdtempSync(join(tmpdir(), 'caregaps-codesets-'));
const records = join(dir, 'records.ndjson');
// A diabetes code from codesets/DM_COD.csv (also in the 2024-05-31 release's DM_COD).
writeFileSync(
  records,
  '{"kind":"patient","nhsNumber":"9434765919","birthDate":"1957-03-02","sex":"female","practice":"F83004","registeredFrom":"2001-05-01"}\n' +
    '{"kind":"event","id":"o1","nhsNumber":"9434765919","code":"44054006","date":"2015-03-01"}\n',
);

describe('--codesets-from on every command that loads registries', () => {
  it.each(['evaluate', 'watch', 'test', 'summary', 'report', 'validate', 'generate', 'codesets'])('%s --help lists it', async (command) => {
    let help = '';
    await main([command, '--help'], { out: (t) => (help += t), err: () => {}, interactive: false });
    expect(help).toContain('--codesets-from <path>');
  });

  it('a source that does not exist is refused with CG_CODESET_SOURCE', async () => {
    const { code, err } = await run('codesets', '--codesets-from', join(dir, 'nope'));
    expect(code).toBe(1);
    expect(err).toContain('CG_CODESET_SOURCE');
  });

  it('summary, results and MeasureReports flag provisional indicators with the bundled codesets', async () => {
    const summary = await run('evaluate', '--input', records, '--as-of', '2025-03-31', '--registry', 'diabetes', '--summary');
    expect(summary.out).toMatch(/^ ?\* ?DM012 /m);
    expect(summary.out).toMatch(/DM012: reads .*FRC_COD \(missing\)/);
    const reports = await run('evaluate', '--input', records, '--as-of', '2025-03-31', '--registry', 'diabetes', '--format', 'measure-report-summary');
    const group = JSON.parse(reports.out).group.find((g: { code: { coding: { code: string }[] } }) => g.code.coding[0]!.code === 'DM012');
    expect(group.extension[0]).toMatchObject({ url: 'https://caregaps.dev/fhir/StructureDefinition/provisional', valueString: expect.stringContaining('FRC_COD (missing)') });
  });
});

describe.skipIf(!SOURCES.every(existsSync) && !process.env['CI'])('with the shared codeset sources', () => {
  it('caregaps codesets lists each cluster with source, release, count, expected count and status', async () => {
    const { code, out } = await run('codesets', '--registry', 'diabetes', '--format', 'json', ...FROM);
    expect(code).toBe(0);
    const { registries, sources } = JSON.parse(out);
    const rows = Object.fromEntries(registries[0].clusters.map((c: { cluster: string }) => [c.cluster, c]));
    expect(rows['FRC_COD']).toMatchObject({ status: 'complete', codes: 14, expected: 14, expectedRelease: '20240531', release: '20241205' });
    expect(rows['FRC_COD'].source).toContain('opencodelists');
    expect(rows['BP_COD']).toMatchObject({ status: 'partial', codes: 97, expected: 161 });
    expect(rows['AMPL_COD']).toMatchObject({ status: 'missing', source: 'bundled' });
    expect(sources).toHaveLength(3);
    const text = await run('codesets', '--registry', 'diabetes', ...FROM);
    expect(text.out).toMatch(/^ {2}FRC_COD +complete +14 +14 \(20240531\) +20241205/m);
  });

  it('evaluate --summary no longer flags what the sources complete', async () => {
    const { out, err } = await run('evaluate', '--input', records, '--as-of', '2025-03-31', '--registry', 'diabetes', '--summary', ...FROM);
    expect(err).toMatch(/codesets from .*opencodelists: 31 clusters/);
    expect(out).not.toMatch(/DM012: .*FRC_COD/);
    expect(out).toMatch(/DM012: reads AMPL_COD \(missing\)/);
  });
});

describe('provisional in the other outputs', () => {
  const orgs = join(dir, 'orgs.ndjson');
  writeFileSync(orgs, '{"kind":"organisation","code":"F83004","name":"Practice","type":"practice","parent":null}\n');

  it('summary --format json carries the provisional indicators with their reasons; CSV notes them on stderr', async () => {
    const json = await run('summary', '--input', records, '--orgs', orgs, '--as-of', '2025-03-31', '--registry', 'diabetes', '--format', 'json');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.out).provisional['DM012']).toContain('FRC_COD (missing)');
    const csv = await run('summary', '--input', records, '--orgs', orgs, '--as-of', '2025-03-31', '--registry', 'diabetes');
    expect(csv.err).toMatch(/\* DM012 provisional: reads .*FRC_COD \(missing\)/);
  });

  it('watch marks changes of provisional indicators', async () => {
    const { out } = await run('watch', '--input', records, '--as-of', '2025-03-31', '--registry', 'diabetes');
    const lines = out.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.find((l) => l.indicator === 'DM012')).toMatchObject({ provisional: true });
  });
});
