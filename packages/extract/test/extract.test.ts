import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CaregapsError, TestNumberAssigner, loadNormalisationMaps, readChecked, type AdapterItem, type SourceInput } from '@caregaps/core';
import { extractAdapter, loadColumnMap, parseColumnMap, parseDate, type ColumnMap, type ExtractAdapterOptions } from '@caregaps/extract';
import { fuzzSeed } from '../../core/test/fuzz-seed.js';

const SEED = fuzzSeed('extract adapter');

const HERE = fileURLToPath(new URL('.', import.meta.url));
const PKG = join(HERE, '..');
const ROOT = join(PKG, '../..');
const maps = loadNormalisationMaps(join(ROOT, 'codesets/maps'));
const fixtures = (dir: string) => readdirSync(join(HERE, 'fixtures', dir)).sort().map((f) => join(HERE, 'fixtures', dir, f));

async function read(inputs: SourceInput[], options: ExtractAdapterOptions): Promise<AdapterItem[]> {
  const items: AdapterItem[] = [];
  for await (const item of readChecked(extractAdapter, inputs, options)) items.push(item);
  return items;
}

const outcome = (i: AdapterItem) => (i.ok ? i.record.kind : i.code);

describe('EMIS-style CSV extract with a YAML column map', () => {
  it('maps patients and observations without code, links observations to patients by GUID, reports bad rows by line', async () => {
    const columnMap = loadColumnMap(join(PKG, 'maps/emis-style.yaml'));
    // Observation file listed first: patient tables are still read first so GUIDs resolve.
    const items = await read(fixtures('emis-style').reverse(), { maps, columnMap });
    expect(items.map((i) => [outcome(i), i.at.file?.endsWith('Admin_Patient.csv') ? 'P' : 'O', i.at.line])).toEqual([
      ['patient', 'P', 2],
      ['patient', 'P', 3],
      ['CG_SOURCE_NHS_NUMBER', 'P', 4],
      ['CG_SOURCE_DATE', 'P', 5],
      ['CG_SOURCE_FIELD', 'P', 6],
      ['event', 'O', 2],
      ['event', 'O', 3],
      ['event', 'O', 4],
      ['event', 'O', 5],
      ['retract', 'O', 6],
      ['CG_SOURCE_REFERENCE', 'O', 7],
      ['CG_SOURCE_DATE', 'O', 8],
      ['CG_SOURCE_FIELD', 'O', 9],
      ['CG_SOURCE_CODE', 'O', 10],
      ['CG_SOURCE_PARSE', 'O', 11],
    ]);
    expect(items[0]).toMatchObject({
      record: { nhsNumber: '9990000018', birthDate: '1957-03-02', sex: 'female', practice: 'F83004', registeredFrom: '2001-05-01', source: 'F83004' },
      updated: '2024-01-01T00:00:00Z',
    });
    expect(items[1]).toMatchObject({ record: { registeredFrom: '2010-06-01', sex: 'male' } });
    expect(items[2]).toMatchObject({ identifiers: ['PatientGuid'] });
    expect(items[6]).toMatchObject({ record: { id: 'emis:{O2}', code: '999791000000106', value: 52, unit: 'mmol/mol', date: '2025-01-10' } });
    expect(items[9]).toMatchObject({ record: { kind: 'retract', id: 'emis:{O5}', nhsNumber: '9990000018' } });
  });
});

describe('TPP-style NDJSON extract with a JSON column map', () => {
  it('reads ISO date-times, normalises a systolic reading, retracts deleted rows, and quarantines bad lines', async () => {
    const items = await read(fixtures('tpp-style'), { maps, columnMap: join(PKG, 'maps/tpp-style.json') });
    expect(items.map((i) => [outcome(i), i.at.line])).toEqual([
      ['patient', 1],
      ['CG_SOURCE_NHS_NUMBER', 2],
      ['event', 1],
      ['event', 2],
      ['CG_SOURCE_NHS_NUMBER', 3],
      ['CG_SOURCE_FIELD', 4],
      ['CG_SOURCE_PARSE', 5],
      ['retract', 6],
    ]);
    expect(items[3]).toMatchObject({ record: { code: '163020007', values: { systolic: 128 }, date: '2024-02-01' } });
    expect(items[4]).toMatchObject({ reason: expect.stringContaining('was quarantined') });
  });

  it('assigns test-range numbers by patient key when asked, the same key getting the same number in every table', async () => {
    const testNumbers = new TestNumberAssigner();
    const items = await read(fixtures('tpp-style'), { maps, columnMap: join(PKG, 'maps/tpp-style.json'), testNumbers });
    const p102 = items.find((i) => i.ok && i.record.kind === 'patient' && i.record.sex === 'male');
    const e9003 = items.find((i) => i.ok && i.record.kind === 'event' && i.record.id === 'tpp:9003');
    expect(p102?.ok && p102.record.kind === 'patient' && p102.record.nhsNumber).toBe('9990000018');
    expect(e9003?.ok && e9003.record.kind === 'event' && e9003.record.nhsNumber).toBe('9990000018');
    expect(testNumbers.mapping()).toEqual([{ source: 'tpp:102', nhsNumber: '9990000018' }]);
  });
});

describe('column maps', () => {
  const problems = (text: string) => {
    try {
      parseColumnMap(text, 'm.yaml');
    } catch (error) {
      expect((error as CaregapsError).code).toBe('CG_MAP_FORMAT');
      return (error as CaregapsError).problems.map((p) => p.pointer);
    }
    return [];
  };

  it('names each problem with its pointer', () => {
    expect(problems('name: x\ntables:\n  - kind: event\n    fields: { id: A, code: B, dat: C, nhsNumber: D }\n')).toEqual(['/tables/0/fields/dat', '/tables/0/fields']);
    expect(problems('name: x\ndateFormat: MM/DD/YYYY\ntables: []\n')).toEqual(['/dateFormat', '/tables']);
    expect(problems('name: x\ntables:\n  - kind: patient\n    fields: { birthDate: { column: A, valu: 1 }, nhsNumber: N }\n')).toContain('/tables/0/fields/birthDate/valu');
    // A prototype key is refused as the file is parsed, at its line and column.
    expect(() => parseColumnMap('name: x\n__proto__: {}\ntables:\n  - kind: patient\n    fields: { birthDate: A, nhsNumber: N }\n', 'm.yaml')).toThrow(
      expect.objectContaining({ code: 'CG_MAP_FORMAT', problems: [expect.objectContaining({ file: 'm.yaml', line: 2, column: 1 })] }),
    );
  });

  it('refuses YAML syntax errors and alias bombs with CG_MAP_FORMAT', () => {
    expect(problems('name: [x\n').length).toBe(1);
    const bomb = 'a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n';
    expect(problems(bomb).length).toBe(1);
  });

  it('reads dates in each supported format and refuses impossible ones', () => {
    expect(parseDate('2024-02-29', 'YYYY-MM-DD')).toBe('2024-02-29');
    expect(parseDate('2024-02-29T10:00:00Z', 'YYYY-MM-DD')).toBe('2024-02-29');
    expect(parseDate('29/2/2024', 'DD/MM/YYYY')).toBe('2024-02-29');
    expect(parseDate('29.02.2024', 'DD.MM.YYYY')).toBe('2024-02-29');
    expect(parseDate('20240229', 'YYYYMMDD')).toBe('2024-02-29');
    expect(parseDate('29-Feb-2024', 'DD-MMM-YYYY')).toBe('2024-02-29');
    expect(parseDate('29/02/2023', 'DD/MM/YYYY')).toBeUndefined();
    expect(parseDate('2024-13-01', 'YYYY-MM-DD')).toBeUndefined();
  });
});

const FUZZ_MAP: ColumnMap = parseColumnMap(
  JSON.stringify({
    name: 'fuzz',
    tables: [{ kind: 'event', fields: { id: 'id', nhsNumber: 'nhs', code: 'code', date: 'date', value: 'value', unit: 'unit' } }],
  }),
);

const cell = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom('9434765919', '9434765918', '44054006', '4548-4', '2020-01-01', '2020-02-30', '7.5', '%', 'NaN', '', '"', ',', '\n', '\r\n', '\ufeff'),
  fc.integer({ min: 10_000, max: 400_000 }).map((n) => 'y'.repeat(n)),
);

function csvEscape(s: string): string {
  return /[",\r\n]/.test(s) || s !== s.trim() ? `"${s.replaceAll('"', '""')}"` : s;
}

describe('extract adapter under fuzzing', () => {
  it('valid CSV with hostile values: exactly one item per row, no crash, no record the adapter should not have built', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(cell, cell, cell, cell, cell, cell), { minLength: 1, maxLength: 20 }), fc.boolean(), async (rows, bom) => {
        const nonEmpty = rows.filter((r) => r.some((c) => c !== ''));
        const text = (bom ? '\ufeff' : '') + 'id,nhs,code,date,value,unit\n' + nonEmpty.map((r) => r.map(csvEscape).join(',')).join('\n') + '\n';
        const items = await read([{ name: 'fuzz.csv', text }], { maps, columnMap: FUZZ_MAP });
        expect(items.filter((i) => !i.ok && (i.code === 'CG_ADAPTER_FAILED' || i.code.startsWith('CG_RECORD_')))).toEqual([]);
        expect(items).toHaveLength(nonEmpty.length);
        // A row over maxRecordBytes (1 MiB) is quarantined by itself; the rows after it are still read.
        for (const [i, item] of items.entries()) {
          if (nonEmpty[i]!.reduce((n, c) => n + c.length, 0) > 1 << 20) expect(item).toMatchObject({ ok: false, code: 'CG_SOURCE_PARSE' });
        }
      }),
      { numRuns: 100, seed: SEED },
    );
  });

  it('arbitrary text as CSV or NDJSON: never crashes, and a non-blank body is never silently empty', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 400 }), fc.constantFrom('x.csv', 'x.ndjson'), async (body, name) => {
        const text = name.endsWith('.csv') ? 'id,nhs,code,date,value,unit\n' + body : body;
        const items = await read([{ name, text }], { maps, columnMap: FUZZ_MAP });
        expect(items.filter((i) => !i.ok && (i.code === 'CG_ADAPTER_FAILED' || i.code.startsWith('CG_RECORD_')))).toEqual([]);
        if (body.replace(/^\ufeff/, '').trim() !== '') expect(items.length).toBeGreaterThan(0);
      }),
      { numRuns: 400, seed: SEED },
    );
  });
});
