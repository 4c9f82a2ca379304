import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { CaregapsError, checkRecord, isValidNhsNumber, loadCodesets, type CaregapsRecord, type EventRecord, type PatientRecord } from '@caregaps/core';
import {
  allCodes,
  BACKGROUND,
  buildHierarchy,
  DEFAULT_CONFIG,
  MAX_PATIENTS,
  parallelNdjson,
  Population,
  PREVENTION_STATINS,
  Prng,
  resolveConfig,
  SMOKING_STATUS,
  testNhsNumbers,
  verifyCodes,
  writePopulation,
} from '@caregaps/synthetic';

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
    const result = await writePopulation({ patients: 5_000, seed: 'valid', output: dir, codesets: CODESETS });
    const known = new Set<string>();
    for (const set of loadCodesets(CODESETS)) for (const code of set.codes.keys()) known.add(code);
    const cited = new Set(allCodes().filter((f) => f.from === 'cited').map((f) => f.code));
    const lines = readFileSync(result.recordsFile, 'utf8').split('\n').filter(Boolean);
    expect(lines.length).toBe(result.records);
    const firstPractice = new Map<string, string>();
    const ids = new Set<string>();
    let events = 0;
    let moves = 0;
    // Faults are collected and compared once: an expect per line would dominate the test's time.
    const faults: string[] = [];
    const fault = (ok: boolean, what: string, line: string): void => {
      if (!ok && faults.length < 10) faults.push(`${what}: ${line}`);
    };
    for (const line of lines) {
      const record = JSON.parse(line) as CaregapsRecord;
      fault(checkRecord(record) === undefined, 'checkRecord', line);
      if (record.kind === 'patient') {
        fault(record.nhsNumber.startsWith('999'), 'test range', line);
        fault(record.registeredFrom <= DEFAULT_CONFIG.extractDate, 'registered after the extract', line);
        if (firstPractice.has(record.nhsNumber)) moves++;
        else firstPractice.set(record.nhsNumber, record.practice);
      } else if (record.kind === 'event') {
        events++;
        fault(known.has(record.code) || cited.has(record.code), 'unknown code', line);
        fault(record.date <= DEFAULT_CONFIG.extractDate, 'dated after the extract', line);
        fault(!ids.has(record.id), 'repeated id', line);
        ids.add(record.id);
      }
    }
    expect(faults).toEqual([]);
    expect(firstPractice.size).toBe(5_000);
    expect(events).toBeGreaterThan(5_000 * 90);
    // About 4 % of patients moved practice: their second upsert names the new practice.
    expect(moves / 5_000).toBeGreaterThan(0.02);
    expect(moves / 5_000).toBeLessThan(0.06);
    for (const line of readFileSync(result.organisationsFile, 'utf8').split('\n').filter(Boolean)) {
      expect(checkRecord(JSON.parse(line)), line).toBeUndefined();
    }
  });

  it('refuses a population size that is not a whole number of at least 1', async () => {
    await expect(writePopulation({ patients: 0, output: scratch() })).rejects.toMatchObject({ code: 'CG_SYNTH_CONFIG' });
    await expect(writePopulation({ patients: 2.5, output: scratch() })).rejects.toMatchObject({ code: 'CG_SYNTH_CONFIG' });
  });

  it('refuses sizes beyond its bounds before doing any work', () => {
    const started = performance.now();
    expect(() => new Population({ patients: 1e12 })).toThrow(/patients is 1000000000000; give a whole number from 1 to 50,000,000/);
    expect(() => new Population({ patients: MAX_PATIENTS + 1 })).toThrow(expect.objectContaining({ code: 'CG_SYNTH_CONFIG' }));
    expect(() => new Population({ patients: 10, recordsPerPatient: -1 })).toThrow(/recordsPerPatient is -1/);
    expect(() => new Population({ patients: 10, recordsPerPatient: Number.NaN })).toThrow(/recordsPerPatient/);
    expect(() => new Population({ patients: 10, recordsPerPatient: 1e6 })).toThrow(/from 0 to 10,000/);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe('ten-year histories', () => {
  const clustered = new Set(loadCodesets(CODESETS).flatMap((s) => [...s.codes.keys()]));
  const generate = (patients: number, recordsPerPatient: number, seed = 'history', codesets: string = CODESETS): CaregapsRecord[] => {
    const out: CaregapsRecord[] = [];
    for (const records of new Population({ patients, seed, recordsPerPatient, codesets }).records()) out.push(...records);
    return out;
  };

  it('writes the average number of records per patient asked for', () => {
    for (const target of [100, 40]) {
      const records = generate(4000, target);
      expect(Math.abs(records.length / 4000 - target) / target, `${records.length / 4000} records per patient`).toBeLessThan(0.05);
    }
  });

  it('writes only the care histories (no background) with recordsPerPatient 0', () => {
    const records = generate(2000, 0);
    const population = new Population({ patients: 10, seed: 'history', codesets: CODESETS });
    expect(records.every((r) => r.kind !== 'event' || !BACKGROUND.some((b) => b.fact.code === r.code))).toBe(true);
    expect(records.length / 2000).toBeGreaterThan(population.careRecordsPerPatient * 0.8);
  });

  it('fills most of the history with background entries in no cluster, and gives every adult routine care', () => {
    const records = generate(3000, 100);
    const events = records.filter((r): r is EventRecord => r.kind === 'event');
    const background = events.filter((e) => !clustered.has(e.code) && !allCodes().some((f) => f.code === e.code && f.medicine));
    expect(background.length / events.length).toBeGreaterThan(0.6);
    for (const b of BACKGROUND) expect(clustered.has(b.fact.code), b.fact.code).toBe(false);
    // Routine measurements: blood pressure, BMI, cholesterol and a smoking status for a good share of adults.
    const adults = new Set(records.filter((r): r is PatientRecord => r.kind === 'patient' && r.birthDate < '2000-01-01').map((r) => r.nhsNumber));
    for (const code of ['163020007', '60621009', '1005671000000105', ...Object.values(SMOKING_STATUS).map((f) => f.code)].slice(0, 3)) {
      const measured = new Set(events.filter((e) => e.code === code && adults.has(e.nhsNumber)).map((e) => e.nhsNumber));
      expect(measured.size / adults.size, code).toBeGreaterThan(0.3);
    }
    // Monthly repeats: a patient's statin issues are 28 days apart.
    const statins = new Set(PREVENTION_STATINS.map((f) => f.code));
    const issues = new Map<string, string[]>();
    for (const e of events) if (statins.has(e.code)) issues.set(e.nhsNumber, [...(issues.get(e.nhsNumber) ?? []), e.date]);
    const long = [...issues.values()].filter((d) => d.length >= 12);
    expect(long.length).toBeGreaterThan(50);
    for (const dates of long.slice(0, 20)) expect((Date.parse(dates[1]!) - Date.parse(dates[0]!)) / 86_400_000).toBe(28);
  });

  it('spreads the records over the ten years before the extract date', () => {
    const events = generate(3000, 100).filter((r): r is EventRecord => r.kind === 'event');
    const years = new Map<string, number>();
    for (const e of events) if (e.date > '2015-03-31') years.set(e.date.slice(0, 4), (years.get(e.date.slice(0, 4)) ?? 0) + 1);
    for (let year = 2016; year <= 2024; year++) expect(years.get(String(year)) ?? 0, String(year)).toBeGreaterThan(events.length / 20);
    // Registry-relevant care too: HbA1c, reviews and blood pressure in every year, not only the last.
    const relevant = events.filter((e) => clustered.has(e.code));
    for (let year = 2016; year <= 2024; year++) expect(relevant.filter((e) => e.date.startsWith(String(year))).length, String(year)).toBeGreaterThan(relevant.length / 25);
  });

  it('leaves out of the background a code the codesets place in a cluster', () => {
    const dir = scratch();
    cpSync(CODESETS, dir, { recursive: true });
    const file = join(dir, 'DMTYPE1_COD.csv');
    writeFileSync(file, `${readFileSync(file, 'utf8').trimEnd()}\n"185349003","Encounter for check up (test only)"\n`);
    const records = generate(300, 100, 'history', dir);
    expect(records.some((r) => r.kind === 'event' && r.code === '185349003')).toBe(false);
    expect(generate(300, 100, 'history').some((r) => r.kind === 'event' && r.code === '185349003')).toBe(true);
  });

  it('writes the same bytes as JSON.stringify of the record objects', () => {
    const population = new Population({ patients: 1500, seed: 'bytes', codesets: CODESETS });
    let expected = '';
    for (const records of population.records()) for (const r of records) expected += JSON.stringify(r) + '\n';
    const chunks = [...population.ndjson(64 << 10)];
    expect(Buffer.concat(chunks.map((c) => c.bytes)).toString('utf8')).toBe(expected);
    expect(chunks.at(-1)!.records).toBe(expected.split('\n').length - 1);
    expect(chunks.at(-1)!.patients).toBe(1500);
  });

  it('gives the same patients for a range of the population as the whole population has them', () => {
    const population = new Population({ patients: 900, seed: 'ranges', recordsPerPatient: 20 });
    const whole = [...population.records()];
    const parts = [[0, 1], [1, 333], [333, 900]].flatMap(([from, to]) => [...population.records({ from: from!, to: to! })]);
    expect(parts).toEqual(whole);
    const bytes = (chunks: Iterable<{ bytes: Uint8Array }>) => Buffer.concat([...chunks].map((c) => c.bytes)).toString('utf8');
    expect(bytes(population.ndjson(1 << 20, { from: 0, to: 450 })) + bytes(population.ndjson(1 << 20, { from: 450, to: 900 }))).toBe(bytes(population.ndjson()));
  });

  it('writes byte-identical files on worker threads (blocks of patients made in parallel, written in order)', async () => {
    const [one, two] = [scratch(), scratch()];
    // More patients than one block (2,000), with moves between practices, so blocks cross practices.
    const options = { patients: 4500, seed: 'threads', recordsPerPatient: 12, config: { practiceMoveShare: 0.2 } };
    const a = await writePopulation({ ...options, output: one });
    const b = await writePopulation({ ...options, output: two, threads: 3 });
    expect(sha(b.recordsFile)).toBe(sha(a.recordsFile));
    expect([b.records, b.patients, b.bytes]).toEqual([a.records, a.patients, a.bytes]);
    await expect(writePopulation({ ...options, output: scratch(), threads: 0 })).rejects.toThrow(/threads is 0/);
    // A range on worker threads: the same bytes as that range on this thread, counted from the range's start.
    const range = { from: 1500, to: 4300 };
    const here = [...new Population(options).ndjson(1 << 20, range)];
    const there = [];
    for await (const chunk of parallelNdjson(options, { threads: 2, range })) there.push(chunk);
    expect(Buffer.concat(there.map((c) => c.bytes)).equals(Buffer.concat(here.map((c) => c.bytes)))).toBe(true);
    expect([there.at(-1)!.patients, there.at(-1)!.records]).toEqual([2800, here.at(-1)!.records]);
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
