/**
 * Every route of the server for every demo role, through Fastify's inject (no socket), plus the live stream over a
 * real socket. Oracles come from outside the server: the batch evaluator (`evaluatePopulation`) for gap lists, the
 * records file for NHS numbers, the access layer's audit log for what was decided.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PatientStore, evaluatePopulation, loadRegistries, preparedPatients, readRecords } from '@caregaps/core';
import { checkPrincipals, createServer, developmentAuthenticator } from '@caregaps/server';
import { AS_OF, ROOT, SAMPLE, SAMPLE_NHS_NUMBERS, bundleOf, hba1cObservation, serveSample, signIn, type Served } from './fixture.js';

let served: Served;
const cookies: Record<string, string> = {};
/** DM020 gaps by practice from a batch evaluation of the same files: the gap list's oracle. */
const batchGaps = new Map<string, string[]>();

beforeAll(async () => {
  served = await serveSample();
  for (const id of ['gp-barnet', 'nurse-camden', 'icb-analyst', 'feed-barnet', 'privacy-barnet', 'pcn-lead-barnet', 'caldicott-barnet', 'caldicott-hospital', 'feed-hospital']) cookies[id] = await signIn(served.app, id);
  const { index, compiled } = loadRegistries(join(ROOT, 'registries'), join(ROOT, 'codesets'), { only: ['diabetes'] });
  const store = new PatientStore();
  for await (const item of readRecords(join(SAMPLE, 'records.ndjson'))) if (item.ok) store.apply(item.record);
  for (const r of evaluatePopulation(preparedPatients(store, index), compiled, AS_OF)) {
    if (r.indicators['DM020'] !== 'gap') continue;
    const practice = store.get(r.nhsNumber)!.patient!.practice;
    batchGaps.set(practice, [...(batchGaps.get(practice) ?? []), r.nhsNumber]);
  }
});

afterAll(async () => {
  await served?.app.close();
  served?.host.engine.close();
});

const get = (url: string, as?: string) => served.app.inject({ url, headers: as ? { cookie: cookies[as]! } : {} });
const nhsNumbersIn = (text: string) => [...text.matchAll(/\d{10}/g)].map((m) => m[0]).filter((n) => SAMPLE_NHS_NUMBERS.has(n));
const rowsOf = (html: string) => [...html.matchAll(/<tr data-nhs-number="(\d{10})">/g)].map((m) => m[1]!);
const lastAudit = () => served.audit.entries().at(-1)!;

describe('authenticators and principals', () => {
  it('refuses an authenticator without valid meta (CG_SERVER_PLUGIN)', async () => {
    const good = developmentAuthenticator({ principals: join(ROOT, 'packages/server/data/demo-principals.json') });
    const bad = { ...good, meta: { ...good.meta, production: 'no' } };
    await expect(createServer({ ...served.host, authenticator: bad as never })).rejects.toMatchObject({ code: 'CG_SERVER_PLUGIN' });
    await expect(createServer({ ...served.host, authenticator: { meta: good.meta } as never })).rejects.toMatchObject({ code: 'CG_SERVER_PLUGIN' });
  });

  it('refuses a malformed principals file, naming the entry and field (CG_SERVER_PRINCIPALS)', () => {
    const entry = { id: 'a', label: 'A', user: 'a', roles: [], organisation: 'Z10001', purposes: ['direct-care'] };
    expect(() => checkPrincipals({ principals: [{ ...entry, purposes: ['marketing'] }] }, 'p.json')).toThrow(/p\.json: principals\[0\]: "purposes"/);
    expect(() => checkPrincipals({ principals: [entry, { ...entry }] })).toThrow(/principals\[1\]: "id" a is used twice/);
    expect(() => checkPrincipals({ principals: [{ ...entry, admin: true }] })).toThrow(/unknown field "admin"/);
    expect(() => checkPrincipals({ principals: [] })).toThrow(expect.objectContaining({ code: 'CG_SERVER_PRINCIPALS' }));
  });

  it('sends someone without a session to sign in, and refuses data and intake outright', async () => {
    for (const url of ['/', '/dashboard', '/gaps?registry=diabetes', '/patients/9990001103', '/gaps.csv?registry=diabetes']) {
      const response = await get(url);
      expect(response.statusCode, url).toBe(303);
      expect(response.headers.location).toBe('/login');
    }
    expect((await get('/events?page=dashboard')).statusCode).toBe(401);
    expect((await served.app.inject({ method: 'POST', url: '/fhir', payload: '{}', headers: { 'content-type': 'application/fhir+json' } })).statusCode).toBe(401);
  });

  it('ignores a forged session cookie', async () => {
    const response = await served.app.inject({ url: '/dashboard', headers: { cookie: 'caregaps-dev-session=gp-barnet' } });
    expect(response.statusCode).toBe(303);
  });

  it('lists the principals on the sign-in page, marked not for production, and rejects an unknown choice', async () => {
    const page = await get('/login');
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('not for production');
    for (const id of ['gp-barnet', 'nurse-camden', 'icb-analyst', 'feed-barnet']) expect(page.body).toContain(`value="${id}"`);
    const unknown = await served.app.inject({ method: 'POST', url: '/login', payload: 'principal=root', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(unknown.statusCode).toBe(400);
  });

  it('refuses a purpose the session may not declare', async () => {
    const response = await get('/dashboard?purpose=secondary-use', 'gp-barnet');
    expect(response.statusCode).toBe(403);
    expect((await get('/dashboard?purpose=direct-care', 'icb-analyst')).statusCode).toBe(403);
  });

  it('lets a session that may declare two purposes choose: secondary use leaves opted-out patients out', async () => {
    const excluded = (html: string) => /patients left out by policy: ([^.]+)\./.exec(html)![1];
    const direct = await get('/dashboard?level=pcn', 'pcn-lead-barnet');
    const secondary = await get('/dashboard?level=pcn&purpose=secondary-use', 'pcn-lead-barnet');
    expect(direct.statusCode).toBe(200);
    expect(secondary.statusCode).toBe(200);
    expect(excluded(direct.body)).toBe('0');
    expect(excluded(secondary.body)).not.toBe('0');
    expect(secondary.body).toContain('purpose <strong>secondary-use</strong>');
    expect(lastAudit()).toMatchObject({ user: 'dr-patel', purpose: 'secondary-use', activity: 'view-aggregate' });
    expect(secondary.body).toContain('<input type="hidden" name="purpose" value="secondary-use">');
    expect(secondary.body).toContain('href="/dashboard?purpose=direct-care"');
  });

  it('sets a content security policy that allows nothing from elsewhere', async () => {
    const response = await get('/dashboard', 'gp-barnet');
    expect(response.headers['content-security-policy']).toContain("default-src 'self'");
    expect(response.body).not.toMatch(/(?:src|href|action)="https?:/);
  });
});

describe('dashboard', () => {
  it('shows every organisation of a level with register, prevalence and each indicator, through the audited summary', async () => {
    for (const [level, codes] of [['practice', ['Z10001', 'Z20001', 'Z30001', 'Z40001', 'Z50001']], ['icb', ['QMJ']]] as const) {
      const response = await get(`/dashboard?level=${level}&registry=diabetes`, 'gp-barnet');
      expect(response.statusCode).toBe(200);
      expect([...response.body.matchAll(/<tr data-organisation="([^"]+)"><th/g)].map((m) => m[1])).toEqual([...codes, ...codes]);
      for (const id of served.host.registries[0]!.indicatorIds) expect(response.body).toContain(`data-indicator="${id}"`);
      // A practice-level dashboard reads the ICB summary too, for its funnel plot's mean.
      expect(served.audit.entries().slice(-2)).toContainEqual(expect.objectContaining({ user: 'dr-lee', activity: 'view-aggregate', resource: `summary:${level}:diabetes`, decision: 'allow' }));
    }
  });

  it('publishes only suppressed numbers: every count is 0, a multiple of 5 or the token', async () => {
    const response = await get('/dashboard?level=practice', 'icb-analyst');
    expect(response.statusCode).toBe(200);
    const counts = [...response.body.matchAll(/data-measure="(?:registered|on-register)">([^<]+)</g)].map((m) => m[1]!.replace(/,/g, ''));
    expect(counts.length).toBe(10);
    for (const c of counts) expect(c === '*' || Number(c) % 5 === 0, c).toBe(true);
    const small = [...response.body.matchAll(/<small>gross [^;]+; met ([^,]+), gap ([^,]+), excepted ([^<]+)<\/small>/g)].flatMap((m) => [m[1]!, m[2]!, m[3]!]).map((c) => c.replace(/,/g, ''));
    expect(small.length).toBeGreaterThan(0);
    for (const c of small) expect(c === '*' || Number(c) % 5 === 0, c).toBe(true);
  });

  it('draws a funnel plot of the practices for the chosen indicator (practice level only), as inline SVG', async () => {
    const response = await get('/dashboard?level=practice&registry=diabetes&funnel=DM036', 'icb-analyst');
    expect(response.statusCode).toBe(200);
    expect(response.body).toContain('Variation between practices: DM036');
    expect(response.body).toMatch(/<figure class="chart" aria-labelledby="funnel-heading"><svg[\s\S]*<\/svg><figcaption>Mean \d+\.\d% /);
    expect((await get('/dashboard?level=pcn&registry=diabetes', 'icb-analyst')).body).not.toContain('<svg');
    expect((await get('/dashboard?funnel=XX1', 'icb-analyst')).statusCode).toBe(400);
  });

  it('flags provisional indicators with their reason', async () => {
    const provisional = served.host.registries[0]!.provisional;
    const flagged = Object.entries(provisional.indicators).filter(([, c]) => c.length).map(([id]) => id);
    const response = await get('/dashboard', 'gp-barnet');
    for (const id of flagged) expect(response.body).toMatch(new RegExp(`<li>${id}: `));
    if (flagged.length === 0 && provisional.register.length === 0) expect(response.body).not.toContain('id="provisional"');
  });

  it('answers an unknown level or registry with 400, not a stack trace', async () => {
    const response = await get('/dashboard?level=galaxy', 'gp-barnet');
    expect(response.statusCode).toBe(400);
    expect(response.body).toContain('level must be one of');
    expect(response.body).not.toMatch(/at .*\.ts:\d+/);
    expect((await get('/dashboard?registry=nope', 'gp-barnet')).statusCode).toBe(400);
  });
});

describe('gap list and CSV export', () => {
  it('lists exactly the DM020 gaps of the clinician\'s own practice (oracle: batch evaluation)', async () => {
    const response = await get('/gaps?registry=diabetes&indicator=DM020', 'gp-barnet');
    expect(response.statusCode).toBe(200);
    expect(rowsOf(response.body)).toEqual([...batchGaps.get('Z10001')!].sort());
    expect(lastAudit()).toMatchObject({ user: 'dr-lee', activity: 'view-patient-list', decision: 'allow', rowCount: batchGaps.get('Z10001')!.length });
    const camden = await get('/gaps?registry=diabetes&indicator=DM020', 'nurse-camden');
    expect(rowsOf(camden.body)).toEqual([...batchGaps.get('Z20001')!].sort());
  });

  it('exports the same list as CSV through the access layer\'s export (audited as an export)', async () => {
    const response = await get('/gaps.csv?registry=diabetes&indicator=DM020', 'gp-barnet');
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/csv/);
    expect(response.headers['content-disposition']).toBe('attachment; filename="gaps-diabetes-DM020.csv"');
    const lines = response.body.trim().split(/\r?\n/);
    expect(lines[0]).toBe('nhs_number,practice,practice_name,registry,indicator,status');
    expect(lines.slice(1).map((l) => l.split(',')[0])).toEqual([...batchGaps.get('Z10001')!].sort());
    expect(lastAudit()).toMatchObject({ activity: 'export-patient-list', decision: 'allow' });
  });

  it('shows only the form until a registry is chosen, and refuses an unknown indicator', async () => {
    const form = await get('/gaps', 'gp-barnet');
    expect(form.statusCode).toBe(200);
    expect(rowsOf(form.body)).toEqual([]);
    expect((await get('/gaps?registry=diabetes&indicator=XX999', 'gp-barnet')).statusCode).toBe(400);
  });
});

describe('patient page', () => {
  it('shows statuses with explanations and the record by heading with each entry\'s source', async () => {
    const nhs = [...batchGaps.get('Z10001')!].sort()[0]!;
    const response = await get(`/patients/${nhs}`, 'gp-barnet');
    expect(response.statusCode).toBe(200);
    expect(response.body).toContain(`Patient ${nhs}`);
    expect(response.body).toMatch(/<th scope="row">DM020<\/th><td class="status-gap">gap<\/td><td>rule \d+: /);
    for (const heading of ['Problems and diagnoses', 'Medications', 'Results']) expect(response.body).toContain(`<h3>${heading}</h3>`);
    expect(response.body).toMatch(/<table data-category="problems">[\s\S]*Barnet synthetic practice 1 \(Z10001\)/);
    expect(lastAudit()).toMatchObject({ activity: 'view-patient-record', patient: nhs, decision: 'allow' });
  });

  it('refuses a patient of another practice and a patient that does not exist alike (403, audited)', async () => {
    const other = [...batchGaps.get('Z20001')!][0]!;
    const refused = await get(`/patients/${other}`, 'gp-barnet');
    expect(refused.statusCode).toBe(403);
    expect(refused.body).not.toContain(other);
    expect(lastAudit()).toMatchObject({ patient: other, decision: 'deny' });
    const missing = await get('/patients/9434765919', 'gp-barnet');
    expect(missing.statusCode).toBe(403);
  });
});

describe('access reports', () => {
  it('give a privacy officer their organisation\'s accesses, withholding other organisations\' patients', async () => {
    const own = [...batchGaps.get('Z10001')!].sort()[2]!;
    const other = [...batchGaps.get('Z20001')!].sort()[0]!;
    expect((await get(`/patients/${own}`, 'gp-barnet')).statusCode).toBe(200);
    expect((await get(`/patients/${other}`, 'gp-barnet')).statusCode).toBe(403);
    const report = await get('/audit', 'privacy-barnet');
    expect(report.statusCode).toBe(200);
    expect(report.body).toContain(own);
    expect(report.body).not.toContain(other);
    expect(lastAudit()).toMatchObject({ user: 'po-barnet', activity: 'view-audit-report', subjectOrganisation: 'Z10001', decision: 'allow' });
  });

  it('give a patient\'s access report to their practice\'s privacy officer only', async () => {
    const own = [...batchGaps.get('Z10001')!].sort()[2]!;
    const report = await get(`/audit?patient=${own}`, 'privacy-barnet');
    expect(report.statusCode).toBe(200);
    const rows = [...report.body.matchAll(/<tr><td>[^<]+<\/td><td>dr-lee [^<]*<\/td><td>direct-care<\/td><td>view-patient-record<\/td>/g)];
    expect(rows.length).toBeGreaterThan(0);
    expect((await get(`/audit?patient=${[...batchGaps.get('Z20001')!][0]}`, 'privacy-barnet')).statusCode).toBe(403);
    expect((await get('/audit?patient=12345', 'privacy-barnet')).statusCode).toBe(400);
    expect((await get('/audit', 'gp-barnet')).statusCode).toBe(403);
  });
});

describe('sharing agreements', () => {
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  const post = (url: string, as: string, payload = '') => served.app.inject({ method: 'POST', url, payload, headers: { ...form, cookie: cookies[as]! } });

  it('decide whether a hospital\'s result shows in the GP\'s record view: hidden, shown once both sign, hidden after withdrawal', async () => {
    const patient = [...batchGaps.get('Z10001')!].sort()[3]!;
    const intake = await served.app.inject({ method: 'POST', url: '/fhir', payload: bundleOf('batch', hba1cObservation('lab-1', patient, 51, '2025-03-30')), headers: { cookie: cookies['feed-hospital']!, 'content-type': 'application/fhir+json' } });
    expect(JSON.parse(intake.body).entry[0].response.status).toBe('201 Created');
    const hospitalEntries = async () => ((await get(`/patients/${patient}`, 'gp-barnet')).body.match(/\(RAL01\)<\/td>/g) ?? []).length;
    expect(await hospitalEntries()).toBe(0);

    const created = await post('/agreements', 'caldicott-barnet', 'title=Diabetes+results&partners=RAL01&dataCategories=results&purposes=direct-care&start=2025-01-01&end=');
    expect(created.statusCode).toBe(303);
    const listed = await get('/agreements', 'caldicott-barnet');
    const id = /data-agreement="([^"]+)"/.exec(listed.body)![1]!;
    expect(listed.body).toContain('<td>draft</td>');
    expect((await post(`/agreements/${id}/sign`, 'caldicott-barnet')).statusCode).toBe(303);
    expect(await hospitalEntries()).toBe(0); // one signature is not enough
    expect((await post(`/agreements/${id}/sign`, 'caldicott-hospital')).statusCode).toBe(303);
    expect(await hospitalEntries()).toBe(1);
    expect((await get('/agreements', 'caldicott-hospital')).body).toContain('<td>signed</td>');

    // An amendment by the hospital (adding a purpose; the other party is the practice) is a new draft version; the
    // signed version stays in force until both sign it.
    const amend = 'title=Diabetes+results&partners=Z10001&dataCategories=results&purposes=direct-care&purposes=secondary-use&start=2025-01-01&end=';
    expect((await post(`/agreements/${id}/amend`, 'caldicott-hospital', amend)).statusCode).toBe(303);
    const amended = (await get('/agreements', 'caldicott-barnet')).body;
    expect(amended).toMatch(/<tr><td>2<\/td><td>draft<\/td><td>(Z10001, RAL01|RAL01, Z10001)<\/td><td>results<\/td><td>direct-care, secondary-use<\/td>/);
    expect(await hospitalEntries()).toBe(1);
    expect((await post(`/agreements/${id}/amend`, 'gp-barnet', amend)).statusCode).toBe(403);
    expect((await post(`/agreements/${id}/sign`, 'caldicott-barnet')).statusCode).toBe(303);
    expect((await post(`/agreements/${id}/sign`, 'caldicott-hospital')).statusCode).toBe(303);
    expect((await get('/agreements', 'caldicott-barnet')).body).toMatch(/<tr><td>2<\/td><td>signed<\/td>/);
    expect(await hospitalEntries()).toBe(1);

    expect((await post(`/agreements/${id}/withdraw`, 'caldicott-hospital')).statusCode).toBe(303);
    expect(await hospitalEntries()).toBe(0);
    const history = await get('/agreements', 'caldicott-barnet');
    expect(history.body).toContain('<td>withdrawn</td>');
    expect(served.audit.entries().filter((e) => e.activity === 'manage-sharing-agreements' && e.decision === 'allow')).toHaveLength(7);
  });

  it('refuse a GP (no such role), a non-party, and invalid terms', async () => {
    expect((await post('/agreements', 'gp-barnet', 'title=x&partners=RAL01&dataCategories=results&purposes=direct-care&start=2025-01-01')).statusCode).toBe(403);
    const bad = await post('/agreements', 'caldicott-barnet', 'title=x&partners=RAL01&dataCategories=gossip&purposes=direct-care&start=2025-01-01');
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain('dataCategories must be some of');
    await post('/agreements', 'caldicott-barnet', 'title=Two&partners=Z20001&dataCategories=results&purposes=direct-care&start=2025-01-01');
    const id = [...(await get('/agreements', 'caldicott-barnet')).body.matchAll(/data-agreement="([^"]+)"/g)].at(-1)![1]!;
    expect((await post(`/agreements/${id}/sign`, 'caldicott-hospital')).statusCode).toBe(403);
    expect((await post(`/agreements/${id}/explode`, 'caldicott-barnet')).statusCode).toBe(400);
  });
});

describe('opt-out register', () => {
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  const post = (url: string, as: string, payload = '') => served.app.inject({ method: 'POST', url, payload, headers: { ...form, cookie: cookies[as]! } });
  /** A practice analyst's secondary-use gap list, read straight from the access layer: the opt-out's effect. */
  const secondaryUseList = async () => (await served.host.access.as({ user: 'qa', roles: ['analyst'], organisation: 'Z10001' }, 'secondary-use').patients({ registry: 'diabetes', indicator: 'DM020' })).map((r) => r.nhsNumber);

  it('lets the practice\'s Caldicott guardian record and remove an opt-out: honoured at once, audited, history kept', async () => {
    const patient = [...batchGaps.get('Z10001')!].sort().find((n) => served.host.access.source.patient(n)!.optOuts.length === 0)!;
    expect(await secondaryUseList()).toContain(patient);
    const added = await post('/opt-outs', 'caldicott-barnet', `nhsNumber=${patient}&type=secondary-use&date=2025-04-01`);
    expect(added.statusCode).toBe(303);
    expect(served.audit.entries().at(-1)).toMatchObject({ user: 'cg-barnet', activity: 'manage-opt-outs', resource: 'opt-out:secondary-use:add', patient, decision: 'allow' });
    expect(await secondaryUseList()).not.toContain(patient);
    const page = await get('/opt-outs', 'caldicott-barnet');
    expect(page.body).toMatch(new RegExp(`<tr data-opt-out="[^"]+" class="held"><th scope="row"><a href="/patients/${patient}">${patient}</a></th><td>secondary-use</td><td>2025-04-01</td><td>cg-barnet \\(Z10001\\)`));
    expect((await post('/opt-outs/remove', 'caldicott-barnet', `nhsNumber=${patient}&type=secondary-use`)).statusCode).toBe(303);
    expect(await secondaryUseList()).toContain(patient);
    expect((await get('/opt-outs', 'caldicott-barnet')).body).toContain('removed ');
  });

  it('refuses another practice\'s guardian, a GP, an invalid NHS number and an unknown type', async () => {
    const patient = [...batchGaps.get('Z10001')!][0]!;
    expect((await post('/opt-outs', 'caldicott-hospital', `nhsNumber=${patient}&type=type-1&date=2025-04-01`)).statusCode).toBe(403);
    expect(served.audit.entries().at(-1)).toMatchObject({ activity: 'manage-opt-outs', patient, decision: 'deny' });
    expect((await post('/opt-outs', 'gp-barnet', `nhsNumber=${patient}&type=type-1`)).statusCode).toBe(403);
    expect((await get('/opt-outs', 'gp-barnet')).statusCode).toBe(403);
    const invalid = await post('/opt-outs', 'caldicott-barnet', 'nhsNumber=1234567890&type=type-1');
    expect(invalid.statusCode).toBe(400);
    expect(invalid.body).toContain('Not a valid NHS number');
    expect((await post('/opt-outs', 'caldicott-barnet', `nhsNumber=${patient}&type=marketing`)).statusCode).toBe(400);
    expect(served.host.access.optOuts.held(patient)).toEqual([]);
  });
});

describe('an ICB analyst never receives an NHS number', () => {
  it('from any page, CSV or event stream', async () => {
    const seen: string[] = [];
    const urls = [
      '/dashboard', '/dashboard?level=icb', '/dashboard?level=borough', '/dashboard?level=pcn', '/gaps', '/gaps?registry=diabetes',
      '/gaps?registry=diabetes&indicator=DM020', '/gaps.csv?registry=diabetes&indicator=DM020', ...[...SAMPLE_NHS_NUMBERS].slice(0, 5).map((n) => `/patients/${n}`),
      `/patients/${[...batchGaps.get('Z10001')!][0]}`, '/audit', `/audit?patient=${[...batchGaps.get('Z10001')!][0]}`, '/agreements', '/opt-outs',
    ];
    for (const url of urls) {
      const response = await get(url, 'icb-analyst');
      seen.push(...nhsNumbersIn(response.body));
      // A gap list the analyst's role cannot see any patient of is refused, not shown empty (issue 12 point 13).
      if (url.startsWith('/patients/') || url.startsWith('/gaps.csv') || url.startsWith('/gaps?') || url.startsWith('/audit') || url.startsWith('/opt-outs')) expect(response.statusCode, url).toBe(403);
      else expect(response.statusCode, url).toBe(200);
    }
    expect(seen).toEqual([]);
  });

  it('is not a record source: POST /fhir is forbidden', async () => {
    const response = await served.app.inject({ method: 'POST', url: '/fhir', payload: bundleOf('batch', hba1cObservation('x', '9990001103', 40)), headers: { cookie: cookies['icb-analyst']!, 'content-type': 'application/fhir+json' } });
    expect(response.statusCode).toBe(403);
    expect(JSON.parse(response.body).resourceType).toBe('OperationOutcome');
  });
});

/** Opens an SSE stream over a real socket and collects its events. */
function openStream(port: number, path: string, cookie: string): Promise<{ events: { event: string; data: { version: number; html: string } }[]; response: IncomingMessage; close(): void; next(n: number): Promise<void> }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: '127.0.0.1', port, path, headers: { cookie, accept: 'text/event-stream' } }, (response) => {
      const events: { event: string; data: { version: number; html: string } }[] = [];
      const waiting: { n: number; done: () => void }[] = [];
      let buffer = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) events.push({ event, data: JSON.parse(data) });
          for (const w of waiting.filter((w) => events.length >= w.n)) w.done();
        }
      });
      resolve({
        events,
        response,
        close: () => request.destroy(),
        next: (n) => new Promise<void>((done) => (events.length >= n ? done() : waiting.push({ n, done }))),
      });
    });
    request.on('error', reject);
    request.end();
  });
}

describe('live updates and FHIR intake', () => {
  it('refuses an entry-level problem in a transaction as a whole, applying nothing', async () => {
    const target = [...batchGaps.get('Z10001')!].sort()[1]!;
    const before = served.host.engine.patient(target)!.registries.find((r) => r.registry === 'diabetes')!.indicators['DM020'];
    const bad = { ...hba1cObservation('bad', target, 40), effectiveDateTime: 'last week' };
    const response = await served.app.inject({ method: 'POST', url: '/fhir', payload: bundleOf('transaction', hba1cObservation('t1', target, 40), bad), headers: { cookie: cookies['feed-barnet']!, 'content-type': 'application/fhir+json' } });
    expect(response.statusCode).toBe(400);
    const outcome = JSON.parse(response.body);
    expect(outcome.resourceType).toBe('OperationOutcome');
    expect(outcome.issue).toHaveLength(1);
    expect(outcome.issue[0].expression).toEqual(['Bundle.entry[1]']);
    expect(served.host.engine.patient(target)!.registries.find((r) => r.registry === 'diabetes')!.indicators['DM020']).toBe(before);
  });

  it('refuses what is not a transaction or batch Bundle, and a GP who is not a record source', async () => {
    const post = (payload: string, as = 'feed-barnet') => served.app.inject({ method: 'POST', url: '/fhir', payload, headers: { cookie: cookies[as]!, 'content-type': 'application/fhir+json' } });
    expect((await post('{not json')).statusCode).toBe(400);
    expect((await post(JSON.stringify({ resourceType: 'Bundle', type: 'collection', entry: [] }))).statusCode).toBe(400);
    expect((await post(JSON.stringify({ resourceType: 'Patient' }))).statusCode).toBe(400);
    expect((await post(bundleOf('batch', hba1cObservation('g', '9990001103', 40)), 'gp-barnet')).statusCode).toBe(403);
  });

  it('a batch applies its good entries, answers per entry, and the open gap list loses the patient live', async () => {
    await served.app.listen({ port: 0, host: '127.0.0.1' });
    const port = (served.app.server.address() as { port: number }).port;
    const target = [...batchGaps.get('Z10001')!].sort()[0]!;
    const gaps = await openStream(port, '/events?page=gaps&registry=diabetes&indicator=DM020', cookies['gp-barnet']!);
    const dashboard = await openStream(port, '/events?page=dashboard&level=practice&registry=diabetes', cookies['icb-analyst']!);
    const analystGaps = await openStream(port, '/events?page=gaps&registry=diabetes&indicator=DM020', cookies['icb-analyst']!);
    try {
      // The analyst's gap list is refused before any stream opens, so no event can carry a patient.
      expect(analystGaps.response.statusCode).toBe(403);
      expect(gaps.response.headers['content-type']).toMatch(/^text\/event-stream/);
      await gaps.next(1);
      await dashboard.next(1);
      expect(rowsOf(gaps.events[0]!.data.html)).toContain(target);

      const unknown = hba1cObservation('u1', '9434765919', 40);
      const bundle = bundleOf('batch', hba1cObservation('b1', target, 40), { ...hba1cObservation('b2', target, 40), effectiveDateTime: 'yesterday' }, unknown);
      const response = await fetch(`http://127.0.0.1:${port}/fhir`, { method: 'POST', body: bundle, headers: { cookie: cookies['feed-barnet']!, 'content-type': 'application/fhir+json' } });
      expect(response.status).toBe(200);
      const answer = (await response.json()) as { type: string; entry: { response: { status: string; outcome: { issue: { diagnostics: string }[] } } }[] };
      expect(answer.type).toBe('batch-response');
      expect(answer.entry.map((e) => e.response.status)).toEqual(['201 Created', '422 Unprocessable Entity', '201 Created']);
      expect(answer.entry[1]!.response.outcome.issue[0]!.diagnostics).toMatch(/^quarantined: .*\[CG_/);

      await gaps.next(2);
      expect(gaps.events[1]!.event).toBe('update');
      expect(rowsOf(gaps.events[1]!.data.html)).not.toContain(target);
      expect(rowsOf(gaps.events[1]!.data.html)).toEqual(rowsOf(gaps.events[0]!.data.html).filter((n) => n !== target));
      expect(served.host.engine.patient(target)!.registries.find((r) => r.registry === 'diabetes')!.indicators['DM020']).toBe('met');

      await dashboard.next(2);
      expect(analystGaps.events).toEqual([]);
      expect(dashboard.events.flatMap((e) => nhsNumbersIn(JSON.stringify(e)))).toEqual([]);
      expect(served.audit.entries().some((e) => e.user === 'dr-lee' && e.activity === 'view-patient-list' && !e.patients?.includes(target))).toBe(true);
    } finally {
      gaps.close();
      dashboard.close();
      analystGaps.close();
    }
  });

  it('closes open event streams when the server closes', async () => {
    const host = served.host;
    const app = await createServer({ ...host, liveDelayMs: 20 });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const port = (app.server.address() as { port: number }).port;
    const cookie = await signIn(app, 'icb-analyst');
    const stream = await openStream(port, '/events?page=dashboard&level=icb&registry=diabetes', cookie);
    await stream.next(1);
    const ended = new Promise<void>((resolve) => stream.response.on('close', () => resolve()));
    await app.close();
    await ended;
  });

  it('refuses a stream of an unknown page (400)', async () => {
    const response = await get('/events?page=nothing', 'gp-barnet');
    expect(response.statusCode).toBe(400);
  });
});
