// Rule files and records are treated as hostile (DESIGN §6): nothing in them may run code or exhaust memory.
import { describe, expect, it } from 'vitest';
import { CaregapsError, CodesetIndex, loadCodesets, parseRegistry, PatientStore, parseDay, type Registry } from '@caregaps/core';
import { ReferenceRegistry, resolvePlainPath } from '@caregaps/core/reference';
import { CODESETS } from './fixtures/codesets.js';
import { registryWith } from './fixtures/hostile-rules.js';

const codesets = loadCodesets(CODESETS);
const index = new CodesetIndex(codesets);


const sentinel = () => (globalThis as { __caregapsPwned?: boolean }).__caregapsPwned === true;
const SCRIPT_PATHS = [
  "$..[?(@.constructor[( @.getPrototypeOf(@).constructor('globalThis.__caregapsPwned=true;0')() )])]",
  '$[?(@.constructor.constructor("globalThis.__caregapsPwned=true")())]',
  "$..[?(@property === 'x' && (globalThis.__caregapsPwned = true))]",
  '$.__proto__.polluted',
  '$.constructor.prototype',
];

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return (error as CaregapsError).code;
  }
  return undefined;
}

describe('hostile rule files', () => {
  it.each(SCRIPT_PATHS)('refuses the path %s at load, and runs nothing', (path) => {
    const text = registryWith(`{ fact: DMLAT_DAT, operator: notEqual, value: null, path: ${JSON.stringify(path)} }`);
    expect(['CG_RULE_UNSAFE_PATH', 'CG_RULE_FORBIDDEN_KEY']).toContain(code(() => parseRegistry(text, 'h.yaml', { codesets: index })));
    expect(sentinel()).toBe(false);
  });

  it('runs no script even when a hostile path reaches json-rules-engine past the loader', async () => {
    // Build the registry object by hand, as a caller bypassing the loader would, and run it through the reference.
    const text = registryWith('{ fact: DMLAT_DAT, operator: notEqual, value: null }');
    const registry: Registry = parseRegistry(text, 'h.yaml', { codesets: index });
    const condition = registry.definition.register[0]!.if as { path?: string };
    for (const path of SCRIPT_PATHS) {
      condition.path = path;
      const reference = new ReferenceRegistry(registry, codesets);
      const store = new PatientStore();
      store.apply({ kind: 'patient', nhsNumber: '9434765919', birthDate: '1950-01-01', sex: 'male', practice: 'P1', registeredFrom: '2000-01-01' });
      store.apply({ kind: 'event', id: 'e', nhsNumber: '9434765919', code: '44054006', date: '2010-01-01' });
      await reference.evaluate(store.get('9434765919')!, parseDay('2025-03-31')!);
      expect(sentinel()).toBe(false);
    }
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('resolves only plain own-property paths', () => {
    expect(resolvePlainPath({ a: { b: 2 } }, '$.a.b')).toBe(2);
    expect(resolvePlainPath({ a: 1 }, '$.toString')).toBeUndefined();
    expect(resolvePlainPath({}, '$.__proto__')).toBeUndefined();
    expect(resolvePlainPath({ a: [1] }, '$.a[0]')).toBeUndefined();
  });

  it.each(['__proto__', 'constructor', 'prototype'])('refuses a %s key anywhere', (key) => {
    const text = registryWith('{ fact: DMLAT_DAT, operator: notEqual, value: null }').replace('fields:\n', `fields:\n  ${key}: { latest: DM_COD }\n`);
    expect(code(() => parseRegistry(text, 'h.yaml', { codesets: index }))).toBe('CG_RULE_FORBIDDEN_KEY');
    expect(({} as Record<string, unknown>)['latest']).toBeUndefined();
  });

  it('refuses a YAML alias bomb quickly', () => {
    const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 9; i++) levels.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill('*' + String.fromCharCode(96 + i)).join(',')}]`);
    const started = Date.now();
    expect(code(() => parseRegistry(levels.join('\n') + '\n', 'bomb.yaml'))).toBe('CG_RULE_ALIASES');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('refuses an oversized file before parsing it', () => {
    const text = '# ' + 'x'.repeat(2 << 20);
    expect(code(() => parseRegistry(text, 'big.yaml'))).toBe('CG_RULE_FILE_TOO_LARGE');
  });

  it('refuses duplicate keys, which YAML would otherwise let override silently', () => {
    const text = registryWith('{ fact: DMLAT_DAT, operator: notEqual, value: null }').replace('title: t\n', 'title: t\ntitle: u\n');
    expect(code(() => parseRegistry(text, 'dup.yaml', { codesets: index }))).toBe('CG_RULE_SYNTAX');
  });

  it('keeps unquoted SNOMED-like numbers out of rule files: codes live in codesets', () => {
    const text = registryWith('{ fact: DMLAT_DAT, operator: notEqual, value: null }').replace('latest: DM_COD', 'latest: 44054006');
    expect(code(() => parseRegistry(text, 'n.yaml', { codesets: index }))).toBe('CG_RULE_SCHEMA');
  });
});
