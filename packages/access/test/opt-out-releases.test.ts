/**
 * G3 opt-out timeliness and G6 opt-outs through aggregates, over the incremental engine.
 * - G3: an opt-out (a patient record carrying it) or the withdrawal of a sharing agreement is enforced from the
 *   next access on: the time from the change to the first answer that enforces it, and answers that did not.
 * - G6: one patient's opt-out toggled between two consecutive anonymised releases: no published cell may move by
 *   anything but the rounding base (which the NHS Digital method publishes anyway); a control without rounding
 *   shows the diff does expose the patient.
 */
import { Engine } from '@caregaps/engine';
import { describe, expect, test } from 'vitest';
import { AgreementRegistry, MemoryAuditLog, nhsDigitalSuppression, withAccess, type AccessLayer, type SummaryTable } from '../src/index.js';
import { AS_OF, HOSPITAL, TODAY, diabetes, organisations, population, practicesOf, random, recordsOf, type PatientSpec } from './fixture.js';

/** The enforcement SLO (ms) from a change to the first access that honours it. */
const SLO_MS = 1000;

function world(seed: number, size: number, suppression?: ReturnType<typeof nhsDigitalSuppression>) {
  const { compiled, index } = diabetes();
  const orgs = organisations();
  const specs = population(seed, size, practicesOf(orgs)).map((s) => ({ ...s, optOuts: [], registeredTo: null }) as PatientSpec);
  const engine = new Engine({ compiled, index, asOf: AS_OF, organisations: orgs });
  for (const spec of specs) for (const record of recordsOf(spec)) engine.apply(record);
  const agreements = new AgreementRegistry();
  const audit = new MemoryAuditLog();
  const layer: AccessLayer = withAccess(engine, {
    compiled,
    index,
    audit,
    agreements,
    careTeams: [{ id: 'outreach', organisation: HOSPITAL, patients: specs.map((s) => s.nhsNumber) }],
    now: () => TODAY,
    ...(suppression ? { suppression } : {}),
  });
  const setOptOut = (spec: PatientSpec, optOuts: PatientSpec['optOuts']) => {
    const patient = recordsOf({ ...spec, optOuts: optOuts ?? [] })[0]!;
    engine.apply(patient);
  };
  return { engine, specs, layer, agreements, audit, setOptOut };
}

const quantile = (values: number[], q: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(q * values.length))]!;

describe('G3 opt-out timeliness', () => {
  test('an opt-out or a withdrawn agreement is enforced by the next access', async () => {
    const w = world(31, 300);
    const rnd = random(31);
    const latencies: number[] = [];
    let stale = 0;
    let changes = 0;
    const onList = w.specs.filter((s) => s.diabetic);
    for (let i = 0; i < 40; i++) {
      const spec = onList[Math.floor(rnd() * onList.length)]!;
      const analyst = w.layer.as({ user: 'an', roles: ['analyst'], organisation: spec.practice }, 'secondary-use');
      const kind = (['national-data-opt-out', 'type-1', 'secondary-use'] as const)[i % 3]!;
      const started = performance.now();
      w.setOptOut(spec, [kind]);
      const list = await analyst.patients({ registry: 'diabetes', status: 'met' }).then(async (met) => [...met, ...(await analyst.patients({ registry: 'diabetes', status: 'gap' }))]);
      latencies.push(performance.now() - started);
      changes++;
      if (list.some((r) => r.nhsNumber === spec.nhsNumber)) stale++;
      w.setOptOut(spec, []); // withdrawn again: visible again from the next access
      const again = await analyst.patients({ registry: 'diabetes', status: 'met' }).then(async (met) => [...met, ...(await analyst.patients({ registry: 'diabetes', status: 'gap' }))]);
      changes++;
      if (!again.some((r) => r.nhsNumber === spec.nhsNumber) && spec.registeredTo === null) stale++;
    }
    // Permission change: a practice withdraws its agreement with the hospital; the hospital's next view hides its records.
    const doctor = w.layer.as({ user: 'dr', roles: ['clinical-practitioner'], organisation: HOSPITAL, careTeams: ['outreach'] }, 'direct-care');
    for (let i = 0; i < 20; i++) {
      const spec = onList[i]!;
      const isa = w.agreements.create({ title: 'Outreach', parties: [spec.practice, HOSPITAL], dataCategories: ['problems', 'results', 'registry-statuses'], purposes: ['direct-care'], start: '2024-01-01', end: null });
      w.agreements.sign(isa.id, spec.practice, 'a');
      w.agreements.sign(isa.id, HOSPITAL, 'b');
      const before = await doctor.patient(spec.nhsNumber);
      expect(before.categories.problems.length).toBeGreaterThan(0);
      const started = performance.now();
      w.agreements.withdraw(isa.id, spec.practice);
      const after = await doctor.patient(spec.nhsNumber);
      latencies.push(performance.now() - started);
      changes++;
      if (Object.values(after.categories).flat().some((e) => e.source === spec.practice) || after.registries !== null) stale++;
    }
    const p50 = quantile(latencies, 0.5);
    const p99 = quantile(latencies, 0.99);
    console.log(`G3 timeliness: changes ${changes}; answers after a change that did not enforce it ${stale}; time to enforce p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms (SLO ${SLO_MS} ms)`);
    expect(stale).toBe(0);
    expect(p99).toBeLessThan(SLO_MS);
  });
});

/** Every published cell of a release, keyed by level, organisation, registry, indicator and measure. */
async function release(layer: AccessLayer): Promise<Map<string, string | number>> {
  const cells = new Map<string, string | number>();
  const view = layer.as({ user: 'publisher', roles: ['analyst'], organisation: 'ICB01' }, 'secondary-use');
  for (const level of ['practice', 'pcn', 'borough'] as const) {
    const table: SummaryTable = await view.summary({ level });
    for (const r of table.rows) cells.set(`${r.level}|${r.organisation}|${r.registry}|${r.indicator}|${r.measure}`, r.count);
    cells.set(`${level}|excluded`, table.excludedPatients);
  }
  return cells;
}

/** Cells whose change says more than the rounding base: a step other than 0 or ±base between published numbers. */
function identifyingDiffs(a: Map<string, string | number>, b: Map<string, string | number>, base: number): { changed: number; identifying: number } {
  let changed = 0;
  let identifying = 0;
  for (const [key, before] of a) {
    const after = b.get(key);
    if (after === before) continue;
    changed++;
    if (typeof before === 'number' && typeof after === 'number' && Math.abs(after - before) === base) continue;
    // A suppressed cell becoming published (or back) moves between "1–7" and a rounded number: no finer than the base.
    if ((before === '*' && (after === 0 || after === base * 2)) || (after === '*' && (before === 0 || before === base * 2))) continue;
    identifying++;
  }
  return { changed, identifying };
}

describe('G6 opt-outs through aggregates', () => {
  test("toggling one patient's opt-out between consecutive releases moves no cell by more than the rounding base", async () => {
    const run = async (suppression: ReturnType<typeof nhsDigitalSuppression>, base: number) => {
      const w = world(61, 400, suppression);
      const rnd = random(61);
      let pairs = 0;
      let changed = 0;
      let identifying = 0;
      let released = 0;
      for (let i = 0; i < 25; i++) {
        const spec = w.specs[Math.floor(rnd() * w.specs.length)]!;
        const before = await release(w.layer);
        w.setOptOut(spec, ['national-data-opt-out']);
        const after = await release(w.layer);
        w.setOptOut(spec, []);
        released += 2;
        pairs++;
        const d = identifyingDiffs(before, after, base);
        changed += d.changed;
        identifying += d.identifying;
      }
      const audited = w.audit.entries().filter((e) => e.activity === 'view-aggregate').length;
      return { pairs, changed, identifying, released, audited };
    };
    const published = await run(nhsDigitalSuppression(), 5);
    // Control: no rounding and no suppression, so there is no noise to hide in and every change identifies.
    const control = await run(nhsDigitalSuppression({ threshold: 0, base: 1, secondary: false }), 0);
    console.log(
      `G6 opt-out through aggregates: release pairs ${published.pairs}; cells changed ${published.changed}; identifying diffs ${published.identifying}; ` +
        `releases audited ${published.audited} of ${published.released * 3} summaries; control without rounding: identifying diffs ${control.identifying}`,
    );
    expect(published.pairs).toBe(25);
    expect(published.identifying).toBe(0);
    expect(published.audited).toBe(published.released * 3);
    expect(control.identifying).toBeGreaterThan(0);
  });
});
