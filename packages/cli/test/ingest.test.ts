import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, run } from './run.js';

const REAL = resolve(ROOT, '../shared/realdata');
const EXTRACT = join(ROOT, 'packages/extract');

const lines = (file: string) => readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

describe('caregaps ingest', () => {
  it('--from extract: writes linked records, a quarantine file and a summary by reason', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'caregaps-ingest-'));
    const output = join(dir, 'records.ndjson');
    const quarantine = join(dir, 'q.ndjson');
    const { code, err } = await run('ingest', '--from', 'extract', '--map', join(EXTRACT, 'maps/emis-style.yaml'), join(EXTRACT, 'test/fixtures/emis-style'), '--output', output, '--quarantine', quarantine);
    expect(code).toBe(0);
    const records = lines(output);
    expect(records.map((r) => r['kind'])).toEqual(['event', 'event', 'event', 'event', 'retract', 'patient', 'patient']);
    expect(err).toContain('15 items read');
    expect(err).toContain('7 records produced: 2 patients, 4 events, 1 retractions');
    expect(err).toMatch(/8 quarantined:\n\s+2\s+CG_SOURCE_DATE/);
    expect(lines(quarantine)).toHaveLength(8);
    expect(lines(quarantine)[0]).toMatchObject({ ok: false, code: 'CG_SOURCE_NHS_NUMBER', at: { line: 4 } });
  });

  it('refuses a malformed column map with CG_MAP_FORMAT and exit code 2', async () => {
    const { code, err } = await run('ingest', '--from', 'extract', '--map', join(EXTRACT, 'test/fixtures/README.md'), join(EXTRACT, 'test/fixtures/emis-style'));
    expect(code).toBe(2);
    expect(err).toContain('CG_MAP_FORMAT');
  });

  it('refuses an unknown --from and --from extract without --map', async () => {
    expect((await run('ingest', '--from', 'hl7v2', ROOT)).err).toContain('CG_USAGE');
    expect((await run('ingest', '--from', 'extract', join(EXTRACT, 'test/fixtures/emis-style'))).err).toContain('--map');
  });

  it.skipIf(!existsSync(REAL) && !process.env['CI'])('--from fhir on the Synthea bundles: test-range numbers with a mapping file, default practice, then evaluate', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'caregaps-ingest-'));
    const output = join(dir, 'records.ndjson');
    const { code, err } = await run('ingest', '--from', 'fhir', join(REAL, 'synthea-r4-bundles'), '--default-practice', 'F83004', '--assign-test-nhs-numbers', '--output', output);
    expect(code).toBe(0);
    expect(err).toContain('8271 items read');
    expect(err).toContain('5968 records produced: 34 patients, 5934 events, 0 retractions');
    const mapping = readFileSync(`${output}.nhs-numbers.csv`, 'utf8').trim().split('\n');
    expect(mapping[0]).toBe('source,nhsNumber');
    expect(mapping).toHaveLength(35);
    const evaluated = await run('evaluate', '--input', output, '--as-of', '2021-03-31', '--registry', 'diabetes');
    expect(evaluated.out.trim().split('\n')).toHaveLength(11);
    // evaluate --from reads the same sources directly, with the same results.
    const direct = await run('evaluate', '--from', 'fhir', join(REAL, 'synthea-r4-bundles'), '--default-practice', 'F83004', '--assign-test-nhs-numbers', '--as-of', '2021-03-31', '--registry', 'diabetes');
    expect(direct.code).toBe(0);
    expect(direct.out).toBe(evaluated.out);
    expect(direct.err).toContain('2303 quarantined');
  });

  it('evaluate takes either --input or --from, not both or neither', async () => {
    expect((await run('evaluate', '--as-of', '2021-03-31')).err).toContain('CG_USAGE');
    expect((await run('evaluate', '--input', 'x.ndjson', '--from', 'fhir', 'y.json', '--as-of', '2021-03-31')).err).toContain('CG_USAGE');
  });
});
