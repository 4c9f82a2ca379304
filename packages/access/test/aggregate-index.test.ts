/**
 * The indexed paths over the incremental engine — anonymised counts from the engine's aggregates less the refused
 * opt-out groups, gap lists read through the practice index — against two oracles, over random populations that
 * change after the access layer is built (opt-outs set and withdrawn in the records and in the opt-out register,
 * patients moving practice, leaving, arriving, results and diagnoses) and a moved achievement date:
 * - an independent count written out here: the opt-out rule, the registration test and the roll-up by hand, the
 *   statuses from @caregaps/core's batch evaluator, published without rounding or suppression;
 * - the per-patient path (every patient decided by the policies) over the batch source fed the same records, for
 *   the whole published table (suppressed), gap lists and exports, for several principals and purposes.
 */
import fc from 'fast-check';
import { PatientStore, achievementDay, preparePatient, type EventRecord, type OptOut, type OrganisationRecord } from '@caregaps/core';
import { Engine } from '@caregaps/engine';
import { describe, expect, test } from 'vitest';
import {
  BatchResultsSource,
  MemoryAuditLog,
  OptOutRegister,
  OrganisationHierarchy,
  createAccess,
  nhsDigitalSuppression,
  withAccess,
  type Principal,
  type Purpose,
  type SummaryTable,
} from '../src/index.js';
import { CODES, HOSPITAL, TODAY, diabetes, nhsNumbers, organisations, practicesOf, recordsOf, type PatientSpec } from './fixture.js';

const OPT_OUTS: OptOut[] = ['shared-record', 'secondary-use', 'national-data-opt-out', 'type-1'];
/** The opt-outs that remove a patient from secondary use (DESIGN §5), written out rather than imported. */
const REMOVES_FROM_SECONDARY_USE = new Set<OptOut>(['secondary-use', 'national-data-opt-out', 'type-1']);
const UNMAPPED_PRACTICE = 'Z99999';
const STATUSES = ['met', 'gap', 'excepted', 'not-applicable'] as const;

const spec = (practices: string[]) =>
  fc.record({
    practice: fc.constantFrom(...practices, UNMAPPED_PRACTICE),
    optOuts: fc.subarray(OPT_OUTS),
    diabetic: fc.boolean(),
    hba1c: fc.option(fc.integer({ min: 40, max: 90 }), { nil: undefined }),
    registeredTo: fc.constantFrom(null, null, null, '2024-01-01', '2025-12-01'),
  });

/** A change after the access layer is built: a patient's opt-outs, practice or registration, or a new patient. */
const change = (practices: string[]) =>
  fc.oneof(
    fc.record({ kind: fc.constant('opt-outs' as const), who: fc.nat(), optOuts: fc.subarray(OPT_OUTS) }),
    fc.record({ kind: fc.constant('move' as const), who: fc.nat(), practice: fc.constantFrom(...practices) }),
    fc.record({ kind: fc.constant('leave' as const), who: fc.nat() }),
    fc.record({ kind: fc.constant('arrive' as const), patient: spec(practices) }),
    fc.record({ kind: fc.constant('result' as const), who: fc.nat(), hba1c: fc.integer({ min: 40, max: 90 }), diagnose: fc.boolean() }),
    fc.record({ kind: fc.constant('register' as const), who: fc.nat(), type: fc.constantFrom(...OPT_OUTS), remove: fc.boolean() }),
  );

/** Counts by hand: organisation|indicator|measure → count, over the registered patients the purpose admits. */
function oracleCounts(specs: readonly PatientSpec[], store: PatientStore, register: OptOutRegister, orgs: readonly OrganisationRecord[], asOf: string, purpose: Purpose, level: 'practice' | 'pcn' | 'borough') {
  const { compiled, index } = diabetes();
  const registry = compiled[0]!;
  const day = achievementDay(asOf);
  const parent = new Map(orgs.map((o) => [o.code, o.parent]));
  const type = new Map(orgs.map((o) => [o.code, o.type]));
  const up = (practice: string): string => {
    if (level === 'practice') return practice;
    for (let code: string | null | undefined = practice; code; code = parent.get(code)) if (type.get(code) === level) return code;
    return '(unmapped)';
  };
  const cells = new Map<string, number>();
  const add = (key: string) => cells.set(key, (cells.get(key) ?? 0) + 1);
  let excluded = 0;
  for (const s of specs) {
    if (purpose === 'secondary-use' && [...(s.optOuts ?? []), ...register.held(s.nhsNumber)].some((o) => REMOVES_FROM_SECONDARY_USE.has(o))) {
      excluded++;
      continue;
    }
    const registered = '2005-01-01' <= asOf && (s.registeredTo == null || s.registeredTo > asOf);
    if (!registered) continue;
    const org = up(s.practice);
    add(`${org}||registered`);
    const outcome = registry.evaluate(preparePatient(store.get(s.nhsNumber)!, index)!, day);
    if (!outcome.onRegister) continue;
    add(`${org}||on-register`);
    registry.indicatorIds.forEach((id, i) => add(`${org}|${id}|${outcome.statuses[i]}`));
  }
  // Every organisation with a registered patient has a row for each measure, zeros included.
  for (const key of [...cells.keys()].filter((k) => k.endsWith('||registered'))) {
    const org = key.split('|')[0]!;
    for (const m of ['on-register']) if (!cells.has(`${org}||${m}`)) cells.set(`${org}||${m}`, 0);
    for (const id of registry.indicatorIds) for (const s of STATUSES) if (!cells.has(`${org}|${id}|${s}`)) cells.set(`${org}|${id}|${s}`, 0);
  }
  return { cells, excluded };
}

function tableCells(table: SummaryTable): Map<string, number> {
  return new Map(table.rows.map((r) => [`${r.organisation}|${r.indicator ?? ''}|${r.measure}`, r.count as number]));
}

const settle = (p: Promise<unknown>) => p.then((v) => JSON.stringify(v)).catch((error: { code?: string }) => error.code ?? String(error));

describe('indexed access paths over the engine', () => {
  test('counts, gap lists and exports equal the hand count and the per-patient path, as records change', async () => {
    const { compiled, index } = diabetes();
    const orgs = organisations();
    // Few practices, so that practices hold several patients each (and a refused group's count is not the whole list).
    const practices = practicesOf(orgs).slice(0, 4);
    let worlds = 0;
    let compared = 0;
    let excludedSeen = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(spec(practices), { minLength: 20, maxLength: 120 }), fc.array(change(practices), { minLength: 5, maxLength: 25 }), fc.boolean(), async (initial, changes, advance) => {
        const numbers = nhsNumbers(initial.length + changes.length, 470_000_000);
        const specs: PatientSpec[] = initial.map((s, i) => ({ ...s, nhsNumber: numbers[i]! }));
        const engine = new Engine({ compiled, index, asOf: '2025-03-31', organisations: orgs });
        const store = new PatientStore();
        const write = (s: PatientSpec, all: boolean) => {
          for (const record of all ? recordsOf(s) : recordsOf(s).slice(0, 1)) {
            engine.apply(record);
            store.apply(record);
          }
        };
        for (const s of specs) write(s, true);
        const careTeams = [{ id: 'team', organisation: HOSPITAL, patients: specs.filter((_, i) => i % 4 === 0).map((s) => s.nhsNumber) }];
        // One opt-out register for every layer: opt-outs recorded apart from the patient records.
        const register = new OptOutRegister();
        const options = { careTeams, now: () => TODAY, refusalFloorMs: 0, optOutRegister: register };
        const indexed = withAccess(engine, { compiled, index, audit: new MemoryAuditLog(), ...options });
        const raw = withAccess(engine, { compiled, index, audit: new MemoryAuditLog(), suppression: nhsDigitalSuppression({ threshold: 0, base: 1, secondary: false }), ...options });
        const analyst: Principal = { user: 'an', roles: ['analyst'], organisation: 'ICB01' };
        /** Every comparison at one achievement date; returns how many tables and lists were compared. */
        async function compareAll(asOf: string): Promise<number> {
          let n = 0;
          const perPatient = createAccess({ source: new BatchResultsSource(store, compiled, index, new OrganisationHierarchy(orgs), asOf), audit: new MemoryAuditLog(), ...options });
          expect(indexed.source.index).toBeDefined(); // the layers over the engine really take the indexed path
          // Unrounded tables against the hand count: an analyst for secondary use (opt-outs honoured), a GP for direct care.
          const counted: [Principal, Purpose][] = [
            [analyst, 'secondary-use'],
            [{ user: 'gp', roles: ['clinical-practitioner'], organisation: practices[0]! }, 'direct-care'],
          ];
          for (const [principal, purpose] of counted) {
            for (const level of ['practice', 'pcn', 'borough'] as const) {
              const table = await raw.as(principal, purpose).summary({ level });
              const oracle = oracleCounts(specs, store, register, orgs, asOf, purpose, level);
              expect(tableCells(table)).toEqual(oracle.cells);
              expect(table.excludedPatients).toBe(oracle.excluded);
              excludedSeen += oracle.excluded;
              n++;
            }
          }
          const principals: [Principal, Purpose][] = [
            [{ user: 'gp', roles: ['clinical-practitioner'], organisation: practices[0]! }, 'direct-care'],
            [{ user: 'gp2', roles: ['clinical-practitioner'], organisation: UNMAPPED_PRACTICE }, 'secondary-use'],
            [{ user: 'lead', roles: ['clinical-practitioner'], organisation: 'PCN11' }, 'secondary-use'],
            [{ user: 'an', roles: ['analyst'], organisation: practices[1]! }, 'secondary-use'],
            [{ user: 'h', roles: ['clinical-practitioner'], organisation: HOSPITAL, careTeams: ['team'] }, 'direct-care'],
          ];
          for (const [principal, purpose] of principals) {
            const fast = indexed.as(principal, purpose);
            const slow = perPatient.as(principal, purpose);
            for (const level of ['practice', 'pcn', 'borough', 'icb'] as const) {
              expect(await settle(fast.summary({ level }))).toBe(await settle(slow.summary({ level })));
            }
            for (const query of [{ registry: 'diabetes' }, { registry: 'diabetes', indicator: 'DM020' }, { registry: 'diabetes', indicator: 'DM036', status: 'met' as const }]) {
              expect(await settle(fast.patients(query))).toBe(await settle(slow.patients(query)));
              expect(await settle(fast.exportGapList(query))).toBe(await settle(slow.exportGapList(query)));
            }
            n += 10;
          }
          return n;
        }
        // Read once before the changes, so that whatever the indexes keep is kept from before the changes.
        await raw.as(analyst, 'secondary-use').summary({ level: 'practice' });
        await indexed.as(analyst, 'secondary-use').summary({ level: 'practice' });
        // Changes after the layers are built: the indexes must follow them.
        let next = initial.length;
        for (const [n, c] of changes.entries()) {
          if (c.kind === 'result') {
            // Results and diagnoses change statuses without any patient record: only the engine's changes tell.
            const s = specs[c.who % specs.length]!;
            const events: EventRecord[] = [{ kind: 'event', id: `${s.practice}:${s.nhsNumber}:hba1c-${n}`, nhsNumber: s.nhsNumber, code: CODES.hba1c, date: '2025-02-01', source: s.practice, value: c.hba1c, unit: 'mmol/mol' }];
            if (c.diagnose) events.push({ kind: 'event', id: `${s.practice}:${s.nhsNumber}:dm-${n}`, nhsNumber: s.nhsNumber, code: CODES.diabetes, date: '2020-01-01', source: s.practice });
            for (const e of events) {
              engine.apply(e);
              store.apply(e);
            }
          } else if (c.kind === 'register') {
            // Recorded by the practice's privacy officer through the access layer (refused when not registered there, or already held).
            const s = specs[c.who % specs.length]!;
            const officer = indexed.as({ user: 'po', roles: ['privacy-officer'], organisation: s.practice }, 'direct-care').optOuts;
            await (c.remove ? officer.remove({ nhsNumber: s.nhsNumber, type: c.type }) : officer.add({ nhsNumber: s.nhsNumber, type: c.type })).catch(() => undefined);
          } else if (c.kind === 'arrive') {
            const s = { ...c.patient, nhsNumber: numbers[next++]! };
            specs.push(s);
            write(s, true);
          } else {
            const s = specs[c.who % specs.length]!;
            if (c.kind === 'opt-outs') s.optOuts = c.optOuts;
            if (c.kind === 'move') s.practice = c.practice;
            if (c.kind === 'leave') s.registeredTo = '2024-06-01';
            write(s, false);
          }
          // Read after every change: whatever the indexes keep must already follow it.
          const table = await raw.as(analyst, 'secondary-use').summary({ level: 'practice' });
          expect(tableCells(table)).toEqual(oracleCounts(specs, store, register, orgs, '2025-03-31', 'secondary-use', 'practice').cells);
          const gp = { user: 'gp', roles: ['clinical-practitioner'], organisation: practices[n % practices.length]! };
          const slow = createAccess({ source: new BatchResultsSource(store, compiled, index, new OrganisationHierarchy(orgs), '2025-03-31'), audit: new MemoryAuditLog(), ...options });
          expect(await settle(indexed.as(gp, 'direct-care').patients({ registry: 'diabetes' }))).toBe(await settle(slow.as(gp, 'direct-care').patients({ registry: 'diabetes' })));
          compared += 2;
        }
        for (const asOf of advance ? ['2025-03-31', '2026-03-31'] : ['2025-03-31']) {
          engine.advanceTo(asOf);
          compared += await compareAll(asOf);
        }
        engine.close();
        worlds++;
      }),
      { seed: 16, numRuns: 12 },
    );
    console.log(`indexed access paths: random worlds ${worlds}; tables and lists compared ${compared}; opted-out patients excluded ${excludedSeen}; differences 0`);
    expect(excludedSeen).toBeGreaterThan(0);
  }, 120_000);
});
