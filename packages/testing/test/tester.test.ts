import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CaregapsError, CodesetIndex, CompiledRegistry, loadCodesets, loadRegistry } from '@caregaps/core';
import { RegistryTester, parseTestFile, runCases } from '@caregaps/testing';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const index = new CodesetIndex(loadCodesets(join(ROOT, 'codesets')));
const diabetes = new CompiledRegistry(loadRegistry(join(ROOT, 'registries/diabetes/registry.yaml'), { codesets: index }), index);

const file = (cases: string) => `registry: diabetes
asOf: "2025-03-31"
cases:
${cases}`;
const onRegister = `    events: [{ code: "44054006", date: "2015-03-01" }, { code: "999791000000106", date: "2025-01-10", value: 52 }]`;

function problemCodes(text: string): string[] {
  try {
    parseTestFile(text, 'tests.yaml', diabetes);
  } catch (error) {
    return (error as CaregapsError).problems.map((p) => p.code);
  }
  return [];
}

describe('parseTestFile', () => {
  it('rejects unknown keys, naming them', () => {
    expect(problemCodes(file(`  - name: a\n${onRegister}\n    expected: { register: true }\n`))).toEqual(['CG_TEST_CASE']);
  });
  it('rejects duplicate names and duplicate cases', () => {
    const one = `  - name: a\n${onRegister}\n    expect: { register: true, indicators: { DM020: met } }\n`;
    expect(problemCodes(file(one + one))).toContain('CG_TEST_DUPLICATE');
    expect(problemCodes(file(one + one.replace('name: a', 'name: b')))).toEqual(['CG_TEST_DUPLICATE']);
  });
  it('rejects indicators the registry does not have, and statuses for patients off the register', () => {
    expect(problemCodes(file(`  - name: a\n${onRegister}\n    expect: { register: true, indicators: { DM999: met } }\n`))).toEqual(['CG_TEST_CASE']);
    expect(problemCodes(file(`  - name: a\n    expect: { register: false, indicators: { DM020: met } }\n`))).toEqual(['CG_TEST_CASE']);
  });
  it('requires expectations for a patient on the register', () => {
    expect(problemCodes(file(`  - name: a\n${onRegister}\n    expect: { register: true }\n`))).toEqual(['CG_TEST_CASE']);
  });
});

describe('runCases', () => {
  it('checks which rule decided, when asked', () => {
    const tests = parseTestFile(
      file(`  - name: right rule
${onRegister}
    expect: { register: true, indicators: { DM020: met }, decidedBy: { register: 2, DM020: "numerator 1", DM021: "denominator 1" } }
  - name: wrong rule
${onRegister.replace('value: 52', 'value: 53')}
    expect: { register: true, indicators: { DM020: met }, decidedBy: { DM020: "denominator 5" } }
`),
      'tests.yaml',
      diabetes,
    );
    const [right, wrong] = runCases(diabetes, index, tests);
    expect(right!.failures).toEqual([]);
    expect(wrong!.failures).toEqual(['DM020: expected to be decided by denominator 5, was decided by numerator 1']);
  });
  it('applies corrections and retractions before evaluating', () => {
    const tests = parseTestFile(
      file(`  - name: corrected HbA1c counts, retracted diagnosis removes
    events:
      - { id: dx, code: "44054006", date: "2015-03-01" }
      - { id: h, code: "999791000000106", date: "2025-01-10", value: 80 }
      - { id: h, code: "999791000000106", date: "2025-01-10", value: 50 }
    expect: { register: true, indicators: { DM020: met } }
  - name: retracted diagnosis
    events: [{ id: dx, code: "44054006", date: "2015-03-01" }]
    retract: [dx]
    expect: { register: false }
`),
      'tests.yaml',
      diabetes,
    );
    expect(runCases(diabetes, index, tests).map((r) => r.failures)).toEqual([[], []]);
  });
  it('runs only the cases marked only', () => {
    const tests = parseTestFile(file(`  - name: a\n    only: true\n    expect: { register: false }\n  - name: b\n${onRegister}\n    expect: { register: true, indicators: { DM020: gap } }\n`), 't.yaml', diabetes);
    expect(runCases(diabetes, index, tests).map((r) => r.name)).toEqual(['a']);
  });
});

describe('RegistryTester', () => {
  it('registers one test per case with the runner it is given', () => {
    const seen: string[] = [];
    RegistryTester.describe = (name, fn) => {
      seen.push(`describe ${name}`);
      fn();
    };
    RegistryTester.it = (name) => void seen.push(name);
    try {
      new RegistryTester({ registries: join(ROOT, 'registries'), codesets: join(ROOT, 'codesets') }).run('diabetes');
    } finally {
      RegistryTester.describe = undefined;
      RegistryTester.it = undefined;
    }
    expect(seen[0]).toBe('describe diabetes');
    expect(seen.length).toBeGreaterThan(30);
  });
});
