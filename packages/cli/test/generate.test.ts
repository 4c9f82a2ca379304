import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from './run.js';

const dir = mkdtempSync(join(tmpdir(), 'caregaps-generate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('caregaps generate', () => {
  it('writes records and organisations that caregaps evaluate reads without quarantine', async () => {
    const output = join(dir, 'pop');
    const generated = await run('generate', '--patients', '2_000', '--seed', 'cli', '--output', output);
    expect(generated.code).toBe(0);
    expect(generated.err).toMatch(/^2000 patients in 5 practices: \d+ records/);
    const organisations = readFileSync(join(output, 'organisations.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(organisations.filter((o) => o.type === 'practice')).toHaveLength(5);
    const evaluated = await run('evaluate', '--input', join(output, 'records.ndjson'), '--as-of', '2025-03-31', '--summary', '--registry', 'diabetes');
    expect(evaluated.code).toBe(0);
    expect(evaluated.err).toMatch(/ 0 quarantined/);
    expect(evaluated.out).toMatch(/diabetes: \d+ on the register/);
  });

  it('dates nothing after --extract-date', async () => {
    const output = join(dir, 'early');
    expect((await run('generate', '--patients', '500', '--output', output, '--extract-date', '2019-03-31')).code).toBe(0);
    const dates = readFileSync(join(output, 'records.ndjson'), 'utf8').match(/"date":"[^"]+"/g)!;
    expect(dates.length).toBeGreaterThan(0);
    for (const d of dates) expect(d.slice(8, 18) <= '2019-03-31').toBe(true);
  });

  it('refuses a bad --patients with a usage error (exit 2)', async () => {
    const result = await run('generate', '--patients', 'many', '--output', join(dir, 'bad'));
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/CG_USAGE/);
  });

  it('refuses sizes beyond its bounds up front, with the bound in the message', async () => {
    const huge = await run('generate', '--patients', '1e12', '--output', join(dir, 'huge'));
    expect(huge.code).toBe(2);
    expect(huge.err).toMatch(/--patients "1e12" must be a whole number from 1 to 50,000,000/);
    const dense = await run('generate', '--patients', '10', '--records-per-patient', '1e9', '--output', join(dir, 'dense'));
    expect(dense.code).toBe(2);
    expect(dense.err).toMatch(/--records-per-patient "1e9" must be a number from 0 to 10,000/);
    const threads = await run('generate', '--patients', '10', '--threads', '1.5', '--output', join(dir, 'threads'));
    expect(threads.code).toBe(2);
    expect(threads.err).toMatch(/--threads "1.5" must be a whole number from 1 to 256/);
  });

  it('writes the same file with --threads 2 as on one thread', async () => {
    const files = [];
    for (const threads of ['1', '2']) {
      const output = join(dir, `threads-${threads}`);
      expect((await run('generate', '--patients', '2500', '--records-per-patient', '20', '--threads', threads, '--output', output)).code).toBe(0);
      files.push(readFileSync(join(output, 'records.ndjson'), 'utf8'));
    }
    expect(files[1]!.length).toBeGreaterThan(0);
    expect(files[1]).toBe(files[0]);
  });

  it('writes about --records-per-patient records per patient', async () => {
    const output = join(dir, 'dense');
    const generated = await run('generate', '--patients', '1000', '--records-per-patient', '50', '--output', output);
    expect(generated.code).toBe(0);
    const lines = readFileSync(join(output, 'records.ndjson'), 'utf8').trim().split('\n').length;
    expect(Math.abs(lines / 1000 - 50)).toBeLessThan(5);
    expect(generated.err).toMatch(/records, \d+\.\d per patient/);
  });
});
