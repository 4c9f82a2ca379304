import { fileURLToPath } from 'node:url';
import {
  PatientStore,
  achievementDay,
  evaluatePopulation,
  formatDay,
  parseDay,
  preparedPatients,
  withCheckDigit,
  type CaregapsRecord,
  type CodesetIndex,
  type CompiledRegistry,
  type OrganisationRecord,
  type PatientResult,
} from '@caregaps/core';
import fc from 'fast-check';
import type { Engine, RegistryCounts } from '../src/index.js';

export const FIXTURE_REGISTRIES = fileURLToPath(new URL('./fixtures/registries', import.meta.url));
export const CODESETS = fileURLToPath(new URL('../../../codesets', import.meta.url));
export const REAL_REGISTRIES = fileURLToPath(new URL('../../../registries', import.meta.url));

/** Practice → PCN → borough → ICB, plus a practice (P9) that only patients name. */
export const ORGANISATIONS: OrganisationRecord[] = [
  { kind: 'organisation', code: 'ICB1', name: 'ICB', type: 'icb', parent: null },
  { kind: 'organisation', code: 'B1', name: 'Borough', type: 'borough', parent: 'ICB1' },
  { kind: 'organisation', code: 'PCN1', name: 'PCN one', type: 'pcn', parent: 'B1' },
  { kind: 'organisation', code: 'PCN2', name: 'PCN two', type: 'pcn', parent: 'B1' },
  { kind: 'organisation', code: 'P1', name: 'Practice one', type: 'practice', parent: 'PCN1' },
  { kind: 'organisation', code: 'P2', name: 'Practice two', type: 'practice', parent: 'PCN1' },
  { kind: 'organisation', code: 'P3', name: 'Practice three', type: 'practice', parent: 'PCN2' },
];
const PRACTICES = ['P1', 'P2', 'P3', 'P9'];

export const NHS_NUMBERS = [900000001, 900000002, 900000003, 900000004, 900000005]
  .map(withCheckDigit)
  .filter((n): n is string => n !== undefined)
  .slice(0, 4);

/** The first codes of each cluster the registries read, and one code of a cluster none of them reads. */
export function codesFor(index: CodesetIndex, registries: readonly CompiledRegistry[], perCluster = 2): string[] {
  const read = new Set(registries.flatMap((r) => [...r.clusters]));
  const codes: string[] = [];
  for (const c of read) codes.push(...[...index.codeset(index.clusters[c]!)!.codes.keys()].slice(0, perCluster));
  const unread = index.clusters.findIndex((name, n) => !read.has(n) && index.codeset(name)!.codes.size > 0);
  if (unread >= 0) codes.push([...index.codeset(index.clusters[unread]!)!.codes.keys()][0]!);
  return [...new Set(codes)];
}

const day = (text: string) => parseDay(text)!;
const dateIn = (from: string, to: string) => fc.integer({ min: day(from), max: day(to) }).map(formatDay);

export type Step = { record: CaregapsRecord } | { advance: number };

/** Records of realistic trouble: repeats, corrections, retractions, moves, deaths, events before their patient. */
export function stepArbitrary(codes: string[]): fc.Arbitrary<Step> {
  const nhs = fc.constantFrom(...NHS_NUMBERS);
  const eventId = fc.integer({ min: 1, max: 40 }).map((n) => `e${n}`);
  const patient = fc
    .record({
      nhsNumber: nhs,
      birthDate: fc.oneof(dateIn('1944-01-01', '1946-12-31'), dateIn('1983-06-01', '1986-06-01'), dateIn('2007-01-01', '2009-12-31')),
      practice: fc.constantFrom(...PRACTICES),
      registeredFrom: fc.oneof(fc.constant('2010-01-01'), dateIn('2024-01-01', '2026-01-01')),
      registeredTo: fc.option(dateIn('2026-01-02', '2027-06-30'), { nil: null }),
      deathDate: fc.option(dateIn('2024-06-01', '2027-06-30'), { freq: 4, nil: null }),
      version: fc.option(fc.integer({ min: 1, max: 4 }), { freq: 2, nil: undefined }),
    })
    .map(({ version, ...p }): CaregapsRecord => ({ kind: 'patient', sex: 'female', optOuts: [], ...p, ...(version !== undefined ? { version } : {}) }));
  const event = fc
    .record({
      id: eventId,
      nhsNumber: nhs,
      code: fc.constantFrom(...codes),
      date: dateIn('2022-06-01', '2026-12-31'),
      value: fc.option(fc.integer({ min: 30, max: 90 }), { nil: undefined }),
      components: fc.option(fc.record({ systolic: fc.integer({ min: 100, max: 170 }), diastolic: fc.integer({ min: 60, max: 100 }) }), { freq: 3, nil: undefined }),
      source: fc.option(fc.constantFrom('S1', 'S2'), { freq: 2, nil: undefined }),
      version: fc.option(fc.integer({ min: 1, max: 4 }), { freq: 2, nil: undefined }),
      correctsNhsNumber: fc.option(nhs, { freq: 4, nil: undefined }),
    })
    .map(({ value, components, source, version, correctsNhsNumber, ...e }): CaregapsRecord => ({
      kind: 'event',
      ...e,
      ...(value !== undefined ? { value } : {}),
      ...(components !== undefined ? { values: components } : {}),
      ...(source !== undefined ? { source } : {}),
      ...(version !== undefined ? { version } : {}),
      ...(correctsNhsNumber !== undefined ? { correctsNhsNumber } : {}),
    }));
  const retract = fc
    .record({ id: eventId, nhsNumber: nhs, source: fc.option(fc.constantFrom('S1', 'S2'), { freq: 2, nil: undefined }) })
    .map(({ source, ...r }): CaregapsRecord => ({ kind: 'retract', ...r, ...(source !== undefined ? { source } : {}) }));
  const move = fc
    .record({ code: fc.constantFrom('P3', 'P9'), parent: fc.constantFrom('PCN1', 'PCN2') })
    .map((o): CaregapsRecord => ({ kind: 'organisation', name: o.code, type: 'practice', ...o }));
  const advance = fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: 0, max: 400 }).map((d) => ({ advance: d })) },
    { weight: 1, arbitrary: fc.integer({ min: -500, max: -1 }).map((d) => ({ advance: d })) },
  );
  return fc.oneof(
    { weight: 3, arbitrary: patient.map((record) => ({ record })) },
    { weight: 6, arbitrary: event.map((record) => ({ record })) },
    { weight: 1, arbitrary: retract.map((record) => ({ record })) },
    { weight: 1, arbitrary: move.map((record) => ({ record })) },
    { weight: 2, arbitrary: advance },
  );
}

/** The batch answer: a fresh store holding the same records, evaluated from scratch. */
export function batchResults(records: readonly CaregapsRecord[], index: CodesetIndex, compiled: readonly CompiledRegistry[], asOf: string): PatientResult[] {
  const store = new PatientStore();
  for (const r of records) store.apply(r);
  return [...evaluatePopulation(preparedPatients(store, index), compiled, asOf)];
}

type Counts = Pick<RegistryCounts, 'registered' | 'register'> & { indicators: Record<string, Record<string, number>> };

/** The counts per organisation a batch evaluation gives, summed up the hierarchy the organisation records describe. */
export function batchCounts(
  records: readonly CaregapsRecord[],
  index: CodesetIndex,
  compiled: readonly CompiledRegistry[],
  asOf: string,
): Map<string, Map<string, Counts>> {
  const parent = new Map<string, string | undefined>();
  const store = new PatientStore();
  for (const r of [...ORGANISATIONS, ...records]) {
    if (r.kind === 'organisation') parent.set(r.code, r.parent ?? undefined);
    else store.apply(r);
  }
  const asOfDay = achievementDay(asOf);
  const out = new Map<string, Map<string, Counts>>();
  const at = (org: string, registry: CompiledRegistry): Counts => {
    let byRegistry = out.get(org);
    if (!byRegistry) out.set(org, (byRegistry = new Map()));
    let c = byRegistry.get(registry.id);
    if (!c) {
      c = { registered: 0, register: 0, indicators: Object.fromEntries(registry.indicatorIds.map((id) => [id, { met: 0, gap: 0, excepted: 0, 'not-applicable': 0 }])) };
      byRegistry.set(registry.id, c);
    }
    return c;
  };
  const chain = (practice: string): string[] => {
    const list: string[] = [];
    for (let o: string | undefined = practice; o !== undefined; o = parent.get(o)) list.push(o);
    return list;
  };
  for (const p of preparedPatients(store, index)) {
    for (const registry of compiled) {
      for (const org of chain(p.practice)) {
        const c = at(org, registry);
        if (p.registeredFrom <= asOfDay && p.registrationEnd > asOfDay) c.registered++;
      }
      const result = [...evaluatePopulation([p], [registry], asOf)][0];
      if (!result) continue;
      for (const org of chain(p.practice)) {
        const c = at(org, registry);
        c.register++;
        for (const [id, status] of Object.entries(result.indicators)) c.indicators[id]![status]!++;
      }
    }
  }
  for (const [org, byRegistry] of out) {
    if ([...byRegistry.values()].every((c) => c.registered === 0 && c.register === 0)) out.delete(org);
  }
  return out;
}

/** The engine's counts in the same shape, for every organisation it knows. */
export function engineCounts(engine: Engine, compiled: readonly CompiledRegistry[]): Map<string, Map<string, Counts>> {
  const out = new Map<string, Map<string, Counts>>();
  for (const org of engine.organisations()) {
    const byRegistry = new Map<string, Counts>();
    for (const registry of compiled) {
      const c = engine.counts(registry.id, org.code)!;
      byRegistry.set(registry.id, {
        registered: c.registered,
        register: c.register,
        indicators: Object.fromEntries(
          Object.entries(c.indicators).map(([id, x]) => [id, { met: x.met, gap: x.gap, excepted: x.excepted, 'not-applicable': x['not-applicable'] }]),
        ),
      });
    }
    // An organisation with nothing under it has all-zero counts; the batch fold never visits it.
    const empty = [...byRegistry.values()].every((c) => c.registered === 0 && c.register === 0);
    if (!empty) out.set(org.code, byRegistry);
  }
  return out;
}
