import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CaregapsError, CodesetIndex, loadCodesets, parseCodeset, parseRegistry, type Problem } from '@caregaps/core';
import { CODESETS, FIXTURES } from './fixtures/codesets.js';

const index = new CodesetIndex(loadCodesets(CODESETS));
const base = readFileSync(join(FIXTURES, 'features.registry.yaml'), 'utf8');

function problems(text: string, file = 'r.yaml'): Problem[] {
  try {
    parseRegistry(text, file, { codesets: index });
  } catch (error) {
    expect(error).toBeInstanceOf(CaregapsError);
    return [...(error as CaregapsError).problems];
  }
  throw new Error('expected the file to be refused');
}

const minimal = (register: string, fields = 'DMLAT_DAT: { latest: DM_COD }') => `id: test
title: t
version: "1"
source: { document: d, version: "1" }
fields:
  ${fields}
register:
${register}
indicators: []
`;

const rule = (condition: string, then = 'select', otherwise = 'reject') => `  - rule: 1
    if: ${condition}
    then: ${then}
    else: ${otherwise}`;

describe('parseRegistry', () => {
  it('loads the feature fixture and orders fields after their dependencies', () => {
    const registry = parseRegistry(base, 'features.yaml', { codesets: index });
    const order = registry.fieldOrder;
    expect(order.indexOf('DMLAT_DAT')).toBeLessThan(order.indexOf('DMRES_DAT'));
    expect(order.indexOf('INVITE1_DAT')).toBeLessThan(order.indexOf('INVITE2_DAT'));
    expect(registry.factTypes.get('HBA_HIGH_6M')).toBe('boolean');
  });

  it('names file:line:column for an unknown property', () => {
    const [p] = problems(minimal(rule('{ fact: DMLAT_DAT, operator: notEqual, value: null }')).replace('version: "1"\n', 'version: "1"\nauthor: me\n'));
    expect(p).toMatchObject({ code: 'CG_RULE_SCHEMA', file: 'r.yaml', line: 4, column: 1 });
    expect(p!.message).toContain('author');
  });

  it.each([
    ['an unknown fact', rule('{ fact: NOPE_DAT, operator: notEqual, value: null }'), 'CG_RULE_UNKNOWN_FACT'],
    ['a date operator on a number', rule('{ fact: PAT_AGE, operator: after, value: "PPED" }'), 'CG_RULE_TYPE'],
    ['a numeric operator on a date', rule('{ fact: DMLAT_DAT, operator: lessThan, value: 3 }'), 'CG_RULE_TYPE'],
    ['a malformed date expression', rule('{ fact: DMLAT_DAT, operator: after, value: "PPED minus a year" }'), 'CG_RULE_DATE_EXPRESSION'],
    ['an impossible literal date', rule('{ fact: DMLAT_DAT, operator: after, value: "2023-02-30" }'), 'CG_RULE_DATE_EXPRESSION'],
    ['a cascade ending on next', rule('{ fact: DMLAT_DAT, operator: notEqual, value: null }', 'select', 'next'), 'CG_RULE_CASCADE'],
    ['an unknown operator', rule('{ fact: DMLAT_DAT, operator: regex, value: ".*" }'), 'CG_RULE_SCHEMA'],
    ['a condition with two shapes', rule('{ all: [], fact: DMLAT_DAT }'), 'CG_RULE_SCHEMA'],
  ])('refuses %s with its code and position', (_name, register, code) => {
    const [p] = problems(minimal(register));
    expect(p).toMatchObject({ code, file: 'r.yaml' });
    expect(p!.line).toBeGreaterThanOrEqual(8);
  });

  it('refuses an unknown cluster and points at it', () => {
    const [p] = problems(minimal(rule('{ fact: DMLAT_DAT, operator: notEqual, value: null }'), 'DMLAT_DAT: { latest: DM_CODE }'));
    expect(p).toMatchObject({ code: 'CG_RULE_UNKNOWN_CLUSTER', line: 6 });
  });

  it.each([
    ['pairByDate on a count field', 'N: { count: DM_COD, pairByDate: true }', 'CG_RULE_SCHEMA'],
    ['pairByDate naming an unknown cluster', 'N: { latest: BP_COD, pairByDate: { systolic: SYSTOLIC_COD } }', 'CG_RULE_UNKNOWN_CLUSTER'],
    ['ageAt with a window', 'N: { ageAt: DMLAT_DAT, after: PPED }', 'CG_RULE_SCHEMA'],
    ['ageAt of a count', 'C: { count: DM_COD }\n  N: { ageAt: C }', 'CG_RULE_TYPE'],
    ['ageAt of an unknown field', 'N: { ageAt: NOPE_DAT }', 'CG_RULE_UNKNOWN_FACT'],
  ])('refuses %s', (_name, field, code) => {
    const text = minimal(rule('{ fact: DMLAT_DAT, operator: notEqual, value: null }'), `DMLAT_DAT: { latest: DM_COD }\n  ${field}`);
    expect(problems(text).map((p) => p.code)).toContain(code);
  });

  it('types an ageAt field as a number and orders it after the date it reads', () => {
    const registry = parseRegistry(base, 'features.yaml', { codesets: index });
    expect(registry.factTypes.get('AGE_AT_DM')).toBe('number');
    expect(registry.fieldOrder.indexOf('BPFIRST_DAT')).toBeLessThan(registry.fieldOrder.indexOf('AGE_AT_BP'));
  });

  it('refuses fields that depend on each other in a cycle', () => {
    const fields = 'A_DAT: { latest: DM_COD, after: B_DAT }\n  B_DAT: { latest: DM_COD, after: A_DAT }';
    expect(problems(minimal(rule('{ fact: A_DAT, operator: notEqual, value: null }'), fields)).map((p) => p.code)).toContain('CG_RULE_FIELD_CYCLE');
  });

  it('requires a denominator reject to name its outcome', () => {
    const text = base.replace('then: { reject: excepted }\n        else: select', 'then: reject\n        else: select');
    expect(problems(text).map((p) => p.code)).toContain('CG_RULE_SCHEMA');
  });

  it('reports every problem at once, not only the first', () => {
    const text = minimal(`${rule('{ fact: NOPE_DAT, operator: notEqual, value: null }', 'next')}\n  - rule: 2\n    if: { fact: PAT_AGE, operator: after, value: "PPED" }\n    then: select\n    else: next`);
    expect(problems(text).map((p) => p.code).sort()).toEqual(['CG_RULE_CASCADE', 'CG_RULE_TYPE', 'CG_RULE_UNKNOWN_FACT']);
  });

  it('gives YAML syntax errors a position', () => {
    const [p] = problems('id: t\ntitle: [unclosed\n');
    expect(p).toMatchObject({ code: 'CG_RULE_SYNTAX', line: expect.any(Number), column: expect.any(Number) });
  });

  it('reads JSON rule files too', () => {
    const registry = parseRegistry(JSON.stringify(parseRegistry(base, 'f.yaml', { codesets: index }).definition), 'f.json', { codesets: index });
    expect(registry.definition.indicators.map((i) => i.id)).toEqual(['HBA', 'BP', 'PAIR_DATE', 'PAIR_SYS', 'PAIR_DIA', 'PAIR_FIRST', 'AGES']);
  });
});

describe('parseCodeset', () => {
  const head = '# cluster: X_COD\n# title: t\n# refset: 1\n# publisher: p\n# release: r\n# source: s\n# copied-from: c\n';
  it('reads metadata, codes and terms', () => {
    const c = parseCodeset(head + 'code,term\n"44054006","Diabetes mellitus type 2"\n"73211009","Diabetes, mellitus"\n');
    expect([...c.codes]).toEqual([['44054006', 'Diabetes mellitus type 2'], ['73211009', 'Diabetes, mellitus']]);
    expect(c.status).toBe('complete');
  });
  it.each([
    ['a missing metadata line', head.replace('# release: r\n', '') + 'code,term\n"44054006","x"\n'],
    ['a duplicate code', head + 'code,term\n"44054006","x"\n"44054006","y"\n'],
    ['a code that is not digits', head + 'code,term\n"4.4054E+07","x"\n'],
    ['codes in a missing cluster', head + '# status: missing\ncode,term\n"44054006","x"\n'],
    ['no codes without saying missing', head + 'code,term\n'],
  ])('refuses %s', (_name, text) => {
    expect(() => parseCodeset(text, 'X_COD.csv')).toThrow(CaregapsError);
  });
  it('has provenance for every bundled cluster', () => {
    for (const c of loadCodesets(CODESETS)) {
      expect(c.source.url, c.cluster).toMatch(/^https:\/\//);
      expect(c.source.copiedFrom.length, c.cluster).toBeGreaterThan(5);
      expect(c.status === 'missing' || c.codes.size > 0, c.cluster).toBe(true);
    }
  });
});
