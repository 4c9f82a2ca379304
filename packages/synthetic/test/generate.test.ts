import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { CaregapsError, checkRecord, isValidNhsNumber, loadCodesets, type CaregapsRecord, type PatientRecord } from '@caregaps/core';
import { allCodes, buildHierarchy, DEFAULT_CONFIG, Population, Prng, resolveConfig, testNhsNumbers, verifyCodes, writePopulation } from '@caregaps/synthetic';

const CODESETS = fileURLToPath(new URL('../../../codesets', import.meta.url));
const dirs: string[] = [];
const scratch = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'caregaps-synthetic-'));
  dirs.push(dir);
  return dir;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const sha = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('Prng', () => {
  it('gives the same stream for the same seed and a different one for another seed or sub-stream', () => {
    const draw = (seed: string, stream: number) => {
      const rng = new Prng(seed, stream);
      return Array.from({ length: 5 }, () => rng.nextUint32());
    };
    expect(draw('a', 0)).toEqual(draw('a', 0));
    expect(draw('a', 0)).not.toEqual(draw('b', 0));
    expect(draw('a', 0)).not.toEqual(draw('a', 1));
  });

  it('draws floats uniformly in [0, 1)', () => {
    const rng = new Prng('uniform');
    let sum = 0;
    let below = 0;
    for (let i = 0; i < 100_000; i++) {
      const x = rng.float();
      expect(x >= 0 && x < 1).toBe(true);
      sum += x;
      if (x < 0.1) below++;
    }
    expect(sum / 100_000).toBeCloseTo(0.5, 2);
    expect(below / 100_000).toBeCloseTo(0.1, 2);
  });
});

describe('writePopulation', () => {
  it('writes byte-identical files for the same seed, and different ones for another seed', async () => {
    const [a, b, c] = [scratch(), scratch(), scratch()];
    await writePopulation({ patients: 3000, seed: 'same', output: a });
    await writePopulation({ patients: 3000, seed: 'same', output: b });
    await writePopulation({ patients: 3000, seed: 'other', output: c });
    expect(sha(join(a, 'records.ndjson'))).toBe(sha(join(b, 'records.ndjson')));
    expect(sha(join(a, 'organisations.ndjson'))).toBe(sha(join(b, 'organisations.ndjson')));
    expect(sha(join(a, 'records.ndjson'))).not.toBe(sha(join(c, 'records.ndjson')));
  });

  it('writes only lines that pass checkRecord, real codes, unique test-range NHS numbers and no date after the extract', async () => {
    const dir = scratch();
    const result = await writePopulation({ patients: 20_000, seed: 'valid', output: dir, codesets: CODESETS });
    const known = new Set<string>();
    for (const set of loadCodesets(CODESETS)) for (const code of set.codes.keys()) known.add(code);
    const cited = new Set(allCodes().filter((f) => f.from === 'cited').map((f) => f.code));
    const lines = readFileSync(result.recordsFile, 'utf8').split('\n').filter(Boolean);
    expect(lines.length).toBe(result.records);
    const firstPractice = new Map<string, string>();
    const ids = new Set<string>();
    let events = 0;
    let moves = 0;
    for (const line of lines) {
      const record = JSON.parse(line) as CaregapsRecord;
      expect(checkRecord(record), line).toBeUndefined();
      if (record.kind === 'patient') {
        expect(record.nhsNumber.startsWith('999')).toBe(true);
        expect(record.registeredFrom <= DEFAULT_CONFIG.extractDate).toBe(true);
        if (firstPractice.has(record.nhsNumber)) moves++;
        else firstPractice.set(record.nhsNumber, record.practice);
      } else if (record.kind === 'event') {
        events++;
        expect(known.has(record.code) || cited.has(record.code), record.code).toBe(true);
        expect(record.date <= DEFAULT_CONFIG.extractDate).toBe(true);
        expect(ids.has(record.id), record.id).toBe(false);
        ids.add(record.id);
      }
    }
    expect(firstPractice.size).toBe(20_000);
    expect(events).toBeGreaterThan(20_000);
    // About 4 % of patients moved practice: their second upsert names the new practice.
    expect(moves / 20_000).toBeGreaterThan(0.02);
    expect(moves / 20_000).toBeLessThan(0.06);
    for (const line of readFileSync(result.organisationsFile, 'utf8').split('\n').filter(Boolean)) {
      expect(checkRecord(JSON.parse(line)), line).toBeUndefined();
    }
  });

  it('refuses a population size that is not a whole number of at least 1', async () => {
    await expect(writePopulation({ patients: 0, output: scratch() })).rejects.toMatchObject({ code: 'CG_SYNTH_CONFIG' });
    await expect(writePopulation({ patients: 2.5, output: scratch() })).rejects.toMatchObject({ code: 'CG_SYNTH_CONFIG' });
  });
});

describe('config', () => {
  it('applies overrides on top of the documented defaults', () => {
    const config = resolveConfig({ extractDate: '2024-03-31', care: { dmHbA1c58: { rate: 0.7 } }, process: { statinFrom40: 0.5 } });
    expect(config.extractDate).toBe('2024-03-31');
    expect(config.care.dmHbA1c58.rate).toBe(0.7);
    expect(config.care.dmHbA1c58.source).toBe(DEFAULT_CONFIG.care.dmHbA1c58.source);
    expect(config.care.dmHbA1c75Frail).toBe(DEFAULT_CONFIG.care.dmHbA1c75Frail);
    expect(config.process.statinFrom40).toBe(0.5);
    expect(config.process.pcaUnsuitable).toBe(DEFAULT_CONFIG.process.pcaUnsuitable);
  });

  it('gives every rate a source', () => {
    for (const c of Object.values(DEFAULT_CONFIG.conditions)) expect(c.source.length).toBeGreaterThan(20);
    for (const t of Object.values(DEFAULT_CONFIG.care)) expect(t.source.length).toBeGreaterThan(10);
  });

  it('refuses an impossible rate or extract date with CG_SYNTH_CONFIG', () => {
    expect(() => new Population({ patients: 10, config: { care: { copdReview: { rate: 1.2 } } } })).toThrow(CaregapsError);
    expect(() => new Population({ patients: 10, config: { extractDate: '2025-02-30' } })).toThrow(/extractDate/);
    expect(() => new Population({ patients: 10, config: { comorbidity: [{ condition: 'smi', given: 'diabetes', riskRatio: 2, source: 'x' }] } })).toThrow(
      /must come earlier/,
    );
  });

  it('moves the records with a different extract date', () => {
    const population = new Population({ patients: 300, seed: 'dates', config: { extractDate: '2020-03-31' } });
    for (const patient of population.records()) {
      for (const r of patient) if (r.kind === 'event') expect(r.date <= '2020-03-31').toBe(true);
    }
  });
});

describe('codes', () => {
  it('checks every codeset code against the bundled codesets', () => {
    expect(() => verifyCodes(CODESETS)).not.toThrow();
  });

  it('reports a code missing from its codeset, and missing codesets, with CG_SYNTH_CODE', () => {
    const dir = scratch();
    cpSync(CODESETS, dir, { recursive: true });
    const file = join(dir, 'DM_COD.csv');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^"44054006",.*\n/m, ''));
    expect(() => verifyCodes(dir)).toThrow(/code 44054006 \(Diabetes mellitus type 2\) is not in DM_COD/);
    expect(() => verifyCodes(scratch())).toThrow(expect.objectContaining({ code: 'CG_SYNTH_CODE' }));
  });
});

describe('organisations', () => {
  it('builds ICB → 5 boroughs → PCNs → practices whose list sizes add up to the population', () => {
    const { organisations, practices } = buildHierarchy(DEFAULT_CONFIG, 1_800_000, 'x');
    const byType = (t: string) => organisations.filter((o) => o.type === t);
    expect(byType('icb')).toHaveLength(1);
    expect(byType('borough').map((b) => b.name)).toEqual(['Barnet', 'Camden', 'Enfield', 'Haringey', 'Islington']);
    expect(practices.reduce((s, p) => s + p.listSize, 0)).toBe(1_800_000);
    expect(practices.length).toBeGreaterThan(150);
    for (const p of practices) {
      expect(p.listSize).toBeGreaterThanOrEqual(1800);
      expect(p.listSize).toBeLessThanOrEqual(22_000);
    }
    const codes = new Set(organisations.map((o) => o.code));
    for (const o of organisations) if (o.parent) expect(codes.has(o.parent)).toBe(true);
    for (const pcn of byType('pcn')) {
      const members = byType('practice').filter((p) => p.parent === pcn.code);
      expect(members.length).toBeGreaterThan(0);
      expect(members.reduce((s, p) => s + p.listSize!, 0)).toBe(pcn.listSize);
    }
  });

  it('continues past the 909,091 numbers of the 999 range into 998 000 0000 upwards', () => {
    let count = 0;
    for (const number of testNhsNumbers()) {
      if (!number.startsWith('999')) {
        expect(count).toBe(909_091);
        expect(number.startsWith('998')).toBe(true);
        expect(isValidNhsNumber(number)).toBe(true);
        break;
      }
      count++;
    }
  });

  it('numbers patients from the NHS test range with valid check digits', () => {
    const population = new Population({ patients: 50, seed: 'n' });
    const numbers = [...population.records()].map((records) => (records[0] as PatientRecord).nhsNumber);
    expect(numbers[0]).toBe('9990000018');
    expect(new Set(numbers).size).toBe(50);
    for (const n of numbers) expect(isValidNhsNumber(n)).toBe(true);
  });
});
