/**
 * I1 (jsonpath-plus unreachable) and I2 (upgrade canary). `node scripts/supply-chain.mjs --review` runs this file
 * with hostile.test.ts after every dependency bump, against the versions the bump installed; `pnpm test` runs it too.
 *
 * - jsonpath-plus is present (json-rules-engine 7.3.1 requires ^10.3.0, every 10.x has had script-evaluation bypasses).
 *   Its JSONPath is wrapped with a counter, then every bundled registry runs through the json-rules-engine reference
 *   over patients holding each registry's codes, and every hostile path is forced past the loader: 0 calls.
 *   A control without our pathResolver shows the counter sees calls.
 * - The dependency behaviours the rule loader relies on (DESIGN §6) are asserted on the installed versions, and the
 *   code-execution corpus (payloads from the jsonpath-plus advisories and their regression tests) is loaded as rule
 *   files: every one refused at load, none run.
 */
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from 'json-rules-engine';
import { CodesetIndex, PatientStore, loadCodesets, loadRegistries, parseDay, parseRegistry, type CaregapsError, type Registry } from '@caregaps/core';
import { ReferenceRegistry } from '@caregaps/core/reference';
import { CODESETS, REGISTRIES } from './fixtures/codesets.js';
import { registryWith } from './fixtures/hostile-rules.js';

const fromEngine = createRequire(createRequire(import.meta.url).resolve('json-rules-engine'));
const jsonpath = fromEngine('jsonpath-plus') as { JSONPath: (...args: unknown[]) => unknown };
const versionOf = (name: string, from = fromEngine) => (from(`${name}/package.json`) as { version: string }).version;
const ownRequire = createRequire(import.meta.url);

let calls = 0;
const original = jsonpath.JSONPath;
beforeAll(() => {
  jsonpath.JSONPath = (...args: unknown[]) => {
    calls++;
    return original(...args);
  };
});
afterAll(() => {
  jsonpath.JSONPath = original;
});

const sentinel = () => (globalThis as { __caregapsPwned?: unknown }).__caregapsPwned !== undefined;

/** Payloads from the jsonpath-plus advisories (GHSA-pppg-cpfq-h7wr, GHSA-hw8r-x6gr-5gjp) and upstream regression tests. */
const PAYLOADS = [
  "$..[?(@.constructor[( @.getPrototypeOf(@).constructor('globalThis.__caregapsPwned=1;0')() )])]",
  "$..[?(@.constructor[( @.getPrototypeOf(@).constructor.call(0,'globalThis.__caregapsPwned=1;0')() )])]",
  '$[?(@.constructor.constructor("globalThis.__caregapsPwned=1")())]',
  '$[?(@.constructor.constructor.call(null,"globalThis.__caregapsPwned=1")())]',
  '$[?(@.constructor.constructor.apply(null,["globalThis.__caregapsPwned=1"])())]',
  '$[?(@.constructor.constructor.bind(null,"globalThis.__caregapsPwned=1")()())]',
  "$[?(@.__lookupGetter__('__proto__').call(@).constructor.constructor('globalThis.__caregapsPwned=1')())]",
  "$[?((async function(){}).constructor('globalThis.__caregapsPwned=1')())]",
  "$[?((function*(){}).constructor('globalThis.__caregapsPwned=1')().next())]",
  "$..[?(@property === 'x' && (globalThis.__caregapsPwned = 1))]",
  '$..[?(`${globalThis.__caregapsPwned=1}`)]',
  '$..[(@.length-1)]',
  '$.__proto__.polluted',
  '$.constructor.prototype',
  "$['constructor']['constructor']('globalThis.__caregapsPwned=1')()",
];


const codesets = loadCodesets(CODESETS);
const index = new CodesetIndex(codesets);

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return (error as CaregapsError).code ?? (error as Error).name;
  }
  return undefined;
}

describe('I1 jsonpath-plus is unreachable from rule files', () => {
  it('0 calls into jsonpath-plus over every bundled registry and every hostile path forced past the loader', async () => {
    const { registries } = loadRegistries(REGISTRIES, CODESETS);
    let evaluations = 0;
    for (const registry of registries) {
      const reference = new ReferenceRegistry(registry, codesets);
      // One patient per cluster the registry reads, holding that cluster's first code on three dates.
      const clusters = [...new Set(JSON.stringify(registry.definition).match(/\b[A-Z0-9]+_COD\b/g) ?? [])];
      for (const [n, cluster] of clusters.entries()) {
        const code = codesets.find((c) => c.cluster === cluster)?.codes.keys().next().value as string | undefined;
        const store = new PatientStore();
        const nhsNumber = '9434765919';
        store.apply({ kind: 'patient', nhsNumber, birthDate: '1950-01-01', sex: n % 2 ? 'male' : 'female', practice: 'P1', registeredFrom: '2000-01-01' });
        if (code) for (const date of ['2015-01-01', '2024-06-01', '2025-02-01']) store.apply({ kind: 'event', id: `e-${date}`, nhsNumber, code, date, value: 50 });
        await reference.evaluate(store.get(nhsNumber)!, parseDay('2025-03-31')!);
        evaluations++;
      }
    }
    // A caller bypassing the loader: the hostile paths put straight into a parsed registry's condition.
    const registry: Registry = parseRegistry(registryWith('{ fact: DMLAT_DAT, operator: notEqual, value: null }'), 'h.yaml', { codesets: index });
    const condition = registry.definition.register[0]!.if as { path?: string };
    for (const path of PAYLOADS) {
      condition.path = path;
      const store = new PatientStore();
      store.apply({ kind: 'patient', nhsNumber: '9434765919', birthDate: '1950-01-01', sex: 'male', practice: 'P1', registeredFrom: '2000-01-01' });
      store.apply({ kind: 'event', id: 'e', nhsNumber: '9434765919', code: '44054006', date: '2010-01-01' });
      await new ReferenceRegistry(registry, codesets).evaluate(store.get('9434765919')!, parseDay('2025-03-31')!);
      evaluations++;
    }
    const ours = calls;
    // Control: json-rules-engine's default resolver does reach the wrapped jsonpath-plus.
    const control = new Engine([], { allowUndefinedFacts: true });
    control.addFact('f', { a: 1 });
    control.addRule({ conditions: { all: [{ fact: 'f', path: '$.a', operator: 'equal', value: 1 }] }, event: { type: 'x' } });
    await control.run();
    console.log(
      `I1 jsonpath-plus ${versionOf('jsonpath-plus')} under json-rules-engine ${versionOf('json-rules-engine', ownRequire)}: registries ${registries.length}; ` +
        `reference evaluations ${evaluations} (${PAYLOADS.length} with hostile paths past the loader); calls into jsonpath-plus ${ours}; control without the strict resolver ${calls - ours}`,
    );
    expect(evaluations).toBeGreaterThan(registries.length);
    expect(ours).toBe(0);
    expect(calls - ours).toBeGreaterThan(0);
    expect(sentinel()).toBe(false);
  });
});

describe('I2 upgrade canary: the hostile-rule corpus against the installed dependency versions', () => {
  it('B1: every code-execution payload is refused at load and none runs', () => {
    let refused = 0;
    const codes = new Set<string>();
    for (const path of PAYLOADS) {
      for (const text of [
        registryWith(`{ fact: DMLAT_DAT, operator: notEqual, value: null, path: ${JSON.stringify(path)} }`),
        registryWith(`{ all: [ { fact: DMLAT_DAT, operator: notEqual, value: { fact: DMLAT_DAT, path: ${JSON.stringify(path)} } } ] }`),
      ]) {
        const code = codeOf(() => parseRegistry(text, 'h.yaml', { codesets: index }));
        if (code?.startsWith('CG_RULE')) refused++;
        codes.add(String(code));
      }
    }
    const tried = PAYLOADS.length * 2;
    console.log(
      `I2/B1 canary (json-rules-engine ${versionOf('json-rules-engine', ownRequire)}, jsonpath-plus ${versionOf('jsonpath-plus')}, yaml ${versionOf('yaml', ownRequire)}, ajv ${versionOf('ajv', ownRequire)}): ` +
        `payloads tried ${tried}; executed ${sentinel() ? 'SOME' : 0}; rejected at load ${((100 * refused) / tried).toFixed(1)} % (${[...codes].sort().join(', ')})`,
    );
    expect(refused).toBe(tried);
    expect(sentinel()).toBe(false);
  });

  it('B2/B3: the yaml and ajv behaviours the loader relies on still hold', () => {
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 9; i++) bomb.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill('*' + String.fromCharCode(96 + i)).join(',')}]`);
    const cases: [string, string, string[]][] = [
      ['billion laughs', bomb.join('\n') + '\n', ['CG_RULE_ALIASES']],
      ['aliases through merge keys beyond the limit', 'base: &b { title: t }\n' + Array.from({ length: 200 }, (_, i) => `k${i}:\n  <<: *b\n`).join(''), ['CG_RULE_ALIASES']],
      ['10^4-deep flow nesting', `x: ${'['.repeat(10_000)}${']'.repeat(10_000)}\n`, ['CG_RULE_NESTING']],
      ['duplicate keys', registryWith('{ fact: DMLAT_DAT, operator: notEqual, value: null }').replace('title: t\n', 'title: t\ntitle: u\n'), ['CG_RULE_SYNTAX']],
      ['__proto__ key', registryWith('{ fact: DMLAT_DAT, operator: notEqual, value: null }').replace('fields:\n', 'fields:\n  __proto__: { latest: DM_COD }\n'), ['CG_RULE_FORBIDDEN_KEY']],
      ['unknown key (ajv strict, additionalProperties: false)', registryWith('{ fact: DMLAT_DAT, operator: notEqual, value: null }').replace('title: t\n', 'title: t\nextra: 1\n'), ['CG_RULE_SCHEMA']],
      ['type confusion', registryWith('{ fact: DMLAT_DAT, operator: notEqual, value: null }').replace('indicators: []', 'indicators: {}'), ['CG_RULE_SCHEMA']],
    ];
    const failures: string[] = [];
    for (const [name, text, want] of cases) {
      const started = Date.now();
      const code = codeOf(() => parseRegistry(text, 'c.yaml', { codesets: index }));
      const ms = Date.now() - started;
      if (!want.includes(String(code)) || ms > 2000) failures.push(`${name}: ${code} in ${ms} ms (want ${want.join(' or ')})`);
    }
    console.log(`I2/B2/B3 canary: loader behaviours checked ${cases.length}; broken by the installed versions ${failures.length}`);
    expect(failures).toEqual([]);
  });
});
