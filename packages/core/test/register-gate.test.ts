// The register gate (evaluate/gate.ts) must be sound: a patient with no record in some clause of a registry's gate is
// never on its register. The oracle is json-rules-engine over the same rule file (the reference interpreter), which
// knows nothing of gates: generated patients carry records of every cluster the registry reads except one clause's.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CodesetIndex,
  CompiledRegistry,
  PatientStore,
  addMonths,
  formatDay,
  loadCodesetLayers,
  loadRegistries,
  parseDay,
  parseRegistry,
  type Codeset,
  type EventRecord,
  type PatientRecord,
  type Registry,
} from '@caregaps/core';
import { ReferenceRegistry } from '@caregaps/core/reference';
import { CODESETS, REGISTRIES, SHARED_SOURCES } from './fixtures/codesets.js';

// The shared published content laid over the bundled codesets, so that every cluster the registries read has codes.
const codesets = loadCodesetLayers(CODESETS, SHARED_SOURCES).codesets;
const index = new CodesetIndex(codesets);
const bundled = loadRegistries(REGISTRIES, CODESETS, { codesetSources: SHARED_SOURCES }).registries;
const ACHV = parseDay('2025-03-31')!;
const runs = 120;

/** Names of the clusters a registry's fields read. */
function clustersRead(registry: Registry): string[] {
  return [
    ...new Set(
      Object.values(registry.definition.fields).flatMap((f) => {
        const list = f.latest ?? f.earliest ?? f.count ?? f.exists;
        const paired = typeof f.pairByDate === 'object' ? Object.values(f.pairByDate).flat() : [];
        return [...(list === undefined ? [] : Array.isArray(list) ? list : [list]), ...paired];
      }),
    ),
  ];
}

/** Up to four codes of each cluster the registry reads, leaving out every code of a cluster in `avoid`. */
function codesAvoiding(registry: Registry, avoid: ReadonlySet<number>): string[] {
  const codes: string[] = [];
  for (const name of clustersRead(registry)) {
    const codeset = codesets.find((c: Codeset) => c.cluster === name);
    const allowed = [...(codeset?.codes.keys() ?? [])].filter((code) => !index.clustersOf(code).some((c) => avoid.has(c)));
    codes.push(...allowed.slice(0, 4));
  }
  return codes;
}

const patient = (codes: string[]) =>
  fc.record({
    // Children, the age boundaries registers use, and the old.
    age: fc.oneof(fc.integer({ min: 1, max: 100 }), fc.constantFrom(6, 16, 17, 18, 50, 75)),
    // With no code left to use (a registry that reads only the clause's clusters), patients with no records.
    events: fc.array(
      fc.record({
        code: codes.length > 0 ? fc.constantFrom(...codes) : fc.constant(''),
        day: fc.oneof(fc.integer({ min: ACHV - 5000, max: ACHV }), fc.constantFrom(ACHV, ACHV - 1, addMonths(ACHV, -12), addMonths(ACHV, -15))),
        value: fc.option(fc.oneof(fc.integer({ min: 10, max: 140 }), fc.constantFrom(27.5, 30, 58, 75)), { nil: undefined }),
      }),
      { minLength: codes.length > 0 ? 1 : 0, maxLength: codes.length > 0 ? 24 : 0 },
    ),
  });

function stateOf(p: { age: number; events: { code: string; day: number; value: number | undefined }[] }) {
  const store = new PatientStore();
  const record: PatientRecord = {
    kind: 'patient',
    nhsNumber: '9990000018',
    birthDate: formatDay(addMonths(ACHV, -12 * p.age) - 1),
    sex: 'female',
    practice: 'TEST01',
    registeredFrom: formatDay(addMonths(ACHV, -12 * p.age)),
    registeredTo: null,
    deathDate: null,
  };
  store.apply(record);
  p.events.forEach((e, n) => {
    const event: EventRecord = { kind: 'event', id: `e${n}`, nhsNumber: record.nhsNumber, code: e.code, date: formatDay(e.day) };
    if (e.value !== undefined) event.value = e.value;
    store.apply(event);
  });
  return store.get(record.nhsNumber)!;
}

/** How many generated patients with no record in `avoid` the reference puts on the register. */
async function onRegisterAvoiding(registry: Registry, avoid: ReadonlySet<number>): Promise<number> {
  const reference = new ReferenceRegistry(registry, codesets);
  const codes = codesAvoiding(registry, avoid);
  let on = 0;
  await fc.assert(
    fc.asyncProperty(patient(codes), async (p) => {
      if ((await reference.evaluate(stateOf(p), ACHV)).onRegister) on++;
    }),
    { numRuns: runs, seed: 4242 },
  );
  console.log(`register gate ${registry.definition.id} without ${names([...avoid]).join('/')}: ${runs} patients from ${codes.length} codes of the other clusters read; on the register ${on}`);
  return on;
}

const names = (clause: readonly number[]) => clause.map((c) => index.clusters[c]!);

describe.each(bundled.map((r) => [r.definition.id, r] as const))('register gate of %s', (_id, registry) => {
  const compiled = new CompiledRegistry(registry, index);

  it('has a gate: every bundled register needs a record of some cluster', () => {
    expect(compiled.gate.length).toBeGreaterThan(0);
  });

  it('is sound: json-rules-engine puts no patient without a record in a gate clause on the register', async () => {
    for (const clause of compiled.gate) {
      const on = await onRegisterAvoiding(registry, new Set(clause));
      expect({ clause: names(clause), on }).toEqual({ clause: names(clause), on: 0 });
    }
  });
});

describe('register gate', () => {
  it('the soundness check catches an unsound gate: a clause that leaves out a cluster a route reads', async () => {
    // stroke-tia's register selects a stroke or a TIA code (STRK_COD or TIA_COD): a gate of STRK_COD alone is wrong.
    const stroke = bundled.find((r) => r.definition.id === 'stroke-tia')!;
    expect(names(new CompiledRegistry(stroke, index).gate[0]!)).toEqual(['STRK_COD', 'TIA_COD']);
    expect(await onRegisterAvoiding(stroke, new Set([index.clusterNumber('STRK_COD')!]))).toBeGreaterThan(0);
  });

  const registryWith = (register: string, fields: string) =>
    parseRegistry(
      `id: gate-test
title: gate test
version: "1"
source: { document: a test of the register gate, version: "1" }
fields:
${fields}
register:
${register}
indicators: []
`,
      'gate-test.yaml',
      { codesets: index },
    );
  const noRecords = { age: 95, events: [] };

  it.each([
    [
      'an age route beside a diagnosis route',
      `  - { rule: 1, if: { fact: DMLAT_DAT, operator: notEqual, value: null }, then: select, else: next }
  - { rule: 2, if: { fact: PAT_AGE, operator: greaterThanInclusive, value: 90 }, then: select, else: reject }`,
      '  DMLAT_DAT: { latest: DM_COD }',
    ],
    ['a count that may be zero', '  - { rule: 1, if: { fact: DM_COUNT, operator: lessThan, value: 1 }, then: select, else: reject }', '  DM_COUNT: { count: DM_COD }'],
    ['a Null test passed by having no record', '  - { rule: 1, if: { fact: DMRES_DAT, operator: equal, value: null }, then: select, else: reject }', '  DMRES_DAT: { latest: DMRES_COD }'],
    ['a negated requirement', '  - { rule: 1, if: { not: { fact: DMLAT_DAT, operator: notEqual, value: null } }, then: select, else: reject }', '  DMLAT_DAT: { latest: DM_COD }'],
  ])('a registry with a route that needs no record has no gate (%s), and the reference takes that route', async (_name, register, fields) => {
    const registry = registryWith(register, fields);
    expect(new CompiledRegistry(registry, index).gate).toEqual([]);
    expect((await new ReferenceRegistry(registry, codesets).evaluate(stateOf(noRecords), ACHV)).onRegister).toBe(true);
  });

  it.each([
    ['the route needs a diagnosis', '  - { rule: 1, if: { fact: DMLAT_DAT, operator: notEqual, value: null }, then: select, else: reject }', '  DMLAT_DAT: { latest: DM_COD }', [['DM_COD']]],
    [
      'a rule passed on "next" only when false',
      `  - { rule: 1, if: { fact: DMLAT_DAT, operator: equal, value: null }, then: reject, else: next }
  - { rule: 2, if: { fact: PAT_AGE, operator: greaterThanInclusive, value: 17 }, then: select, else: reject }`,
      '  DMLAT_DAT: { latest: DM_COD }',
      [['DM_COD']],
    ],
    [
      'a date compared with another field',
      '  - { rule: 1, if: { fact: PAT_AGE, operator: greaterThan, value: 1 }, then: next, else: reject }\n  - { rule: 2, if: { fact: DM_DAT, operator: after, value: DMRES_DAT }, then: select, else: reject }',
      '  DM_DAT: { latest: DM_COD }\n  DMRES_DAT: { latest: DMRES_COD }',
      [['DM_COD'], ['DMRES_COD']],
    ],
    ['a count above zero', '  - { rule: 1, if: { fact: DM_COUNT, operator: greaterThan, value: 0 }, then: select, else: reject }', '  DM_COUNT: { count: DM_COD }', [['DM_COD']]],
  ])('a registry whose every route needs a record has a gate (%s), and the reference keeps a patient with no records off', async (_name, register, fields, gate) => {
    const registry = registryWith(register, fields);
    expect(new CompiledRegistry(registry, index).gate.map(names)).toEqual(gate);
    expect((await new ReferenceRegistry(registry, codesets).evaluate(stateOf(noRecords), ACHV)).onRegister).toBe(false);
  });
});
