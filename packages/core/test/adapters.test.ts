import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  AdapterRegistry,
  CaregapsError,
  ENGINE_VERSION,
  Linker,
  NormalisationMap,
  TestNumberAssigner,
  checkAdapter,
  isValidNhsNumber,
  lineBatches,
  readCheckedBatches,
  loadNormalisationMaps,
  parseNormalisationMap,
  readChecked,
  satisfies,
  type AdapterItem,
  type AdapterRecord,
  type PatientRecord,
  type SourceAdapter,
} from '@caregaps/core';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof CaregapsError ? error.code : 'not a CaregapsError';
  }
  return undefined;
}

const adapter = (meta: Record<string, unknown>, items: AdapterItem[] = []): SourceAdapter =>
  ({
    meta,
    async *read() {
      yield* items;
    },
  }) as unknown as SourceAdapter;

const META = { name: 'acme-lab', version: '1.2.3', engine: `^${ENGINE_VERSION}`, reads: ['acme-csv'] };

describe('semver ranges for meta.engine', () => {
  it.each([
    ['0.1.0', '^0.1.0', true],
    ['0.1.7', '^0.1.0', true],
    ['0.2.0', '^0.1.0', false],
    ['1.4.0', '^1.2.0', true],
    ['2.0.0', '^1.2.0', false],
    ['1.2.9', '~1.2.3', true],
    ['1.3.0', '~1.2.3', false],
    ['0.5.0', '>=0.1.0 <1.0.0', true],
    ['1.0.0', '>=0.1.0 <1.0.0', false],
    ['3.1.0', '^1.0.0 || ^3.0.0', true],
    ['1.9.9', '1.x', true],
    ['2.0.0', '*', true],
    ['1.5.0', '1.0.0 - 1.5.0', true],
    ['1.5.1', '1.0.0 - 1.5.0', false],
    ['0.1.0', 'banana', false],
  ])('%s in %s → %s', (version, range, expected) => {
    expect(satisfies(version, range)).toBe(expected);
  });
});

describe('adapter registration', () => {
  it('accepts a well-formed adapter for this engine and refuses a second one with the same name', () => {
    const registry = new AdapterRegistry().register(adapter(META));
    expect(registry.names()).toEqual(['acme-lab']);
    expect(codeOf(() => registry.register(adapter(META)))).toBe('CG_ADAPTER_DUPLICATE');
    expect(codeOf(() => registry.get('nope'))).toBe('CG_ADAPTER_UNKNOWN');
  });

  it.each([
    [{ ...META, name: 'Acme Lab' }, '/meta/name'],
    [{ ...META, version: '1.2' }, '/meta/version'],
    [{ ...META, engine: 'soon' }, '/meta/engine'],
    [{ ...META, reads: [] }, '/meta/reads'],
    [{ name: 'x' }, '/meta/version'],
  ])('refuses bad meta with CG_ADAPTER_META naming the field (%j)', (meta, pointer) => {
    try {
      checkAdapter(adapter(meta));
      expect.unreachable();
    } catch (error) {
      expect((error as CaregapsError).code).toBe('CG_ADAPTER_META');
      expect((error as CaregapsError).problems.map((p) => p.pointer)).toContain(pointer);
    }
  });

  it('refuses an adapter with no meta or no read function', () => {
    expect(codeOf(() => checkAdapter({ read() {} }))).toBe('CG_ADAPTER_META');
    expect(codeOf(() => checkAdapter({ meta: META }))).toBe('CG_ADAPTER_META');
  });

  it('refuses an adapter whose engine range excludes this core with CG_ADAPTER_ENGINE, saying what to do', () => {
    const old = adapter({ ...META, engine: '^0.0.1' });
    expect(codeOf(() => new AdapterRegistry('0.1.0').register(old))).toBe('CG_ADAPTER_ENGINE');
    expect(() => checkAdapter(old, '0.1.0')).toThrow(/supports @caregaps\/core \^0\.0\.1, but this is 0\.1\.0[\s\S]*Install an adapter version/);
    expect(codeOf(() => new AdapterRegistry('0.0.1').register(old))).toBeUndefined();
  });
});

describe('readChecked', () => {
  it('quarantines records that fail record format v1 and turns a thrown error into CG_ADAPTER_FAILED', async () => {
    const good: AdapterRecord = { ok: true, record: { kind: 'event', id: 'a', nhsNumber: '9434765919', code: '44054006', date: '2020-01-01' }, at: { line: 1 } };
    const bad: AdapterRecord = { ok: true, record: { kind: 'event', id: 'b', nhsNumber: '9434765918', code: '44054006', date: '2020-01-01' }, at: { line: 2 } };
    const throwing: SourceAdapter = {
      meta: META,
      async *read() {
        yield good;
        yield bad;
        throw new Error('disk on fire');
      },
    };
    const items: AdapterItem[] = [];
    for await (const item of readChecked(throwing, [], {})) items.push(item);
    expect(items.map((i) => (i.ok ? 'ok' : i.code))).toEqual(['ok', 'CG_RECORD_NHS_NUMBER', 'CG_ADAPTER_FAILED']);
    expect(items[1]!.at).toEqual({ line: 2 });
    expect(items[2]).toMatchObject({ reason: expect.stringContaining('disk on fire') });
  });
});

describe('batches', () => {
  it('readCheckedBatches uses readBatches, checks each item, and keeps the items before a throw', async () => {
    const good: AdapterRecord = { ok: true, record: { kind: 'retract', id: 'a', nhsNumber: '9434765919' }, at: { line: 1 } };
    const bad: AdapterRecord = { ok: true, record: { kind: 'retract', id: '', nhsNumber: '9434765919' }, at: { line: 2 } };
    const batched: SourceAdapter = {
      meta: META,
      read() {
        throw new Error('read is not used when readBatches exists');
      },
      async *readBatches() {
        yield [good, bad];
        yield [good];
        throw new Error('feed closed');
      },
    };
    const batches: string[][] = [];
    for await (const batch of new AdapterRegistry().register(batched).readBatches('acme-lab', [], {})) batches.push(batch.map((i) => (i.ok ? 'ok' : i.code)));
    expect(batches).toEqual([['ok', 'CG_RECORD_SCHEMA'], ['ok'], ['CG_ADAPTER_FAILED']]);
  });

  it('lineBatches splits chunks into numbered lines: BOM, CRLF, multi-byte characters split across chunks, long lines', async () => {
    const bytes = new TextEncoder().encode('\ufeffa\r\nbé\n' + 'x'.repeat(50) + '\nlast');
    const chunks = [bytes.slice(0, 8), bytes.slice(8, 9), bytes.slice(9)];
    const lines = [];
    for await (const batch of lineBatches((async function* () { yield* chunks; })(), 20)) lines.push(...batch);
    expect(lines).toEqual([
      { line: 1, text: 'a', tooLong: false, invalidUtf8: false },
      { line: 2, text: 'bé', tooLong: false, invalidUtf8: false },
      { line: 3, text: 'x'.repeat(50), tooLong: true, invalidUtf8: false },
      { line: 4, text: 'last', tooLong: false, invalidUtf8: false },
    ]);
  });
});

describe('normalisation maps', () => {
  const maps = loadNormalisationMaps(join(ROOT, 'codesets/maps'));

  it('converts LOINC HbA1c % to IFCC mmol/mol: (NGSP − 2.15) × 10.929, whole numbers', () => {
    for (const code of ['4548-4', '17856-6']) {
      expect(maps.normalise('loinc', code, 7.0, '%')).toEqual({ code: '999791000000106', value: 53, unit: 'mmol/mol', mapped: true });
    }
    expect(maps.normalise('loinc', '4548-4', 6.5, '%').value).toBe(Math.round((6.5 - 2.15) * 10.929));
  });

  it('maps blood-pressure panels and components to 163020007 with component names', () => {
    expect(maps.normalise('loinc', '85354-9')).toEqual({ code: '163020007', mapped: true });
    expect(maps.normalise('loinc', '55284-4')).toEqual({ code: '163020007', mapped: true });
    expect(maps.normalise('loinc', '8480-6', 120, 'mm[Hg]')).toMatchObject({ code: '163020007', component: 'systolic', value: 120 });
    expect(maps.normalise('loinc', '8462-4', 80, 'mm[Hg]')).toMatchObject({ code: '163020007', component: 'diastolic', value: 80 });
  });

  it('keeps an unmapped code with its system, and a mapped code in an unexpected unit unconverted', () => {
    expect(maps.normalise('loinc', '2093-3', 5.2, 'mmol/L')).toEqual({ code: '2093-3', system: 'loinc', value: 5.2, unit: 'mmol/L', mapped: false });
    expect(maps.normalise('snomed', '44054006')).toEqual({ code: '44054006', mapped: false });
    expect(maps.normalise('loinc', '4548-4', 48, 'mmol/mol')).toMatchObject({ code: '4548-4', system: 'loinc', mapped: false });
  });

  it('refuses malformed map files with CG_MAP_FORMAT and repeated rows with CG_CODESET_DUPLICATE', () => {
    const header = '# map: m\n# title: t\n# source: s\nfrom_system,from_code,from_unit,to_code,to_unit,shift,scale,round,component,note\n';
    expect(codeOf(() => parseNormalisationMap('from_system\n'))).toBe('CG_MAP_FORMAT');
    expect(codeOf(() => parseNormalisationMap(header + 'loinc,1-1,,NOTSNOMED,,,,,,\n'))).toBe('CG_MAP_FORMAT');
    expect(codeOf(() => parseNormalisationMap(header + 'loinc,1-1,,44054006,,x,,,,\n'))).toBe('CG_MAP_FORMAT');
    const rows = parseNormalisationMap(header + 'loinc,1-1,,44054006,,,,,,\n');
    expect(codeOf(() => new NormalisationMap([...rows, ...rows]))).toBe('CG_CODESET_DUPLICATE');
  });
});

describe('linkage', () => {
  const base: PatientRecord = { kind: 'patient', nhsNumber: '9434765919', birthDate: '1957-03-02', sex: 'female', practice: 'F83004', registeredFrom: '2001-05-01' };
  const item = (record: PatientRecord, extra: Partial<AdapterRecord> = {}): AdapterRecord => ({ ok: true, record, at: {}, ...extra });

  it('the most recent update from the registering practice wins over newer updates from elsewhere', () => {
    const linker = new Linker();
    linker.accept(item({ ...base, source: 'F83004', sex: 'female' }, { updated: '2024-01-01T00:00:00Z' }));
    linker.accept(item({ ...base, source: 'F83004', birthDate: '1957-03-03' }, { updated: '2024-06-01T00:00:00+01:00' }));
    linker.accept(item({ ...base, source: 'RAL01', sex: 'male' }, { updated: '2025-01-01T00:00:00Z' }));
    const { records } = linker.finish();
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ birthDate: '1957-03-03', sex: 'female', source: 'F83004' });
  });

  it('without a record from the registering practice, the most recent update wins; ties go to the last read', () => {
    const linker = new Linker();
    linker.accept(item({ ...base, source: 'RAL01', sex: 'male' }, { updated: '2025-01-01T00:00:00Z' }));
    linker.accept(item({ ...base, source: 'RAP02', sex: 'other' }, { updated: '2024-01-01T00:00:00Z' }));
    expect(linker.finish().records[0]!.sex).toBe('male');
    const tie = new Linker();
    tie.accept(item({ ...base, sex: 'male' }));
    tie.accept(item({ ...base, sex: 'other' }));
    expect(tie.finish().records[0]!.sex).toBe('other');
  });

  it('events pass straight through keeping their source; registration starts at the first record from any source', () => {
    const linker = new Linker();
    linker.accept(item(base, { registeredFromFirstRecord: true }));
    const e1 = linker.accept({ ok: true, at: {}, record: { kind: 'event', id: 'a:1', nhsNumber: base.nhsNumber, code: '44054006', date: '2010-04-01', source: 'F83004' } });
    linker.accept({ ok: true, at: {}, record: { kind: 'event', id: 'b:1', nhsNumber: base.nhsNumber, code: '44054006', date: '2008-02-01', source: 'RAL01' } });
    expect(e1).toMatchObject({ source: 'F83004' });
    expect(linker.finish().records[0]!.registeredFrom).toBe('2008-02-01');
  });
});

describe('test-range NHS numbers', () => {
  it('are valid, from 999 000 0000 upwards, deterministic, one per source patient', () => {
    const a = new TestNumberAssigner();
    const numbers = ['x', 'y', 'z', 'x'].map((k) => a.numberFor(k));
    expect(numbers[0]).toBe('9990000018');
    expect(numbers[3]).toBe(numbers[0]);
    expect(new Set(numbers).size).toBe(3);
    for (const n of numbers) {
      expect(isValidNhsNumber(n)).toBe(true);
      expect(n.startsWith('999')).toBe(true);
    }
    const b = new TestNumberAssigner();
    expect(['x', 'y', 'z'].map((k) => b.numberFor(k))).toEqual(numbers.slice(0, 3));
    expect(a.mapping()).toEqual([
      { source: 'x', nhsNumber: numbers[0] },
      { source: 'y', nhsNumber: numbers[1] },
      { source: 'z', nhsNumber: numbers[2] },
    ]);
  });
});
