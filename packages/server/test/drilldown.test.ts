/**
 * Gap lists with "since when" and care-team scoping, over the demo's care team and signed agreement (the files
 * `caregaps serve --demo` loads). Oracles: the batch evaluator for gaps and for the status on the days either side of
 * each "since" date; the care team file for who the PCN lead may see.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PatientStore, evaluatePopulation, formatDay, loadRegistries, parseDay, preparedPatients, readRecords, type PreparedPatient } from '@caregaps/core';
import { MemoryAuditLog } from '@caregaps/access';
import { DEMO_CARE_TEAMS, createServer, openHost } from '@caregaps/server';
import { AS_OF, ROOT, SAMPLE, bundleOf, hba1cObservation, serveSample, signIn, type Served } from './fixture.js';

let served: Served;
const cookies: Record<string, string> = {};
const store = new PatientStore();
const loaded = loadRegistries(join(ROOT, 'registries'), join(ROOT, 'codesets'), { only: ['diabetes'] });
/** DM020 status of a patient with each day taken as the achievement date (batch evaluator). */
const statusOn = (patient: PreparedPatient, day: string) => [...evaluatePopulation([patient], loaded.compiled, day)][0]?.indicators['DM020'];
const prepared = new Map<string, PreparedPatient>();
const team = (JSON.parse(readFileSync(DEMO_CARE_TEAMS, 'utf8')) as { careTeams: { patients: string[] }[] }).careTeams[0]!.patients;

beforeAll(async () => {
  served = await serveSample(20, true);
  for (const id of ['gp-barnet', 'pcn-lead-barnet']) cookies[id] = await signIn(served.app, id);
  for await (const item of readRecords(join(SAMPLE, 'records.ndjson'))) if (item.ok) store.apply(item.record);
  for (const p of preparedPatients(store, loaded.index)) prepared.set(p.nhsNumber, p);
});

afterAll(async () => {
  await served?.app.close();
  served?.host.engine.close();
});

const get = (url: string, as: string) => served.app.inject({ url, headers: { cookie: cookies[as]! } });
const rowsOf = (html: string) => [...html.matchAll(/<tr data-nhs-number="(\d{10})">.*?<td data-since="([^"]*)">(.*?)<\/td><\/tr>/g)].map((m) => ({ nhs: m[1]!, since: m[2]!, text: m[3]! }));

describe('gap list: what is missing and since when', () => {
  it('names what the indicator asks for and the first day of an unbroken gap, checked on the days either side', async () => {
    const page = await get('/gaps?registry=diabetes&indicator=DM020', 'gp-barnet');
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('last IFCC-HbA1c is 58 mmol/mol or less in the preceding 12 months');
    const rows = rowsOf(page.body);
    expect(rows.length).toBeGreaterThan(10);
    let exact = 0;
    for (const row of rows) {
      const patient = prepared.get(row.nhs)!;
      expect(row.since, row.nhs).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(statusOn(patient, row.since), `${row.nhs} on ${row.since}`).toBe('gap');
      expect(statusOn(patient, AS_OF)).toBe('gap');
      if (row.text.startsWith('before ')) continue; // in a gap for as long as the search looks back
      exact++;
      expect(statusOn(patient, formatDay(parseDay(row.since)! - 1)), `${row.nhs} the day before ${row.since}`).not.toBe('gap');
    }
    expect(exact).toBeGreaterThan(0);
  });
});

describe('care-team scoping', () => {
  it('gives the PCN lead the gap list of exactly their care team\'s patients, under the signed agreement', async () => {
    const gaps = new Set<string>();
    for (const r of evaluatePopulation(prepared.values(), loaded.compiled, AS_OF)) if (r.indicators['DM020'] === 'gap') gaps.add(r.nhsNumber);
    const page = await get('/gaps?registry=diabetes&indicator=DM020', 'pcn-lead-barnet');
    expect(page.statusCode).toBe(200);
    const listed = rowsOf(page.body).map((r) => r.nhs);
    expect(listed).toEqual(team.filter((n) => gaps.has(n)).sort());
    expect(listed.length).toBeGreaterThan(0);
    expect(served.audit.entries().at(-1)).toMatchObject({ user: 'dr-patel', activity: 'view-patient-list', decision: 'allow', patients: listed });
  });

  it('opens a team patient\'s record and refuses any other patient of the practice', async () => {
    expect((await get(`/patients/${team[0]}`, 'pcn-lead-barnet')).statusCode).toBe(200);
    const other = [...store.values()].find((s) => s.patient?.practice === 'Z10001' && !team.includes(s.patient.nhsNumber))!.patient!.nhsNumber;
    expect((await get(`/patients/${other}`, 'pcn-lead-barnet')).statusCode).toBe(403);
  });
});

describe('record view', () => {
  it('draws a result\'s values over time, each value with its date and source, from the entries the viewer may see', async () => {
    const patient = [...store.values()].find((s) => s.patient?.practice === 'Z10001' && !team.includes(s.patient.nhsNumber))!.patient!.nhsNumber;
    const feed = await signIn(served.app, 'feed-barnet');
    const bundle = bundleOf('batch', hba1cObservation('ot-1', patient, 71, '2024-06-01'), hba1cObservation('ot-2', patient, 64, '2024-12-01'));
    const intake = await served.app.inject({ method: 'POST', url: '/fhir', payload: bundle, headers: { cookie: feed, 'content-type': 'application/fhir+json' } });
    expect(intake.statusCode).toBe(200);
    const page = await get(`/patients/${patient}`, 'gp-barnet');
    expect(page.statusCode).toBe(200);
    const caption = /<figcaption id="series-\d+">(Haemoglobin A1c[^<]*) over time: ([^<]*)<\/figcaption><svg/.exec(page.body);
    expect(caption, "a values-over-time figure for the HbA1c").not.toBeNull();
    const values = caption![2]!;
    expect(values).toContain('2024-06-01: 71 mmol/mol (Barnet synthetic practice 1)');
    expect(values).toContain('2024-12-01: 64 mmol/mol (Barnet synthetic practice 1)');
    expect(values.indexOf('2024-06-01')).toBeLessThan(values.indexOf('2024-12-01'));
    // The sample has no allergy or encounter content (the bundled codesets hold none): those headings are left out.
    expect(page.body).not.toContain('Allergies and adverse reactions');
    expect(page.body).toContain('<h3>Problems and diagnoses</h3>');
  });
});

describe('opt-out register file (--opt-outs)', () => {
  it('is written after every change and read back by the next start; a malformed file is refused', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'caregaps-opt-outs-')), 'opt-outs.json');
    const open = () =>
      openHost({ records: [join(SAMPLE, 'records.ndjson')], organisations: join(SAMPLE, 'organisations.ndjson'), asOf: AS_OF, registries: join(ROOT, 'registries'), codesets: join(ROOT, 'codesets'), only: ['diabetes'], audit: new MemoryAuditLog(), optOuts: file });
    const patient = [...store.values()].find((s) => s.patient?.practice === 'Z10001' && (s.patient.optOuts ?? []).length === 0)!.patient!.nhsNumber;
    const first = await open();
    const app = await createServer(first);
    try {
      const cookie = await signIn(app, 'caldicott-barnet');
      const posted = await app.inject({ method: 'POST', url: '/opt-outs', payload: `nhsNumber=${patient}&type=type-1&date=2025-04-02`, headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' } });
      expect(posted.statusCode).toBe(303);
      expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual([expect.objectContaining({ nhsNumber: patient, type: 'type-1', date: '2025-04-02', recordedBy: 'cg-barnet' })]);
    } finally {
      await app.close();
      first.engine.close();
    }
    const second = await open();
    try {
      expect(second.access.optOuts.held(patient)).toEqual(['type-1']);
      expect(second.access.source.patient(patient)!.optOuts).toContain('type-1');
    } finally {
      second.engine.close();
    }
    writeFileSync(file, JSON.stringify([{ id: 'oo-1', nhsNumber: '123', type: 'type-1' }]));
    await expect(open()).rejects.toMatchObject({ code: 'CG_SERVER_HOST_FILE' });
  });
});
