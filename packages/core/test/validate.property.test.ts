// The hand-written record check (isPlainValidRecord) against the JSON Schema one (checkRecordWithSchema): on valid,
// arbitrary and mutated records they must agree, so the fast path cannot drift from the documented contract.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkRecord, checkRecordWithSchema, isPlainValidRecord } from '../src/records/validate.js';
import { fuzzSeed } from './fuzz-seed.js';

const SEED = fuzzSeed('record validation');

const NHS = ['9434765919', '9990000018', '9434765918', '943476591', '94347659190', '943476591x', ' 943476591', '0000000000'];
const DATES = ['2015-03-01', '2024-02-29', '2025-02-29', '2015-13-01', '2015-3-01', '15-03-01', '2015-03-01T09:00', '2015/03/01', '0099-01-01', '1900-01-01', ''];
// Codes from codesets/*.csv (44054006 diabetes, 49436004 atrial fibrillation, 163030003 systolic) and shapes around them.
const CODES = ['44054006', '49436004', '163030003', '999791000000106', '4548-4', '044054006', '44054016', '12345', '4405400', 'C10..', ''];
const KEYS = ['kind', 'id', 'nhsNumber', 'code', 'system', 'date', 'value', 'unit', 'values', 'source', 'birthDate', 'sex', 'practice',
  'registeredFrom', 'registeredTo', 'deathDate', 'optOuts', 'name', 'type', 'parent', 'listSize', 'extra', '__proto__', 'constructor'];

/** Values a field may be mutated to: the right shapes, near misses, other types, and strings measured differently by code points. */
const fieldValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(...NHS, ...DATES, ...CODES),
  fc.constantFrom('female', 'male', 'other', 'unknown', 'Female', 'practice', 'pcn', 'borough', 'icb', 'snomed', 'loinc', 'F83004', 'mmol/mol'),
  fc.constantFrom(null, undefined, true, 0, -1, 1.5, 52, NaN, Infinity, -0, 2 ** 53, [], {}, ['type-1'], ['type-1', 'type-1'], ['shared-record', 'secondary-use'], ['type-2']),
  fc.constantFrom({ systolic: 128, diastolic: 80 }, { Systolic: 1 }, { systolic: '128' }, { a: NaN }, Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`c${i}`, i]))),
  fc.string({ maxLength: 20 }),
  fc.string({ minLength: 15, maxLength: 18, unit: 'grapheme' }),
  // Strings at each length limit of the schema (1, 16, 64, 256), also counted in code points.
  fc.constantFrom(0, 1, 2, 15, 16, 17, 63, 64, 65, 255, 256, 257).map((n) => 'x'.repeat(n)),
  fc.constantFrom(0, 1, 2, 15, 16, 17, 63, 64, 65, 255, 256, 257).map((n) => 'x'.repeat(n)),
  fc.constantFrom('😀'.repeat(16), '😀'.repeat(17), '😀'.repeat(40), '😀'.repeat(130), 'a'.repeat(60) + '😀😀'),
  fc.anything({ maxDepth: 2 }),
);

const patient = fc.record(
  {
    kind: fc.constant('patient'),
    nhsNumber: fc.constantFrom('9434765919', '9990000018'),
    birthDate: fc.constantFrom('1957-03-02', '2000-02-29'),
    sex: fc.constantFrom('female', 'male', 'other', 'unknown'),
    practice: fc.constantFrom('F83004', 'A'),
    registeredFrom: fc.constantFrom('2001-05-01', '2010-01-01'),
    registeredTo: fc.constantFrom(null, '2020-01-01', '2024-02-29'),
    deathDate: fc.constantFrom(null, '2023-06-30'),
    optOuts: fc.uniqueArray(fc.constantFrom('shared-record', 'secondary-use', 'national-data-opt-out', 'type-1')),
    source: fc.constantFrom('F83004', 'emis'),
  },
  { requiredKeys: ['kind', 'nhsNumber', 'birthDate', 'sex', 'practice', 'registeredFrom'] },
);
const event = fc.record(
  {
    kind: fc.constant('event'),
    id: fc.string({ minLength: 1, maxLength: 40 }),
    nhsNumber: fc.constantFrom('9434765919', '9990000018'),
    code: fc.constantFrom('44054006', '49436004', '163030003', '999791000000106'),
    date: fc.constantFrom('2015-03-01', '2024-02-29'),
    value: fc.double({ noNaN: true, noDefaultInfinity: true }),
    unit: fc.constantFrom('', 'mmol/mol', 'mmHg'),
    values: fc.dictionary(fc.constantFrom('systolic', 'diastolic', 'bmi'), fc.integer()),
    source: fc.constantFrom('F83004', 'tpp'),
  },
  { requiredKeys: ['kind', 'id', 'nhsNumber', 'code', 'date'] },
);
const otherSystemEvent = fc.record({
  kind: fc.constant('event'),
  id: fc.constant('e1'),
  nhsNumber: fc.constant('9434765919'),
  code: fc.constantFrom('4548-4', 'C10..', 'x'),
  system: fc.constantFrom('loinc', 'read2', 'local:lab'),
  date: fc.constant('2015-03-01'),
});
const retract = fc.record(
  { kind: fc.constant('retract'), id: fc.string({ minLength: 1, maxLength: 40 }), nhsNumber: fc.constant('9434765919'), source: fc.constant('tpp') },
  { requiredKeys: ['kind', 'id', 'nhsNumber'] },
);
const organisation = fc.record(
  {
    kind: fc.constant('organisation'),
    code: fc.constantFrom('F83004', 'QMJ'),
    name: fc.string({ maxLength: 40 }),
    type: fc.constantFrom('practice', 'pcn', 'borough', 'icb'),
    parent: fc.constantFrom(null, 'QMJ'),
    listSize: fc.nat(),
  },
  { requiredKeys: ['kind', 'code', 'name', 'type'] },
);
const validRecord = fc.oneof(patient, event, otherSystemEvent, retract, organisation) as fc.Arbitrary<Record<string, unknown>>;

/** A valid record with one to three fields set to other values, deleted, or added. */
const mutated = fc
  .tuple(validRecord, fc.array(fc.tuple(fc.constantFrom(...KEYS, 'practice', 'code', 'id', 'source', 'name', 'parent', 'unit', 'system'), fc.option(fieldValue, { nil: undefined }), fc.boolean()), { minLength: 1, maxLength: 3 }))
  .map(([record, changes]) => {
    const out: Record<string, unknown> = { ...record };
    for (const [key, value, remove] of changes) {
      if (remove) delete out[key];
      else Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
    }
    return out;
  });

/** Where the fast check may refuse a valid record: strings with astral characters, numbers that are not finite or safe. */
function mayBeRefusedByFastCheck(value: unknown): boolean {
  if (typeof value === 'string') return /[\uD800-\uDFFF]/.test(value);
  if (typeof value === 'number') return !Number.isFinite(value) || (Number.isInteger(value) && !Number.isSafeInteger(value));
  if (typeof value === 'object' && value !== null) return Object.values(value).some(mayBeRefusedByFastCheck);
  return false;
}

function agree(value: unknown): void {
  const bySchema = checkRecordWithSchema(value);
  const fast = isPlainValidRecord(value);
  if (fast) expect(bySchema, JSON.stringify(value)).toBeUndefined();
  else if (!mayBeRefusedByFastCheck(value)) expect(bySchema, JSON.stringify(value)).toBeDefined();
  expect(checkRecord(value)).toEqual(bySchema);
}

describe('the fast record check agrees with the JSON Schema check', () => {
  it('accepts every valid record, as the schema does', () => {
    fc.assert(
      fc.property(validRecord, (record) => {
        expect(checkRecordWithSchema(record), JSON.stringify(record)).toBeUndefined();
        expect(isPlainValidRecord(record), JSON.stringify(record)).toBe(true);
      }),
      { numRuns: 2000, seed: SEED },
    );
  });
  it('gives the same verdict and fault on mutated records', () => {
    fc.assert(fc.property(mutated, agree), { numRuns: 30000, seed: SEED });
  });
  it('gives the same verdict and fault on arbitrary values', () => {
    fc.assert(fc.property(fc.anything({ maxDepth: 3 }), agree), { numRuns: 3000, seed: SEED });
    fc.assert(fc.property(fc.dictionary(fc.constantFrom(...KEYS), fieldValue), agree), { numRuns: 5000, seed: SEED });
  });
  it('refuses the near misses it is built to catch', () => {
    const base = { kind: 'event', id: 'e1', nhsNumber: '9434765919', code: '44054006', date: '2015-03-01' };
    const patient = { kind: 'patient', nhsNumber: '9434765919', birthDate: '1957-03-02', sex: 'female', practice: 'F83004', registeredFrom: '2001-05-01' };
    expect(isPlainValidRecord(base)).toBe(true);
    expect(isPlainValidRecord(patient)).toBe(true);
    for (const bad of [
      { ...base, nhsNumber: '9434765918' },
      { ...base, date: '2015-02-29' },
      { ...base, code: '44054016' },
      { ...base, extra: 1 },
      { ...base, values: { Systolic: 1 } },
      { ...patient, registeredTo: '2000-01-01' },
      { ...patient, deathDate: '1950-01-01' },
      { ...patient, optOuts: ['type-1', 'type-1'] },
      { ...patient, optOuts: ['type-2'] },
      { ...patient, practice: 'x'.repeat(17) },
      { kind: 'organisation', code: 'F83004', name: 'x', type: 'practice', listSize: 1.5 },
    ]) {
      expect(isPlainValidRecord(bad)).toBe(false);
      expect(checkRecord(bad)).toEqual(checkRecordWithSchema(bad));
      expect(checkRecord(bad)).toBeDefined();
    }
  });
});
