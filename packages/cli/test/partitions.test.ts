import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Population } from '@caregaps/synthetic';
import { describe, expect, it } from 'vitest';
import { CODESETS, REGISTRIES, run } from './run.js';

describe('caregaps evaluate --partitions', () => {
  it('gives the same results over partitions on worker threads as in one partition, and refuses a bad count', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'caregaps-partitions-'));
    const input = join(dir, 'records.ndjson');
    const population = new Population({ patients: 400, seed: 3 });
    const lines: string[] = [];
    for (const patient of population.records()) for (const r of patient) lines.push(JSON.stringify(r));
    writeFileSync(input, lines.join('\n') + '\n');
    const args = ['evaluate', '--input', input, '--as-of', population.config.extractDate, '--registries', REGISTRIES, '--codesets', CODESETS];
    const one = await run(...args);
    const three = await run(...args, '--partitions', '3');
    expect(one.code).toBe(0);
    expect(three.code).toBe(0);
    const sorted = (out: string) => out.trim().split('\n').sort();
    expect(sorted(one.out).length).toBeGreaterThan(20);
    expect(sorted(three.out)).toEqual(sorted(one.out));
    const bad = await run(...args, '--partitions', '0');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--partitions must be a whole number/);
  });
});
