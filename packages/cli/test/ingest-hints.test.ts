// Issue 12 §11: an ingest that produces no patients says what to do, counts the events it cannot link, and exits 1.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, run } from './run.js';

const SYNTHEA = resolve(ROOT, '../shared/realdata/synthea-r4-bundles');

describe('caregaps ingest with nothing linkable', () => {
  it.skipIf(!existsSync(SYNTHEA) && !process.env['CI'])('Synthea without --assign-test-nhs-numbers: the hint, exit 1', async () => {
    const output = join(mkdtempSync(join(tmpdir(), 'caregaps-hints-')), 'records.ndjson');
    const { code, err } = await run('ingest', '--from', 'fhir', SYNTHEA, '--output', output);
    expect(code).toBe(1);
    expect(err).toMatch(/ 0 patients/);
    expect(err).toMatch(/hint: \d+ source patients have no valid NHS number[^\n]*--assign-test-nhs-numbers/);
  });

  it.skipIf(!existsSync(SYNTHEA) && !process.env['CI'])('with test numbers but no practice: the --default-practice hint, every event counted as unlinked', async () => {
    const output = join(mkdtempSync(join(tmpdir(), 'caregaps-hints-')), 'records.ndjson');
    const { code, err } = await run('ingest', '--from', 'fhir', SYNTHEA, '--assign-test-nhs-numbers', '--output', output);
    expect(code).toBe(1);
    expect(err).toMatch(/hint: \d+ patients name no registered practice; add --default-practice <ODS code>/);
    expect(err).not.toMatch(/hint: [^\n]*--assign-test-nhs-numbers/);
    const produced = /records produced: 0 patients, (\d+) events/.exec(err);
    const unlinked = /(\d+) events belong to (\d+) patients with no patient record/.exec(err);
    expect(Number(produced![1])).toBeGreaterThan(1000);
    expect(Number(unlinked![1])).toBe(Number(produced![1])); // every event written is unlinked
  });
});
