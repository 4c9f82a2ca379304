/**
 * `files` patterns in a column map (issue 13, item 8; test plan B2): matched in linear-bounded time, never by a
 * backtracking regular expression. The oracle for small cases is the regular expression the adapter used before,
 * which is correct, only slow on hostile patterns.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CaregapsError, readChecked, type AdapterItem } from '@caregaps/core';
import { extractAdapter, parseColumnMap } from '@caregaps/extract';
import { matchesGlob } from '../src/glob.js';

const slowButRight = (glob: string) => new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'is');

describe('file-name patterns', () => {
  it('match exactly as the wildcard regular expression does', () => {
    const chars = fc.constantFrom('a', 'b', 'A', '.', '*', '?', '-', '_', 'é');
    fc.assert(
      fc.property(fc.array(chars, { maxLength: 8 }).map((c) => c.join('')), fc.array(chars.filter((c) => c !== '*' && c !== '?'), { maxLength: 10 }).map((c) => c.join('')), (glob, name) => {
        expect(matchesGlob(glob, name)).toBe(slowButRight(glob).test(name));
      }),
      { numRuns: 20_000, seed: 13 },
    );
    expect(matchesGlob('Admin_Patient*.csv', 'admin_patient_2024.CSV')).toBe(true);
    expect(matchesGlob('*.csv', 'x.ndjson')).toBe(false);
  });

  it('a hostile pattern against a long file name takes milliseconds, not minutes', async () => {
    const glob = '*a'.repeat(120) + '*b';
    const name = 'a'.repeat(250) + '.csv';
    const map = parseColumnMap(JSON.stringify({ name: 'm', tables: [{ files: glob, kind: 'event', fields: { id: 'id', nhsNumber: 'nhs', code: 'code', date: 'date' } }] }));
    const start = performance.now();
    const items: AdapterItem[] = [];
    for await (const item of readChecked(extractAdapter, [{ name, text: 'id,nhs,code,date\n' }], { columnMap: map })) items.push(item);
    const ms = performance.now() - start;
    console.log(`files glob: pattern of ${glob.length} characters (${glob.split('*').length - 1} stars) against a ${name.length}-character name: ${ms.toFixed(1)} ms`);
    expect(items.map((i) => (i.ok ? 'ok' : i.code))).toEqual(['CG_MAP_FORMAT']);
    expect(ms).toBeLessThan(500);
  });

  it('refuses a pattern longer than 256 characters in the column map', () => {
    const text = JSON.stringify({ name: 'm', tables: [{ files: '*'.repeat(257), kind: 'event', fields: { id: 'id', nhsNumber: 'nhs', code: 'code', date: 'date' } }] });
    expect(() => parseColumnMap(text)).toThrow(CaregapsError);
  });

  it('column maps are parsed as hostile YAML: a circular alias and an alias key are refused with CG_MAP_FORMAT at line:column', () => {
    for (const text of ['name: m\ntables: &t [ { kind: event, fields: *t } ]\n', 'name: m\nx: &k __proto__\n*k : 1\ntables: []\n']) {
      try {
        parseColumnMap(text, 'map.yaml');
        expect.unreachable();
      } catch (error) {
        expect((error as CaregapsError).code).toBe('CG_MAP_FORMAT');
        expect((error as CaregapsError).problems[0]).toMatchObject({ file: 'map.yaml', line: expect.any(Number), column: expect.any(Number) });
      }
    }
  });
});
