/**
 * Dates (issue 13, item 6): day numbers are exact for every year (none through Date.UTC, which reads years below 100
 * as 1900–1999), record dates have a plausible range, and order checks compare days. The oracle is Date's
 * setUTCFullYear, which takes the year as given.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkRecord, formatDay, parseDay, parseRecordDay, RECORD_DATE_RANGE } from '@caregaps/core';

const oracle = (y: number, m: number, d: number) => {
  const date = new Date(0);
  date.setUTCFullYear(y, m - 1, d);
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 ? date.getTime() / 86_400_000 : undefined;
};
const text = (y: number, m: number, d: number) => `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
const patient = (birthDate: string, deathDate: string | null) => ({
  kind: 'patient', nhsNumber: '9434765919', birthDate, sex: 'female', practice: 'F83004', registeredFrom: birthDate, registeredTo: null, deathDate,
});

describe('calendar days', () => {
  it('are exact for years 0000–9999, round-trip through formatDay, and order as the calendar does', () => {
    let tried = 0;
    let wrong = 0;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 9999 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 31 }), (y, m, d) => {
        tried++;
        const expected = oracle(y, m, d);
        const got = parseDay(text(y, m, d));
        if (got !== expected) wrong++;
        expect(got).toBe(expected);
        if (got !== undefined) expect(formatDay(got)).toBe(text(y, m, d));
      }),
      { numRuns: 20_000, seed: 20261206 },
    );
    // The cases the issue names: 0000-01-01 was read as 1900-01-01, 0095-01-01 as 1995-01-01.
    expect(formatDay(parseDay('0000-01-01')!)).toBe('0000-01-01');
    expect(formatDay(parseDay('0095-01-01')!)).toBe('0095-01-01');
    expect(parseDay('0000-02-29')).toBe(oracle(0, 2, 29)); // year 0 is a leap year
    expect(parseDay('0100-02-29')).toBeUndefined();
    console.log(`calendar days: dates tried ${tried}; wrong day numbers ${wrong}; 0000-01-01 → ${formatDay(parseDay('0000-01-01')!)}; 0095-01-01 → ${formatDay(parseDay('0095-01-01')!)}`);
  });
});

describe('record dates', () => {
  it('accept the documented range only, and refuse a death before birth whatever the years', () => {
    expect(RECORD_DATE_RANGE).toEqual({ first: '1850-01-01', last: '2199-12-31' });
    expect(parseRecordDay('1850-01-01')).toBe(oracle(1850, 1, 1));
    expect(parseRecordDay('1849-12-31')).toBeUndefined();
    expect(parseRecordDay('2199-12-31')).toBe(oracle(2199, 12, 31));
    expect(parseRecordDay('2200-01-01')).toBeUndefined();
    const cases: [string, string | null, boolean][] = [
      ['0095-01-01', null, false], // was read as 1995
      ['0000-01-01', null, false], // was read as 1900
      ['1995-06-01', '0095-01-01', false], // a death in year 95, before birth
      ['0095-06-01', '1990-01-01', false], // the string order said death after birth; read as 1995, birth was after death
      ['1995-06-01', '1995-05-31', false],
      ['1995-06-01', '1995-06-01', true],
      ['1957-03-02', null, true],
    ];
    let deathBeforeBirthAccepted = 0;
    for (const [birth, death, valid] of cases) {
      const fault = checkRecord(patient(birth, death));
      if (!valid && fault === undefined) deathBeforeBirthAccepted++;
      expect(fault?.code).toBe(valid ? undefined : 'CG_RECORD_DATE');
    }
    console.log(`record dates: cases ${cases.length}; out-of-range or death-before-birth accepted ${deathBeforeBirthAccepted}`);
  });
});
