import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, run } from './run.js';

const SAMPLE = join(ROOT, 'examples', 'sample-population');
const RECORDS = join(SAMPLE, 'records.ndjson');
const ORGS = join(SAMPLE, 'organisations.ndjson');

describe('caregaps report', () => {
  const dir = mkdtempSync(join(tmpdir(), 'caregaps-report-'));

  it('writes the page, and quarantines bad lines with file, line and reason without stopping', async () => {
    const records = join(dir, 'records.ndjson');
    writeFileSync(records, readFileSync(RECORDS, 'utf8') + 'not json\n{"kind":"event","id":"x","nhsNumber":"1234567890","code":"44054006","date":"2020-01-01"}\n');
    const output = join(dir, 'report.html');
    const quarantine = join(dir, 'quarantine.ndjson');
    const { code, err } = await run('report', '--input', records, '--orgs', ORGS, '--as-of', '2025-03-31', '--registry', 'diabetes', '--output', output, '--quarantine', quarantine);
    expect(code).toBe(0);
    expect(err).toMatch(/report for 2025-03-31 \(1 achievement date, \d+ funnel plots\) written to/);
    const html = readFileSync(output, 'utf8');
    expect(html).toContain('id="table-achievement-diabetes"');
    expect(html).not.toContain('id="table-achievement-smi"');
    expect(html).toMatch(/Input lines refused and quarantined: [^.]*CG_\w+ \d/);
    const refused = readFileSync(quarantine, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { line: number; file: string });
    expect(refused).toHaveLength(2);
    expect(refused[0]!.file).toBe(records);
  });

  it('refuses a bad date, an empty --trend and an unknown indicator as usage errors (exit 2)', async () => {
    const base = ['report', '--input', RECORDS, '--orgs', ORGS, '--output', join(dir, 'never.html')];
    const badDate = await run(...base, '--as-of', '2025-02-30');
    expect(badDate.code).toBe(2);
    expect(badDate.err).toContain('2025-02-30');
    const emptyTrend = await run(...base, '--as-of', '2025-03-31', '--trend', ',');
    expect(emptyTrend.code).toBe(2);
    const unknown = await run(...base, '--as-of', '2025-03-31', '--registry', 'diabetes', '--indicator', 'DM999');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('DM999');
    expect(existsSync(join(dir, 'never.html'))).toBe(false);
  });

  it('reads an unreadable input as a CG_INPUT error (exit 2)', async () => {
    const { code, err } = await run('report', '--input', join(dir, 'missing.ndjson'), '--orgs', ORGS, '--as-of', '2025-03-31', '--output', join(dir, 'never.html'));
    expect(code).toBe(2);
    expect(err).toContain('missing.ndjson');
  });
});
