/**
 * The query API beyond the matrix: sharing agreements through their lifecycle, the record view's categories and
 * sources, the organisation hierarchy, and H1 CSV export safety.
 */
import type { OrganisationRecord } from '@caregaps/core';
import { describe, expect, test } from 'vitest';
import { parse } from 'csv-parse/sync';
import {
  AgreementRegistry,
  MemoryAuditLog,
  OrganisationHierarchy,
  UNMAPPED,
  categoryOf,
  createAccess,
  neutralise,
  toCsv,
  DEFAULT_CATEGORIES,
  type AgreementTerms,
} from '../src/index.js';
import { HOSPITAL, TODAY, nhsNumbers, organisations, sourceOf } from './fixture.js';

const [A, B] = nhsNumbers(2);
const PRACTICE = 'P00001';
const practiceGp = { user: 'gp', roles: ['clinical-practitioner'], organisation: PRACTICE };
const practiceCg = { user: 'cg-p', roles: ['caldicott-guardian'], organisation: PRACTICE };
const hospitalCg = { user: 'cg-h', roles: ['caldicott-guardian'], organisation: HOSPITAL };
const hospitalDoctor = { user: 'dr-h', roles: ['clinical-practitioner'], organisation: HOSPITAL, careTeams: ['t'] };
const terms: AgreementTerms = {
  title: 'Results sharing',
  parties: [PRACTICE, HOSPITAL],
  dataCategories: ['results'],
  purposes: ['direct-care'],
  start: '2025-01-01',
  end: '2026-01-01',
};

function layer() {
  const source = sourceOf(
    [
      { nhsNumber: A!, practice: PRACTICE, diabetic: true, hba1c: 80, hba1cSource: HOSPITAL, hospitalCholesterol: true },
      { nhsNumber: B!, practice: PRACTICE, diabetic: true, hba1c: 50, optOuts: ['shared-record'], hospitalCholesterol: true },
    ],
    organisations(),
  );
  return createAccess({ source, audit: new MemoryAuditLog(), now: () => TODAY, careTeams: [{ id: 't', organisation: HOSPITAL, patients: [A!, B!] }] });
}

const sources = (view: { categories: Record<string, { source: string }[]> }) =>
  Object.entries(view.categories).flatMap(([c, items]) => items.map((i) => `${c}:${i.source}`)).sort();

describe('sharing agreements through the API', () => {
  test('create → sign by both parties → in force; amend keeps the signed version until re-signed; withdraw ends it', async () => {
    const access = layer();
    const doctor = access.as(hospitalDoctor, 'direct-care');
    // No agreement: the hospital sees only its own records of the patient.
    expect(sources(await doctor.patient(A!))).toEqual(['results:H0001', 'results:H0001']);
    const draft = await access.as(practiceCg, 'direct-care').agreements.create(terms);
    expect(draft).toMatchObject({ id: 'ISA-1', version: 1, status: 'draft' });
    await access.as(practiceCg, 'direct-care').agreements.sign(draft.id);
    expect(access.agreements.inForce('2025-04-15')).toEqual([]);
    const signed = await access.as(hospitalCg, 'direct-care').agreements.sign(draft.id);
    expect(signed.status).toBe('signed');
    expect(access.agreements.inForce('2025-04-15').map((a) => a.version)).toEqual([1]);
    // Results are shared; problems are not; registry statuses are not.
    const view = await doctor.patient(A!);
    expect(sources(view)).toEqual(['results:H0001', 'results:H0001']);
    // The HbA1c came from the hospital; the practice's diabetes diagnosis (a problem) stays hidden.
    expect(view.categories.problems).toEqual([]);
    expect(view.registries).toBeNull();
    // Amend to add problems: a new draft; version 1 stays in force until both sign version 2.
    const amended = await access.as(hospitalCg, 'direct-care').agreements.amend(draft.id, { dataCategories: ['results', 'problems'] });
    expect(amended).toMatchObject({ version: 2, status: 'draft' });
    expect(access.agreements.inForce('2025-04-15').map((a) => a.version)).toEqual([1]);
    await access.as(practiceCg, 'direct-care').agreements.sign(draft.id);
    await access.as(hospitalCg, 'direct-care').agreements.sign(draft.id);
    expect(access.agreements.inForce('2025-04-15').map((a) => a.version)).toEqual([2]);
    expect(sources(await doctor.patient(A!))).toEqual(['problems:P00001', 'results:H0001', 'results:H0001']);
    // The shared-record opt-out hides the practice's records from the hospital whatever the agreement says.
    expect(sources(await doctor.patient(B!))).toEqual(['results:H0001']);
    // The practice itself sees everything of B, its own and (by the agreement) the hospital's results.
    expect(sources(await access.as(practiceGp, 'direct-care').patient(B!))).toEqual(['problems:P00001', 'results:H0001', 'results:P00001']);
    // Outside the agreement's period nothing is shared.
    expect(access.agreements.inForce('2026-01-01')).toEqual([]);
    await access.as(practiceCg, 'direct-care').agreements.withdraw(draft.id);
    expect(access.agreements.inForce('2025-04-15')).toEqual([]);
    expect(sources(await doctor.patient(A!))).toEqual(['results:H0001', 'results:H0001']);
    await expect(access.as(practiceCg, 'direct-care').agreements.sign(draft.id)).rejects.toMatchObject({ code: 'CG_ACCESS_AGREEMENT' });
  });

  test('only a party with the right role may manage an agreement; every attempt is audited', async () => {
    const audit = new MemoryAuditLog();
    const source = sourceOf([], organisations());
    const access = createAccess({ source, audit, now: () => TODAY });
    const outsider = { user: 'cg-x', roles: ['caldicott-guardian'], organisation: 'P00002' };
    await expect(access.as(outsider, 'direct-care').agreements.create(terms)).rejects.toMatchObject({ code: 'CG_ACCESS_DENIED' });
    await expect(access.as(practiceGp, 'direct-care').agreements.create(terms)).rejects.toMatchObject({ code: 'CG_ACCESS_DENIED' });
    await expect(access.as(practiceCg, 'direct-care').agreements.create({ ...terms, purposes: ['research' as never] })).rejects.toMatchObject({ code: 'CG_ACCESS_AGREEMENT' });
    await expect(access.as(practiceCg, 'direct-care').agreements.create({ ...terms, parties: [PRACTICE] })).rejects.toMatchObject({ code: 'CG_ACCESS_AGREEMENT' });
    await expect(access.as(practiceCg, 'direct-care').agreements.sign('ISA-404')).rejects.toMatchObject({ code: 'CG_ACCESS_DENIED' });
    expect(audit.entries().map((e) => [e.decision, e.rule])).toEqual([
      ['deny', 'CG_ACCESS_DENIED'],
      ['deny', 'role-not-granted'],
      ['deny', 'CG_ACCESS_AGREEMENT'],
      ['deny', 'CG_ACCESS_AGREEMENT'],
      ['deny', 'CG_ACCESS_DENIED'],
    ]);
  });

  test('agreements round-trip through JSON with their versions', () => {
    const registry = new AgreementRegistry();
    const a = registry.create(terms);
    registry.sign(a.id, PRACTICE, 'x');
    registry.sign(a.id, HOSPITAL, 'y');
    registry.amend(a.id, { end: null }, PRACTICE);
    const copy = new AgreementRegistry(JSON.parse(JSON.stringify(registry.toJSON())));
    expect(copy.toJSON()).toEqual(registry.toJSON());
    expect(copy.create(terms).id).toBe('ISA-2');
  });
});

describe('record view', () => {
  test('entries are grouped by the cluster mapping and carry their source organisation and term', async () => {
    const access = layer();
    const view = await access.as(practiceGp, 'direct-care').patient(A!);
    expect(view.categories.problems.map((e) => [e.code, e.source, e.term])).toEqual([['44054006', PRACTICE, 'Diabetes mellitus type 2']]);
    // The hospital's results reach the practice only under an agreement.
    expect(view.categories.results).toEqual([]);
    const hospitalView = await access.as(hospitalDoctor, 'direct-care').patient(A!);
    expect(hospitalView.categories.results.map((e) => [e.code, e.source, e.sourceName])).toEqual([
      ['1005671000000105', HOSPITAL, HOSPITAL],
      ['999791000000106', HOSPITAL, HOSPITAL],
    ]);
    expect(view.registries?.[0]).toMatchObject({ registry: 'diabetes', onRegister: true, indicators: { DM020: 'gap' } });
    expect(view.registries?.[0]?.explanation?.indicators.DM020?.status).toBe('gap');
    expect(categoryOf(['NOT_A_CLUSTER', 'IFCCHBAM_COD'], DEFAULT_CATEGORIES)).toBe('results');
    expect(categoryOf(['toString'], DEFAULT_CATEGORIES)).toBe('other');
  });
});

describe('organisation hierarchy', () => {
  test('walks practice → PCN → borough → ICB, reports bad parents, and counts unknown practices as unmapped', () => {
    const records: OrganisationRecord[] = [
      ...organisations(1),
      { kind: 'organisation', code: 'PX', name: 'Orphan', type: 'practice', parent: 'NOPE' },
      { kind: 'organisation', code: 'PY', name: 'Upside down', type: 'pcn', parent: 'P00001' },
    ];
    const h = new OrganisationHierarchy(records);
    expect(['practice', 'pcn', 'borough', 'icb'].map((l) => h.ancestor('P00001', l as never))).toEqual(['P00001', 'PCN11', 'BOR01', 'ICB01']);
    expect(h.ancestor('PX', 'pcn')).toBe(UNMAPPED);
    expect(h.ancestor('UNKNOWN', 'borough')).toBe(UNMAPPED);
    expect(h.problems.map((p) => p.code)).toEqual(['PX', 'PY']);
  });
});

describe('H1 CSV export safety', () => {
  test('cells starting with = + - @ tab CR NUL (and full-width look-alikes) are neutralised; numbers are unaltered', async () => {
    const triggers = ['=', '+', '-', '@', '\t', '\r', '\0', '＝', '＋', '－', '＠'];
    const orgs = organisations(1).map((o) => (o.code === PRACTICE ? { ...o, name: '=HYPERLINK("http://x","click")' } : o));
    const source = sourceOf([{ nhsNumber: A!, practice: PRACTICE, diabetic: true, hba1c: 80 }], orgs);
    const exported = await createAccess({ source, audit: new MemoryAuditLog(), now: () => TODAY }).as(practiceGp, 'direct-care').exportGapList({ registry: 'diabetes', indicator: 'DM020' });
    const rows = [...triggers.map((t) => [`${t}cmd|' /C calc'!A0`, -3.5, 42]), ['plain, with "quotes"\nand a newline', 0, -1]];
    const csv = toCsv(['text', 'a', 'b'], rows);
    let cellsExported = 0;
    let unsafe = 0;
    let numbersAltered = 0;
    for (const text of [exported.csv, csv]) {
      const parsed = parse(text, { relax_column_count: false }) as string[][];
      for (const row of parsed.slice(1)) {
        for (const cell of row) {
          cellsExported++;
          if (/^[=+\-@\t\r\0＝＋－＠]/.test(cell) && Number.isNaN(Number(cell))) unsafe++;
        }
      }
      if (text === csv) {
        parsed.slice(1).forEach((row, i) => {
          if (Number(row[1]) !== rows[i]![1] || Number(row[2]) !== rows[i]![2]) numbersAltered++;
        });
      }
    }
    console.log(`H1 export safety: cells exported ${cellsExported}; unsafe ${unsafe}; numeric cells altered ${numbersAltered}`);
    expect(exported.csv).toContain(`'=HYPERLINK`);
    expect(unsafe).toBe(0);
    expect(numbersAltered).toBe(0);
    expect(neutralise('safe')).toBe('safe');
  });
});
