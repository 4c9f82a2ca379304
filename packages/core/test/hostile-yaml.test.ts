/**
 * Rule files that would exhaust a reader (issue 13, item 8; test plan B2): a circular alias, nesting thousands deep
 * (flow and block), an alias used as a key to smuggle in `__proto__`, alias bombs (with and without merge keys),
 * 2×10^5 conditions and a 100 MB file (the catastrophic pattern is the column map's `files` glob:
 * extract/test/glob.test.ts). Each is refused at load with a coded error at file:line:column (the file alone for
 * whole-file limits), within a time budget, never with an uncaught RangeError.
 */
import { describe, expect, it } from 'vitest';
import { CaregapsError, CodesetIndex, loadCodesets, parseRegistry } from '@caregaps/core';
import { CODESETS } from './fixtures/codesets.js';
import { registryWith as hostileRegistry } from './fixtures/hostile-rules.js';

const index = new CodesetIndex(loadCodesets(CODESETS));
/** The shared hostile-rule registry, with `extraField` added to its fields. */
const registryWith = (condition: string, extraField = '') => hostileRegistry(condition).replace('DMLAT_DAT: { latest: DM_COD }', `DMLAT_DAT: { latest: DM_COD }${extraField}`);
const leaf = '{ fact: DMLAT_DAT, operator: notEqual, value: null }';

/** Loads the text; returns the error's code and its first problem's file:line:column, and the time taken. */
function load(text: string): { code?: string; where?: string; ms: number; other?: string } {
  const start = performance.now();
  try {
    parseRegistry(text, 'hostile.yaml', { codesets: index });
    return { ms: performance.now() - start };
  } catch (error) {
    const ms = performance.now() - start;
    if (!(error instanceof CaregapsError)) return { other: `${(error as Error).constructor.name}: ${(error as Error).message}`, ms };
    const p = error.problems[0];
    return { code: error.code, where: p ? `${p.file}:${p.line}:${p.column}` : undefined, ms };
  }
}

const blockNot = (n: number) => Array.from({ length: n }, (_, i) => `${' '.repeat(6 + 2 * i)}not:`).join('\n') + `\n${' '.repeat(6 + 2 * n)}${leaf}`;

/** Name, text, code; limits on the whole file (size, alias count) are reported for the file, without a line. */
const CASES: [string, string, string, 'whole file'?][] = [
  ['circular alias', registryWith('&c { not: *c }'), 'CG_RULE_ALIASES'],
  ['circular alias two levels down', registryWith('&c { all: [ { any: [ *c ] } ] }'), 'CG_RULE_ALIASES'],
  ['flow nesting 100 deep', registryWith('{ not: '.repeat(100) + leaf + ' }'.repeat(100)), 'CG_RULE_NESTING'],
  ['flow nesting 100,000 deep', registryWith('{ not: '.repeat(100_000) + leaf + ' }'.repeat(100_000)), 'CG_RULE_NESTING'],
  ['flow brackets 200,000 deep', registryWith('['.repeat(200_000) + ']'.repeat(200_000)), 'CG_RULE_NESTING'],
  ['block nesting 700 deep', registryWith('\n' + blockNot(700)), 'CG_RULE_NESTING'],
  ['alias as a key (&k __proto__)', registryWith(leaf, '\n  X: &k __proto__\n  *k : { latest: DM_COD }'), 'CG_RULE_FORBIDDEN_KEY'],
  ['collection as a key', registryWith(leaf, '\n  ? [a, b]\n  : { latest: DM_COD }'), 'CG_RULE_FORBIDDEN_KEY'],
  ['billion laughs', 'a: &a [x, x, x, x, x, x, x, x, x]\n' + Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9).fill('*' + String.fromCharCode(97 + i)).join(', ')}]`).join('\n') + '\n', 'CG_RULE_ALIASES', 'whole file'],
  ['billion laughs through merge keys', 'a: &a { x: 1 }\n' + Array.from({ length: 30 }, (_, i) => `k${i}: { <<: *a, y: ${i} }`).join('\n') + '\n', 'CG_RULE_ALIASES', 'whole file'],
  ['2×10^5 conditions', registryWith(`{ all: [ ${Array(200_000).fill(leaf).join(', ')} ] }`), 'CG_RULE_FILE_TOO_LARGE', 'whole file'],
  ['100 MB rule file', registryWith(leaf) + '# ' + 'x'.repeat(100_000_000), 'CG_RULE_FILE_TOO_LARGE', 'whole file'],
];

describe('rule files that would exhaust a reader', () => {
  it.each(CASES)('%s is refused with a coded error at file:line:column', (_name, text, code, scope) => {
    const got = load(text);
    expect(got.other).toBeUndefined();
    expect(got.code).toBe(code);
    expect(got.where).toMatch(scope === 'whole file' ? /^hostile\.yaml:undefined:undefined$/ : /^hostile\.yaml:\d+:\d+$/);
  });

  it('reports the figure: payloads, refused with a code and a position, uncaught errors, slowest load', () => {
    const results = CASES.map(([name, text, expected, scope]) => ({ name, expected, scope, ...load(text) }));
    const refused = results.filter((r) => r.code === r.expected && (r.scope === 'whole file' || /:\d+:\d+$/.test(r.where ?? ''))).length;
    const uncaught = results.filter((r) => r.other !== undefined).length;
    const slowest = Math.max(...results.map((r) => r.ms));
    console.log(`B2 hostile rule resources: payloads ${results.length}; refused with code and position ${refused} (line:column, or the file for size and alias-count limits); uncaught errors ${uncaught}; slowest load ${slowest.toFixed(0)} ms`);
    expect(uncaught).toBe(0);
    expect(refused).toBe(results.length);
    expect(slowest).toBeLessThan(2000);
    expect(({} as Record<string, unknown>)['latest']).toBeUndefined();
  });

  it('still loads nesting a real rule needs', () => {
    expect(load(registryWith('{ not: '.repeat(20) + leaf + ' }'.repeat(20))).code).toBeUndefined();
  });
});
