/**
 * E2 leak tests, E4 forbidden vs non-existent, G1 opt-outs and G2 shared-record opt-out, over generated
 * populations: every output of every principal (summaries, gap lists, CSV exports, record views, error messages)
 * is scanned for NHS numbers the principal is not entitled to, and record items are checked against an oracle.
 */
import { Engine } from '@caregaps/engine';
import { describe, expect, test } from 'vitest';
import {
  AgreementRegistry,
  MemoryAuditLog,
  createAccess,
  nhsDigitalSuppression,
  withAccess,
  type AccessLayer,
  type Principal,
  type Purpose,
} from '../src/index.js';
import { AS_OF, HOSPITAL, TODAY, diabetes, nhsNumbers, organisations, population, practicesOf, random, recordsOf, sourceOf, type PatientSpec } from './fixture.js';

const SECONDARY = ['secondary-use', 'national-data-opt-out', 'type-1'];
const SHARED_PRACTICE = 'P00001';
const TEAM = 'outreach';
const NHS = /(?<!\d)\d{10}(?!\d)/g;

interface World {
  specs: PatientSpec[];
  layer: (suppression?: ReturnType<typeof nhsDigitalSuppression>) => AccessLayer;
  team: Set<string>;
  practices: string[];
}

/** Where the answers come from: the batch evaluator (every patient decided), or the engine with its population index. */
type Over = 'batch' | 'engine';

function world(seed: number, size: number, over: Over = 'batch'): World {
  const orgs = organisations();
  const practices = practicesOf(orgs);
  const specs = population(seed, size, practices);
  const rnd = random(seed + 99);
  const team = new Set(specs.filter(() => rnd() < 0.15).map((s) => s.nhsNumber));
  const source = sourceOf(specs, orgs);
  let engine: Engine | undefined;
  if (over === 'engine') {
    const { compiled, index } = diabetes();
    engine = new Engine({ compiled, index, asOf: AS_OF, organisations: orgs });
    for (const spec of specs) for (const record of recordsOf(spec)) engine.apply(record);
  }
  const agreements = new AgreementRegistry();
  const a = agreements.create({
    title: 'Shared diabetes care',
    parties: [SHARED_PRACTICE, HOSPITAL],
    dataCategories: ['problems', 'results', 'registry-statuses'],
    purposes: ['direct-care'],
    start: '2024-01-01',
    end: null,
  });
  agreements.sign(a.id, SHARED_PRACTICE, 'x');
  agreements.sign(a.id, HOSPITAL, 'y');
  return {
    specs,
    team,
    practices,
    layer: (suppression) => {
      const options = {
        refusalFloorMs: 0, // thousands of refusals here; refusal timing is E4's own test (side-channel.test.ts)
        audit: new MemoryAuditLog(),
        agreements,
        careTeams: [{ id: TEAM, organisation: HOSPITAL, patients: [...team] }],
        now: () => TODAY,
        ...(suppression ? { suppression } : {}),
      };
      if (!engine) return createAccess({ source, ...options });
      const layer = withAccess(engine, { ...diabetes(), ...options });
      if (!layer.source.index) throw new Error('the engine layer has no population index');
      return layer;
    },
  };
}

const registeredToday = (s: PatientSpec) => !s.registeredTo || s.registeredTo > '2025-04-15';
const optedOut = (s: PatientSpec, purpose: Purpose) => purpose === 'secondary-use' && (s.optOuts ?? []).some((o) => SECONDARY.includes(o));

/** Oracle: may this principal see this patient's identifiable data (record view, or a list row)? */
function entitled(w: World, p: Principal, purpose: Purpose, s: PatientSpec, list: boolean): boolean {
  if (optedOut(s, purpose)) return false;
  // The analyst role may see lists (secondary use) but no record view.
  if (!list && p.roles.includes('analyst')) return false;
  if (s.practice === p.organisation && registeredToday(s)) return true;
  const inTeam = p.organisation === HOSPITAL && (p.careTeams ?? []).includes(TEAM) && w.team.has(s.nhsNumber);
  if (!inTeam) return false;
  // Lists show the practice's registry statuses: shared only by the agreement with SHARED_PRACTICE, for direct care.
  return !list || (s.practice === SHARED_PRACTICE && purpose === 'direct-care');
}

/** Oracle: may this item (by source and category) of an entitled patient's record be shown? */
function itemVisible(p: Principal, purpose: Purpose, s: PatientSpec, itemSource: string, category: string): boolean {
  if (itemSource === p.organisation) return true;
  if ((s.optOuts ?? []).includes('shared-record') && p.organisation !== s.practice) return false;
  const pair = [SHARED_PRACTICE, HOSPITAL];
  return purpose === 'direct-care' && pair.includes(itemSource) && pair.includes(p.organisation) && ['problems', 'results', 'registry-statuses'].includes(category);
}

function principals(w: World): [Principal, Purpose][] {
  const out: [Principal, Purpose][] = [];
  for (const practice of w.practices.slice(0, 4)) {
    out.push([{ user: `gp-${practice}`, roles: ['clinical-practitioner'], organisation: practice }, 'direct-care']);
    out.push([{ user: `an-${practice}`, roles: ['analyst'], organisation: practice }, 'secondary-use']);
  }
  out.push([{ user: 'hosp-team', roles: ['clinical-practitioner'], organisation: HOSPITAL, careTeams: [TEAM] }, 'direct-care']);
  out.push([{ user: 'hosp-other', roles: ['clinical-practitioner'], organisation: HOSPITAL }, 'direct-care']);
  out.push([{ user: 'icb-analyst', roles: ['analyst'], organisation: 'ICB01' }, 'secondary-use']);
  return out;
}

async function capture(run: () => Promise<unknown>): Promise<{ ok: boolean; text: string; code?: string }> {
  try {
    return { ok: true, text: JSON.stringify(await run()) };
  } catch (error) {
    const e = error as { code?: string; message: string };
    return { ok: false, text: `${e.code} ${e.message}`, ...(e.code ? { code: e.code } : {}) };
  }
}

describe.each(['batch', 'engine'] as const)('leak tests over generated populations, answers from the %s', (over) => {
  test('E2/G1/G2: 0 identifiers of unrelated or opted-out patients in any output; items match the oracle', async () => {
    let queries = 0;
    let leaked = 0;
    let itemLeaks = 0;
    let overBlocksDirectCare = 0;
    let itemsChecked = 0;
    let countLeaks = 0;
    let probes = 0;
    let recordOverBlocks = 0;
    let distinguishable = 0;
    let explanationsScanned = 0;
    let explanationLeaks = 0;
    let reportEntries = 0;
    let reportLeaks = 0;
    for (const seed of [1, 2, 3]) {
      const w = world(seed, 400, over);
      const layer = w.layer();
      const bySpec = new Map(w.specs.map((s) => [s.nhsNumber, s]));
      const nonExistent = nhsNumbers(20, 900_000_000);
      for (const [principal, purpose] of principals(w)) {
        const view = layer.as(principal, purpose);
        const outputs: { text: string; list: boolean }[] = [];
        for (const level of ['practice', 'pcn', 'borough'] as const) {
          const r = await capture(() => view.summary({ level }));
          outputs.push({ text: r.text, list: false });
          // Anonymised output holds no NHS number at all.
          if ((r.text.match(NHS) ?? []).length) countLeaks++;
        }
        for (const status of ['gap', 'met'] as const) {
          outputs.push({ text: (await capture(() => view.patients({ registry: 'diabetes', status }))).text, list: true });
          outputs.push({ text: (await capture(() => view.exportGapList({ registry: 'diabetes', indicator: 'DM020', status }))).text, list: true });
        }
        for (const spec of w.specs) {
          const r = await capture(() => view.patient(spec.nhsNumber));
          outputs.push({ text: r.text, list: false });
          const want = entitled(w, principal, purpose, spec, false);
          if (r.ok && !want) leaked++;
          if (!r.ok && want) recordOverBlocks++;
          if (r.ok) {
            const record = JSON.parse(r.text) as { categories: Record<string, { source: string }[]>; registries: unknown };
            for (const [category, items] of Object.entries(record.categories)) {
              for (const item of items) {
                itemsChecked++;
                if (!itemVisible(principal, purpose, spec, item.source, category)) itemLeaks++;
              }
            }
            // Explanations pass the same filter: no id or date of a record the view hid appears in them.
            if (record.registries !== null) {
              const shownIds = new Set(Object.values(record.categories).flat().map((item) => (item as unknown as { id: string }).id));
              const explanations = JSON.stringify(record.registries);
              explanationsScanned++;
              for (const hidden of recordsOf(spec)) {
                if (hidden.kind !== 'event' || shownIds.has(hidden.id)) continue;
                if (explanations.includes(hidden.id) || explanations.includes(hidden.date)) explanationLeaks++;
              }
            }
            const statusesWanted = itemVisible(principal, purpose, spec, spec.practice, 'registry-statuses');
            if ((record.registries !== null) !== statusesWanted) {
              if (record.registries !== null) itemLeaks++;
              else if (purpose === 'direct-care') overBlocksDirectCare++;
            }
            // Direct care by the registered practice is never limited by any opt-out.
            if (purpose === 'direct-care' && principal.organisation === spec.practice) {
              const shown = Object.values(record.categories).flat().length;
              const expectedItems = (spec.diabetic ? 1 : 0) + (spec.hba1c !== undefined && (spec.hba1cSource ?? spec.practice) === spec.practice ? 1 : 0);
              if (shown < expectedItems) overBlocksDirectCare++;
            }
          }
        }
        // E4: a forbidden patient and a non-existent NHS number give the same answer (decision ids aside).
        const forbidden = w.specs.find((s) => !entitled(w, principal, purpose, s, false));
        for (const missing of nonExistent.slice(0, 5)) {
          if (!forbidden) break;
          const a = await capture(() => view.patient(forbidden.nhsNumber));
          const b = await capture(() => view.patient(missing));
          const strip = (t: string) => t.replace(/decision [0-9a-f-]+/g, 'decision ID');
          probes++;
          if (a.ok || b.ok || a.code !== b.code || strip(a.text) !== strip(b.text)) distinguishable++;
          outputs.push({ text: a.text, list: false }, { text: b.text, list: false });
        }
        // Access reports (DESIGN §5): a data controller's names only its own patients; a patient's names only them.
        for (const output of outputs) {
          queries++;
          for (const nhs of output.text.match(NHS) ?? []) {
            const spec = bySpec.get(nhs);
            if (!spec) {
              if (nonExistent.includes(nhs)) leaked++;
              continue;
            }
            if (!entitled(w, principal, purpose, spec, output.list)) leaked++;
          }
        }
      }
      // Reports last, over everything the principals above did in this world's audit log.
      for (const practice of w.practices.slice(0, 4)) {
        const officer = layer.as({ user: `po-${practice}`, roles: ['privacy-officer'], organisation: practice }, 'direct-care');
        const own = w.specs.filter((s) => s.practice === practice && registeredToday(s)).slice(0, 5);
        const reports: [string[], unknown[]][] = [[w.specs.filter((s) => s.practice === practice).map((s) => s.nhsNumber), await officer.auditReport({ organisation: practice })]];
        for (const s of own) reports.push([[s.nhsNumber], await officer.auditReport({ patient: s.nhsNumber })]);
        for (const [allowed, entries] of reports) {
          for (const entry of entries) {
            reportEntries++;
            // The decision id is a random UUID whose hex digits can look like an NHS number: scan the rest.
            const { id: _decision, ...content } = entry as { id: string };
            for (const nhs of JSON.stringify(content).match(NHS) ?? []) if (!allowed.includes(nhs)) reportLeaks++;
          }
        }
      }
    }
    console.log(
      `E2 leak: queries ${queries}; leaked NHS numbers ${leaked}; NHS numbers in anonymised outputs ${countLeaks}; ` +
        `G2 items checked ${itemsChecked}, item leaks ${itemLeaks}; G1 over-blocks in direct care ${overBlocksDirectCare}; ` +
        `E4 probes ${probes}, distinguishable ${distinguishable}; entitled record views refused ${recordOverBlocks}; ` +
        `explanations scanned ${explanationsScanned}, hidden record ids or dates in them ${explanationLeaks}; audit report entries ${reportEntries}, other patients' NHS numbers in them ${reportLeaks}`,
    );
    expect(queries).toBeGreaterThan(1000);
    expect(itemsChecked).toBeGreaterThan(100);
    expect(leaked).toBe(0);
    expect(countLeaks).toBe(0);
    expect(itemLeaks).toBe(0);
    expect(overBlocksDirectCare).toBe(0);
    expect(probes).toBeGreaterThan(0);
    expect(distinguishable).toBe(0);
    expect(recordOverBlocks).toBe(0);
    expect(explanationsScanned).toBeGreaterThan(100);
    expect(explanationLeaks).toBe(0);
    expect(reportEntries).toBeGreaterThan(100);
    expect(reportLeaks).toBe(0);
  });

  test('G1 aggregates: secondary-use totals exclude opted-out patients, direct-care totals do not', async () => {
    const w = world(7, 500, over);
    // No rounding or suppression, so the totals can be compared exactly with the oracle.
    const layer = w.layer(nhsDigitalSuppression({ threshold: 0, base: 1, secondary: false }));
    let mismatches = 0;
    let cells = 0;
    for (const purpose of ['secondary-use', 'direct-care'] as const) {
      const table = await layer.as({ user: 'cg', roles: ['clinical-practitioner', 'analyst'], organisation: 'ICB01' }, purpose).summary({ level: 'practice' });
      for (const row of table.rows.filter((r) => r.measure === 'registered')) {
        cells++;
        const want = w.specs.filter((s) => s.practice === row.organisation && registeredToday(s) && !optedOut(s, purpose)).length;
        if (row.count !== want) mismatches++;
      }
      const excluded = w.specs.filter((s) => optedOut(s, purpose)).length;
      expect(table.excludedPatients).toBe(excluded);
    }
    console.log(`G1 aggregates: cells ${cells}; totals that include a hidden patient or miss a visible one ${mismatches}`);
    expect(cells).toBeGreaterThan(0);
    expect(mismatches).toBe(0);
    expect(AS_OF).toBe('2025-03-31');
  });
});
