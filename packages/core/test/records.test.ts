import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { PatientStore, addMonths, ageInYears, isValidNhsNumber, parseDay, paymentPeriodEnd, qualityServiceStart, readRecords, formatDay, withCheckDigit, type ReadResult } from '@caregaps/core';

async function read(text: string | string[]): Promise<ReadResult[]> {
  const out: ReadResult[] = [];
  for await (const r of readRecords(Readable.from(Array.isArray(text) ? text : [text]), { file: 'in.ndjson', maxLineBytes: 2000 })) out.push(r);
  return out;
}

const patient = '{"kind":"patient","nhsNumber":"9434765919","birthDate":"1957-03-02","sex":"female","practice":"F83004","registeredFrom":"2001-05-01"}';

describe('dates', () => {
  it('does calendar-month arithmetic with clamping, as QOF windows need', () => {
    expect(formatDay(addMonths(parseDay('2025-03-31')!, -12))).toBe('2024-03-31');
    expect(formatDay(addMonths(parseDay('2024-08-31')!, -6))).toBe('2024-02-29');
    expect(formatDay(addMonths(parseDay('2023-08-31')!, -6))).toBe('2023-02-28');
    expect(formatDay(addMonths(parseDay('2025-01-15')!, 13))).toBe('2026-02-15');
  });
  it('refuses impossible dates', () => {
    expect(parseDay('2025-02-29')).toBeUndefined();
    expect(formatDay(parseDay('2024-02-29')!)).toBe('2024-02-29');
    expect(parseDay('2025-13-01')).toBeUndefined();
    expect(parseDay('25-01-01')).toBeUndefined();
  });
  it('computes age in completed years, turning on the birthday', () => {
    const birth = parseDay('2008-03-31')!;
    expect(ageInYears(birth, parseDay('2025-03-30')!)).toBe(16);
    expect(ageInYears(birth, parseDay('2025-03-31')!)).toBe(17);
  });
  it('derives PPED and QSSD from the QOF year', () => {
    expect(formatDay(paymentPeriodEnd(parseDay('2024-11-15')!))).toBe('2025-03-31');
    expect(formatDay(paymentPeriodEnd(parseDay('2025-03-31')!))).toBe('2025-03-31');
    expect(formatDay(paymentPeriodEnd(parseDay('2025-04-01')!))).toBe('2026-03-31');
    expect(formatDay(qualityServiceStart(parseDay('2025-03-31')!))).toBe('2024-04-01');
  });
});

describe('NHS numbers', () => {
  it('checks the Modulus 11 digit', () => {
    expect(isValidNhsNumber('9434765919')).toBe(true);
    expect(isValidNhsNumber('9434765918')).toBe(false);
    expect(isValidNhsNumber('943476591')).toBe(false);
    expect(isValidNhsNumber('94347659190')).toBe(false);
  });
  it('mints numbers from the test range, skipping stems with no valid check digit', () => {
    expect(withCheckDigit(999000001)).toBe('9990000018');
    expect(withCheckDigit(999000000)).toBeUndefined();
    expect(isValidNhsNumber(withCheckDigit(999000001)!)).toBe(true);
  });
  // The property against an independent oracle is in nhs-number.property.test.ts (A3).
});

describe('readRecords', () => {
  it('accepts valid records and quarantines each bad line with file, line, code and record id', async () => {
    const lines = [
      patient,
      'not json',
      '{"kind":"event","id":"a","nhsNumber":"1234567890","code":"44054006","date":"2015-03-01"}',
      '{"kind":"event","id":"b","nhsNumber":"9434765919","code":"44054006","date":"2015-02-30"}',
      '{"kind":"event","id":"c","nhsNumber":"9434765919","code":44054006,"date":"2015-03-01"}',
      '{"kind":"event","id":"d","nhsNumber":"9434765919","code":"hello","date":"2015-03-01"}',
      '{"kind":"event","id":"e","nhsNumber":"9434765919","code":"4548-4","system":"loinc","date":"2015-03-01","value":7.1}',
      '{"kind":"visit"}',
      '',
      '{"kind":"patient","nhsNumber":"9434765919","birthDate":"1957-03-02","sex":"female","practice":"F83004","registeredFrom":"2001-05-01","extra":1}',
    ].join('\n');
    const results = await read(lines);
    expect(results.map((r) => (r.ok ? 'ok' : r.code))).toEqual([
      'ok', 'CG_RECORD_JSON', 'CG_RECORD_NHS_NUMBER', 'CG_RECORD_DATE', 'CG_RECORD_SCHEMA', 'CG_RECORD_SCHEMA', 'ok', 'CG_RECORD_SCHEMA', 'CG_RECORD_SCHEMA',
    ]);
    const bad = results.filter((r) => !r.ok);
    expect(bad.map((r) => r.line)).toEqual([2, 3, 4, 5, 6, 8, 10]);
    expect(bad.every((r) => r.file === 'in.ndjson' && r.text.length > 0)).toBe(true);
    expect(bad.find((r) => r.line === 3)!.recordId).toBe('a');
  });
  it('splits lines across chunk boundaries, strips CRLF and a byte-order mark', async () => {
    const text = '\uFEFF' + patient + '\r\n' + patient;
    const results = await read([text.slice(0, 7), text.slice(7, 150), text.slice(150)]);
    expect(results.map((r) => r.ok)).toEqual([true, true]);
  });
  it('quarantines an oversized line without buffering it and carries on', async () => {
    const huge = '{"kind":"event","id":"' + 'x'.repeat(5000) + '"}';
    const results = await read([huge.slice(0, 3000), huge.slice(3000) + '\n' + patient + '\n']);
    expect(results.map((r) => (r.ok ? 'ok' : r.code))).toEqual(['CG_RECORD_TOO_LONG', 'ok']);
    expect(results[0]!.ok === false && results[0]!.text.length).toBeLessThanOrEqual(1024);
  });
});

describe('PatientStore', () => {
  const event = (id: string, nhsNumber = '9434765919') => ({ kind: 'event' as const, id, nhsNumber, code: '44054006', date: '2015-03-01' });
  it('holds events that arrive before their patient', () => {
    const store = new PatientStore();
    store.apply(event('e1'));
    expect(store.get('9434765919')!.patient).toBeUndefined();
    store.apply(JSON.parse(patient));
    expect(store.get('9434765919')!.events.size).toBe(1);
  });
  it('replaces an event redelivered with the same id, even under another NHS number', () => {
    const store = new PatientStore();
    store.apply(event('e1'));
    store.apply({ ...event('e1'), date: '2016-01-01' });
    expect([...store.get('9434765919')!.events.values()].map((e) => e.date)).toEqual(['2016-01-01']);
    expect(store.apply(event('e1', '9990000018')).sort()).toEqual(['9434765919', '9990000018']);
    expect(store.get('9434765919')!.events.size).toBe(0);
    expect(store.get('9990000018')!.events.size).toBe(1);
  });
  it('keeps a retracted id removed whichever order the event and the retraction arrive in', () => {
    for (const order of [['event', 'retract'], ['retract', 'event']]) {
      const store = new PatientStore();
      for (const kind of order) store.apply(kind === 'event' ? event('e1') : { kind: 'retract', id: 'e1', nhsNumber: '9434765919' });
      expect(store.get('9434765919')?.events.size ?? 0).toBe(0);
    }
  });
});
