import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CodeTable, EventCodeScan } from '../src/partition/event-code.js';

/** What the scan found, or `undefined` when it leaves the record to a parse. */
function scanned(text: string): { code: string } | undefined {
  const bytes = Buffer.from(`xx${text}yy`); // not at offset 0, and bytes around it that are not the record's
  const scan = new EventCodeScan();
  if (!scan.scan(bytes, 2, bytes.length - 2)) return undefined;
  return { code: bytes.toString('utf8', scan.codeStart, scan.codeEnd) };
}

/** A JSON string as a sender may write it: plain, or with some characters as \u escapes. */
function jsonString(text: string, escapeAt: number | undefined): string {
  const plain = JSON.stringify(text);
  if (escapeAt === undefined || text.length === 0) return plain;
  const at = escapeAt % text.length;
  const hex = text.charCodeAt(at).toString(16).padStart(4, '0');
  return JSON.stringify(text.slice(0, at)).slice(0, -1) + `\\u${hex}` + JSON.stringify(text.slice(at + 1)).slice(1);
}

// Codes from the bundled codesets: 73211009 Diabetes mellitus and 127012008 Lipoatrophic diabetes (codesets/DM_COD.csv),
// 15964901000119107 Atypical atrial flutter (codesets/AFIB_COD.csv).
const space = fc.constantFrom('', '', ' ', '\n', '\t ', '\r\n  ');
/** Absent three times in four. */
const sometimes = <T>(arbitrary: fc.Arbitrary<T>) => fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, { arbitrary, weight: 1 });

/** An event as received: fields in any order, whitespace anywhere between tokens, escapes, repeated keys. */
const received = fc
  .record({
    code: fc.oneof(fc.constantFrom('73211009', '127012008', '15964901000119107', 'code', 'system'), fc.string({ unit: 'grapheme', maxLength: 12 })),
    id: fc.oneof(fc.constantFrom('e1', 'code', '"code":"1"', 'a\\b', 'system'), fc.string({ unit: 'grapheme', maxLength: 12 })),
    system: sometimes(fc.constantFrom('snomed', 'read-v2', 'ctv3', 'code')),
    unit: sometimes(fc.constantFrom('code', 'mmHg', '"code"', 'system')),
    values: sometimes(fc.dictionary(fc.constantFrom('systolic', 'diastolic', 'code', 'system'), fc.integer({ min: 0, max: 200 }))),
    /** A second `code` key, before the first (JSON.parse keeps the last). */
    repeatedCode: sometimes(fc.constantFrom('127012008', '73211009')),
    escapeCode: sometimes(fc.nat(20)),
    escapeId: sometimes(fc.nat(20)),
    order: fc.array(fc.nat(1000), { minLength: 9, maxLength: 9 }),
    spaces: fc.array(space, { minLength: 40, maxLength: 40 }),
  })
  .map((e) => {
    let s = 0;
    const sp = () => e.spaces[s++ % e.spaces.length]!;
    const fields: [string, string][] = [
      ['kind', '"event"'],
      ['id', jsonString(e.id, e.escapeId)],
      ['nhsNumber', '"9434765919"'],
      ['code', jsonString(e.code, e.escapeCode)],
      ['date', '"2024-01-31"'],
    ];
    if (e.system !== undefined) fields.push(['system', JSON.stringify(e.system)]);
    if (e.unit !== undefined) fields.push(['unit', JSON.stringify(e.unit)]);
    if (e.values !== undefined) fields.push(['values', `{${Object.entries(e.values).map(([k, v]) => `${sp()}"${k}"${sp()}:${sp()}${v}`).join(',')}${sp()}}`]);
    const ordered = fields.map((f, i) => ({ f, rank: e.order[i]! })).sort((a, b) => a.rank - b.rank).map((x) => x.f);
    if (e.repeatedCode !== undefined) ordered.unshift(['code', JSON.stringify(e.repeatedCode)]);
    const text = `${sp()}{${ordered.map(([k, v]) => `${sp()}"${k}"${sp()}:${sp()}${v}`).join(',')}${sp()}}${sp()}`;
    // Where the scan may not be unsure: no backslash anywhere, one code key, the system absent or SNOMED.
    const plain = !text.includes('\\') && e.repeatedCode === undefined && !(e.values && 'code' in e.values) && !(e.values && 'system' in e.values && e.system !== undefined);
    return { text, plain: plain && (e.system === undefined || e.system === 'snomed') && !(e.values && 'system' in e.values) };
  });

describe('EventCodeScan', () => {
  it('when it is certain, its code is the one JSON.parse reads and the system is SNOMED; it is certain on plain records', () => {
    let certain = 0;
    fc.assert(
      fc.property(received, ({ text, plain }) => {
        const parsed = JSON.parse(text) as { code: unknown; system?: unknown };
        const found = scanned(text);
        if (found !== undefined) {
          certain++;
          expect(found.code).toBe(parsed.code);
          expect(parsed.system ?? 'snomed').toBe('snomed');
        }
        if (plain) expect(found).toEqual({ code: parsed.code });
      }),
      { numRuns: 3000 },
    );
    expect(certain).toBeGreaterThan(500);
  });

  it.each([
    ['an escaped code', '{"kind":"event","code":"\\u0037\\u0033211009","id":"e1"}'],
    ['a backslash anywhere', '{"kind":"event","code":"73211009","id":"a\\\\b"}'],
    ['a quote inside a string', '{"kind":"event","id":"\\"code\\":\\"1\\"","code":"73211009"}'],
    ['a repeated code key', '{"code":"127012008","kind":"event","code":"73211009"}'],
    ['a component named code', '{"kind":"event","code":"73211009","values":{"code":5}}'],
    ['another code system', '{"kind":"event","code":"C10..","system":"read-v2"}'],
    ['a system given twice', '{"kind":"event","code":"73211009","system":"snomed","system":"ctv3"}'],
    ['no code key', '{"kind":"event","unit":"code","id":"code"}'],
  ])('leaves %s to the parse', (_, text) => {
    expect(scanned(text)).toBeUndefined();
  });

  it.each([
    ['compact', '{"kind":"event","id":"e1","nhsNumber":"9434765919","code":"73211009","date":"2024-01-31"}'],
    ['spaced, code first', ' {\n  "code" :\t"73211009" , "kind": "event", "unit": "code", "id": "system"\n}\n'],
    ['SNOMED named', '{"system":"snomed","code":"73211009","kind":"event"}'],
  ])('reads the code of a %s record', (_, text) => {
    expect(scanned(text)).toEqual({ code: '73211009' });
  });
});

describe('CodeTable', () => {
  it('gives what resolve gives for each code, resolving each code once, across growth', () => {
    const resolved: string[] = [];
    const table = new CodeTable((code) => {
      resolved.push(code);
      return code.length % 3 === 0 ? -1 : code.length * 7;
    });
    const codes = Array.from({ length: 5000 }, (_, i) => String(100000 + i * 7919));
    codes.push('é', 'x', '');
    const bytes = Buffer.from(`|${codes.join('|')}|`);
    const at: [number, number][] = [];
    for (let i = 0, start = 1; i < codes.length; i++) {
      const end = bytes.indexOf('|', start);
      at.push([start, end]);
      start = end + 1;
    }
    for (let round = 0; round < 2; round++) {
      at.forEach(([start, end], i) => expect(table.get(bytes, start, end)).toBe(codes[i]!.length % 3 === 0 ? -1 : codes[i]!.length * 7));
    }
    expect(resolved).toEqual(codes);
  });
});
