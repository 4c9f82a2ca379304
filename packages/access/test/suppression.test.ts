/**
 * G4 disclosure-control rule and G5 differencing: random tables over practice → PCN → borough → ICB hierarchies
 * (fast-check, fixed seed), attacked by interval propagation over every published sum; and the same over the
 * summaries the access layer publishes for generated populations.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { MemoryAuditLog, createAccess, nhsDigitalSuppression, type Published, type SuppressionInput, type SummaryRow } from '../src/index.js';
import { TODAY, organisations, population, practicesOf, sourceOf } from './fixture.js';

const BIG = 1e9;

/**
 * What a reader can work out: each published value gives an interval for the true count (0 is exact, the token
 * is "1 or more" — a reader cannot tell primary from secondary suppression —, a rounded value v is v ± base/2 and
 * above the threshold); every sum then narrows intervals until nothing changes. A suppressed cell is recovered
 * when its interval is a single value. `unsound` counts true values outside their interval (the attack's own check).
 */
function attack(input: SuppressionInput, published: Map<string, Published>, opts: { threshold: number; base: number }): { recovered: number; unsound: number } {
  const bounds = new Map<string, [number, number]>();
  const half = Math.floor(opts.base / 2);
  for (const [id, v] of published) {
    if (v === 0) bounds.set(id, [0, 0]);
    else if (typeof v === 'string') bounds.set(id, [1, BIG]);
    else bounds.set(id, [Math.max(opts.threshold + 1, v - half), v + half]);
  }
  for (let round = 0; round < 100; round++) {
    let changed = false;
    const tighten = (id: string, lo: number, hi: number) => {
      const [l, h] = bounds.get(id)!;
      const nl = Math.max(l, lo);
      const nh = Math.min(h, hi);
      if (nl !== l || nh !== h) {
        bounds.set(id, [nl, nh]);
        changed = true;
      }
    };
    for (const group of input.groups) {
      if (!bounds.has(group.parent)) continue;
      const kids = group.children.filter((c) => bounds.has(c));
      const sumLo = kids.reduce((s, c) => s + bounds.get(c)![0], 0);
      const sumHi = kids.reduce((s, c) => s + bounds.get(c)![1], 0);
      tighten(group.parent, sumLo, sumHi);
      const [pLo, pHi] = bounds.get(group.parent)!;
      for (const c of kids) {
        const [lo, hi] = bounds.get(c)!;
        tighten(c, pLo - (sumHi - hi), pHi - (sumLo - lo));
      }
    }
    if (!changed) break;
  }
  let recovered = 0;
  let unsound = 0;
  for (const [id, v] of published) {
    const [lo, hi] = bounds.get(id)!;
    const truth = input.cells.get(id)!;
    if (truth < lo || truth > hi) unsound++;
    if (typeof v === 'string' && lo === hi) recovered++;
  }
  return { recovered, unsound };
}

/** A random hierarchy (ICB → boroughs → PCNs → practices) of counts, with every parent the sum of its children. */
const hierarchy = fc
  .array(fc.array(fc.array(fc.oneof(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 60 })), { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 4 }), {
    minLength: 1,
    maxLength: 3,
  })
  .map((boroughs) => {
    const cells = new Map<string, number>();
    const groups: { parent: string; children: string[] }[] = [];
    const icbChildren: string[] = [];
    let icb = 0;
    boroughs.forEach((pcns, b) => {
      const boroughId = `b${b}`;
      const boroughChildren: string[] = [];
      let borough = 0;
      pcns.forEach((practices, p) => {
        const pcnId = `${boroughId}.p${p}`;
        const ids = practices.map((count, k) => {
          const id = `${pcnId}.g${k}`;
          cells.set(id, count);
          return id;
        });
        const pcn = practices.reduce((s, c) => s + c, 0);
        cells.set(pcnId, pcn);
        groups.push({ parent: pcnId, children: ids });
        boroughChildren.push(pcnId);
        borough += pcn;
      });
      cells.set(boroughId, borough);
      groups.push({ parent: boroughId, children: boroughChildren });
      icbChildren.push(boroughId);
      icb += borough;
    });
    cells.set('icb', icb);
    groups.push({ parent: 'icb', children: icbChildren });
    return { cells, groups } satisfies SuppressionInput;
  });

function ruleViolations(published: Map<string, Published>): number {
  let bad = 0;
  for (const v of published.values()) {
    if (typeof v === 'string') {
      if (v !== '*') bad++;
    } else if (v !== 0 && (v % 5 !== 0 || v < 8)) bad++;
  }
  return bad;
}

describe('suppression', () => {
  test("NHS Digital's method: codonPython's published vectors", () => {
    const policy = nhsDigitalSuppression({ secondary: false });
    const cells = new Map([0, 2, 5, 7, 8, 16, 57, 12, 13].map((n) => [`c${n}`, n]));
    const out = policy.publish({ cells, groups: [] });
    expect([...out.values()]).toEqual([0, '*', '*', '*', 10, 15, 55, 10, 15]);
    expect(policy.publish({ cells: new Map([['uk', 3]]), groups: [], national: new Set(['uk']) }).get('uk')).toBe(3);
  });

  test('G4/G5 on random hierarchies: no 1–7 published, and no suppressed cell recoverable by differencing', () => {
    const modes = [
      { name: 'NHS Digital (round to 5, secondary)', threshold: 7, base: 5, secondary: true },
      { name: 'suppress-only (no rounding, secondary)', threshold: 7, base: 1, secondary: true },
      { name: 'suppress-only WITHOUT secondary (control)', threshold: 7, base: 1, secondary: false },
    ];
    const figures: string[] = [];
    const recoveredBy = new Map<string, number>();
    for (const mode of modes) {
      const policy = nhsDigitalSuppression(mode);
      let tables = 0;
      let cellsPublished = 0;
      let violations = 0;
      let recovered = 0;
      let unsound = 0;
      fc.assert(
        fc.property(hierarchy, (input) => {
          const published = policy.publish(input);
          tables++;
          cellsPublished += published.size;
          if (mode.base === 5) violations += ruleViolations(published);
          for (const [id, v] of published) if (typeof v === 'number' && v >= 1 && v <= 7) violations += input.cells.get(id)! === v ? 1 : 0;
          const result = attack(input, published, mode);
          recovered += result.recovered;
          unsound += result.unsound;
        }),
        { seed: 20261121, numRuns: 400 },
      );
      recoveredBy.set(mode.name, recovered);
      figures.push(`${mode.name}: tables ${tables}, cells published ${cellsPublished}, rule violations ${violations}, cells recoverable ${recovered}, attack unsound ${unsound}`);
      expect(violations).toBe(0);
      expect(unsound).toBe(0);
    }
    console.log(`G4/G5 suppression:\n  ${figures.join('\n  ')}`);
    expect(recoveredBy.get(modes[0]!.name)).toBe(0);
    expect(recoveredBy.get(modes[1]!.name)).toBe(0);
    // The control shows the attack finds cells when secondary suppression is off.
    expect(recoveredBy.get(modes[2]!.name)).toBeGreaterThan(0);
  });

  test('G4/G5 on published summaries of generated populations: rule, rates, and differencing over every level and status', async () => {
    const orgs = organisations(4);
    const parentOf = new Map(orgs.map((o) => [o.code, o.parent ?? undefined]));
    let cells = 0;
    let smallCounts = 0;
    let badRates = 0;
    let recovered = 0;
    let unsound = 0;
    let suppressedCells = 0;
    const key = (r: SummaryRow) => `${r.level}|${r.organisation}|${r.registry}|${r.indicator ?? ''}|${r.measure}`;
    for (const seed of [11, 12, 13]) {
      const source = sourceOf(population(seed, 700, practicesOf(orgs)), orgs);
      const analyst = { user: 'an', roles: ['analyst'], organisation: 'ICB01' };
      const published = createAccess({ source, audit: new MemoryAuditLog(), now: () => TODAY }).as(analyst, 'secondary-use');
      const exact = createAccess({ source, audit: new MemoryAuditLog(), now: () => TODAY, suppression: nhsDigitalSuppression({ threshold: 0, base: 1, secondary: false }) }).as(analyst, 'secondary-use');
      const truth = new Map<string, number>();
      const shown = new Map<string, Published>();
      const groups = new Map<string, string[]>();
      const addToGroup = (parent: string, child: string) => groups.set(parent, [...(groups.get(parent) ?? []), child]);
      for (const level of ['practice', 'pcn', 'borough', 'icb'] as const) {
        for (const row of (await exact.summary({ level })).rows) truth.set(key(row), row.count as number);
        const table = await published.summary({ level });
        for (const row of table.rows) {
          cells++;
          shown.set(key(row), row.count);
          if (row.count === '*') suppressedCells++;
          if (typeof row.count === 'number' && row.count > 0 && (row.count <= 7 || row.count % 5 !== 0)) smallCounts++;
          if (row.indicator !== null) addToGroup(`${row.level}|${row.organisation}|${row.registry}||on-register`, key(row));
          const parent = parentOf.get(row.organisation);
          if (parent) addToGroup(key({ ...row, level: ({ practice: 'pcn', pcn: 'borough', borough: 'icb' } as const)[row.level as 'practice'], organisation: parent }), key(row));
          if (row.denominator === null) continue;
          const suppressed = row.count === '*' || row.denominator === '*';
          if (suppressed ? row.rate !== '*' : row.denominator === 0 ? row.rate !== null : row.rate !== Math.round((1000 * (row.count as number)) / (row.denominator as number)) / 10) badRates++;
        }
      }
      // Status rows are grouped per indicator: split the register's group by indicator.
      const sums: { parent: string; children: string[] }[] = [];
      for (const [parent, children] of groups) {
        if (parent.endsWith('||on-register')) {
          const byIndicator = new Map<string, string[]>();
          for (const c of children) byIndicator.set(c.split('|')[3]!, [...(byIndicator.get(c.split('|')[3]!) ?? []), c]);
          for (const list of byIndicator.values()) sums.push({ parent, children: list });
        } else sums.push({ parent, children });
      }
      const result = attack({ cells: truth, groups: sums }, shown, { threshold: 7, base: 5 });
      recovered += result.recovered;
      unsound += result.unsound;
    }
    console.log(
      `G4/G5 summaries: cells published ${cells} (suppressed ${suppressedCells}); sub-national counts of 1–7 or not a multiple of 5 ${smallCounts}; ` +
        `rates not from published numbers ${badRates}; suppressed cells recoverable by differencing ${recovered} (attack unsound ${unsound})`,
    );
    expect(cells).toBeGreaterThan(500);
    expect(suppressedCells).toBeGreaterThan(0);
    expect(smallCounts).toBe(0);
    expect(badRates).toBe(0);
    expect(unsound).toBe(0);
    expect(recovered).toBe(0);
  });
});
