import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Bundle, FhirResource } from 'fhir/r4.js';
import { describe, expect, it } from 'vitest';
import { AdapterRegistry, TestNumberAssigner, loadNormalisationMaps, readChecked, type AdapterItem, type EventRecord } from '@caregaps/core';
import { fhirAdapter, type FhirAdapterOptions } from '@caregaps/fhir';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const maps = loadNormalisationMaps(join(ROOT, 'codesets/maps'));
const NHS = 'https://fhir.nhs.uk/Id/nhs-number';

const patient: FhirResource = {
  resourceType: 'Patient',
  id: 'p1',
  identifier: [{ system: NHS, value: '943 476 5919' }],
  birthDate: '1957-03-02',
  gender: 'female',
  generalPractitioner: [{ identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'F83004' } }],
  meta: { lastUpdated: '2024-01-01T00:00:00Z' },
};

function bundle(type: Bundle['type'], ...resources: FhirResource[]): Bundle<FhirResource> {
  return { resourceType: 'Bundle', type, entry: resources.map((resource) => ({ fullUrl: `urn:uuid:${resource.id}`, resource })) };
}

async function read(doc: unknown, options: FhirAdapterOptions = { maps }, name = 'in.json'): Promise<AdapterItem[]> {
  const items: AdapterItem[] = [];
  for await (const item of readChecked(fhirAdapter, [{ name, text: typeof doc === 'string' ? doc : JSON.stringify(doc) }], options)) items.push(item);
  return items;
}

const events = (items: AdapterItem[]): EventRecord[] => items.flatMap((i) => (i.ok && i.record.kind === 'event' ? [i.record] : []));
const quarantined = (items: AdapterItem[]) => items.flatMap((i) => (i.ok ? [] : [i]));

const bp = (id: string, extra: Partial<Record<string, unknown>> = {}): FhirResource =>
  ({
    resourceType: 'Observation',
    id,
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '85354-9' }] },
    subject: { reference: 'urn:uuid:p1' },
    effectiveDateTime: '2025-01-10T09:30:00+00:00',
    component: [
      { code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] }, valueQuantity: { value: 132, unit: 'mmHg', code: 'mm[Hg]' } },
      { code: { coding: [{ system: 'http://loinc.org', code: '8462-4' }] }, valueQuantity: { value: 78, unit: 'mmHg', code: 'mm[Hg]' } },
    ],
    ...extra,
  }) as FhirResource;

const hba1c = (id: string, extra: Partial<Record<string, unknown>> = {}): FhirResource =>
  ({
    resourceType: 'Observation',
    id,
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '4548-4' }] },
    subject: { reference: 'Patient/p1' },
    effectiveDateTime: '2025-01-10',
    valueQuantity: { value: 7.5, unit: '%', code: '%' },
    ...extra,
  }) as FhirResource;

describe('FHIR adapter: Patient', () => {
  it('takes the NHS number, birth date, sex, death and practice from generalPractitioner; registration from the first record', async () => {
    const items = await read(bundle('collection', patient));
    expect(items).toHaveLength(1);
    const [item] = items;
    expect(item).toMatchObject({
      ok: true,
      record: { kind: 'patient', nhsNumber: '9434765919', birthDate: '1957-03-02', sex: 'female', practice: 'F83004', source: 'F83004', deathDate: null },
      updated: '2024-01-01T00:00:00Z',
      registeredFromFirstRecord: true,
    });
  });

  it('takes the registration period from the GP identifier when the source gives one (as PDS does)', async () => {
    const ods = { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'Y12345', period: { start: '2020-01-01', end: '2021-12-31' } };
    const [item] = await read(bundle('collection', { ...patient, generalPractitioner: [{ type: 'Organization', identifier: ods }] }));
    expect(item).toMatchObject({ ok: true, record: { practice: 'Y12345', registeredFrom: '2020-01-01', registeredTo: '2021-12-31' } });
    expect(item).not.toHaveProperty('registeredFromFirstRecord');
  });

  it('uses the default practice when there is no GP registration, and quarantines when there is neither', async () => {
    const bare = { ...patient, generalPractitioner: undefined };
    expect((await read(bundle('collection', bare), { maps, defaultPractice: 'Y00001' }))[0]).toMatchObject({ ok: true, record: { practice: 'Y00001' } });
    expect((await read(bundle('collection', bare), { maps }))[0]).toMatchObject({ ok: false, code: 'CG_SOURCE_PRACTICE' });
  });

  it('resolves generalPractitioner through a referenced Organization with an ODS code', async () => {
    const org: FhirResource = { resourceType: 'Organization', id: 'o1', identifier: [{ system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'A81001' }] };
    const p = { ...patient, generalPractitioner: [{ reference: 'Organization/o1' }] };
    const items = await read(bundle('searchset', p, org));
    expect(items[0]).toMatchObject({ ok: true, record: { practice: 'A81001' } });
    expect(items[1]).toMatchObject({ ok: false, code: 'CG_SOURCE_UNSUPPORTED' });
  });

  it('quarantines a patient without an NHS number, naming the identifiers the source has; events for it too', async () => {
    const p = { ...patient, identifier: [{ system: 'http://hl7.org/fhir/sid/us-ssn', value: '999-12-3456' }] };
    const items = await read(bundle('transaction', p, hba1c('h1')));
    expect(items.map((i) => !i.ok && i.code)).toEqual(['CG_SOURCE_NHS_NUMBER', 'CG_SOURCE_NHS_NUMBER']);
    expect(quarantined(items)[0]!.identifiers).toEqual(['http://hl7.org/fhir/sid/us-ssn']);
  });

  it('assigns deterministic test-range numbers when asked, the same for the same input', async () => {
    const p = { ...patient, identifier: [] };
    const run = async () => {
      const testNumbers = new TestNumberAssigner();
      const items = await read(bundle('transaction', p, hba1c('h1')), { maps, testNumbers });
      return { items, mapping: testNumbers.mapping() };
    };
    const a = await run();
    const b = await run();
    expect(a.mapping).toEqual([{ source: 'fhir:Patient/p1', nhsNumber: '9990000018' }]);
    expect(b.mapping).toEqual(a.mapping);
    expect(events(a.items)[0]!.nhsNumber).toBe('9990000018');
  });

  it('refuses an NHS number with a wrong check digit rather than assigning one', async () => {
    const p = { ...patient, identifier: [{ system: NHS, value: '9434765918' }] };
    const items = await read(bundle('collection', p), { maps, testNumbers: new TestNumberAssigner() });
    expect(items[0]).toMatchObject({ ok: false, code: 'CG_SOURCE_NHS_NUMBER' });
  });

  it('quarantines deceasedBoolean without a date and partial birth dates', async () => {
    expect((await read(bundle('collection', { ...patient, deceasedBoolean: true })))[0]).toMatchObject({ ok: false, code: 'CG_SOURCE_DATE' });
    expect((await read(bundle('collection', { ...patient, birthDate: '1957' })))[0]).toMatchObject({ ok: false, code: 'CG_SOURCE_DATE' });
    expect((await read(bundle('collection', { ...patient, deceasedDateTime: '2024-05-06T10:00:00Z' })))[0]).toMatchObject({ ok: true, record: { deathDate: '2024-05-06' } });
  });
});

describe('FHIR adapter: Observation', () => {
  it('turns a blood-pressure panel into one 163020007 event with {systolic, diastolic}', async () => {
    const [event] = events(await read(bundle('transaction', patient, bp('bp1'))));
    expect(event).toEqual({ kind: 'event', id: 'fhir:Observation/bp1', nhsNumber: '9434765919', code: '163020007', date: '2025-01-10', values: { systolic: 132, diastolic: 78 }, source: 'F83004' });
  });

  it('converts LOINC HbA1c in % to IFCC mmol/mol by the master equation and files it under 999791000000106', async () => {
    const [event] = events(await read(bundle('transaction', patient, hba1c('h1'), hba1c('h2', { valueQuantity: { value: 6.1, unit: '%', code: '%' } }))));
    expect(event).toMatchObject({ code: '999791000000106', value: Math.round((7.5 - 2.15) * 10.929), unit: 'mmol/mol' });
    expect(event!.system).toBeUndefined();
  });

  it('keeps a LOINC HbA1c in an unexpected unit as LOINC, unconverted', async () => {
    const [event] = events(await read(bundle('transaction', patient, hba1c('h1', { valueQuantity: { value: 48, unit: 'mmol/mol', code: 'mmol/mol' } }))));
    expect(event).toMatchObject({ code: '4548-4', system: 'loinc', value: 48, unit: 'mmol/mol' });
  });

  it('falls back to issued when there is no effective date, and quarantines when there is neither', async () => {
    const noDate = { effectiveDateTime: undefined, issued: '2025-02-03T08:00:00Z' };
    expect(events(await read(bundle('transaction', patient, hba1c('h1', noDate))))[0]!.date).toBe('2025-02-03');
    const items = await read(bundle('transaction', patient, hba1c('h1', { effectiveDateTime: undefined })));
    expect(items[1]).toMatchObject({ ok: false, code: 'CG_SOURCE_DATE', at: { pointer: '/entry/1/resource', recordId: 'Observation/h1' } });
  });

  it('makes entered-in-error a retraction and does not count cancelled results', async () => {
    const items = await read(bundle('batch', patient, bp('bp1', { status: 'entered-in-error' }), bp('bp2', { status: 'cancelled' })));
    expect(items[1]).toMatchObject({ ok: true, record: { kind: 'retract', id: 'fhir:Observation/bp1', nhsNumber: '9434765919' } });
    expect(items[2]).toMatchObject({ ok: false, code: 'CG_SOURCE_NOT_DONE' });
  });

  it('resolves subjects by urn:uuid, Patient/<id>, absolute URL and NHS-number identifier; quarantines unknown ones', async () => {
    const subjects = [
      { reference: 'urn:uuid:p1' },
      { reference: 'Patient/p1' },
      { reference: 'https://example.org/fhir/Patient/p1' },
      { identifier: { system: NHS, value: '9434765919' } },
    ];
    const obs = subjects.map((subject, i) => hba1c(`h${i}`, { subject }));
    const items = await read(bundle('transaction', patient, ...obs, hba1c('x', { subject: { reference: 'Patient/nobody' } })));
    expect(events(items).map((e) => e.nhsNumber)).toEqual(['9434765919', '9434765919', '9434765919', '9434765919']);
    expect(items.at(-1)).toMatchObject({ ok: false, code: 'CG_SOURCE_REFERENCE' });
  });
});

describe('FHIR adapter: other resources', () => {
  const subject = { reference: 'Patient/p1' };
  it('maps Condition (onset, else recordedDate), refuted does not count, entered-in-error retracts', async () => {
    const items = await read(
      bundle(
        'collection',
        patient,
        { resourceType: 'Condition', id: 'c1', subject, code: { coding: [{ system: 'http://snomed.info/sct', code: '44054006' }] }, recordedDate: '2015-03-01' },
        { resourceType: 'Condition', id: 'c2', subject, code: { coding: [{ system: 'http://snomed.info/sct', code: '44054006' }] }, onsetDateTime: '2015-03-01', verificationStatus: { coding: [{ code: 'refuted' }] } },
        { resourceType: 'Condition', id: 'c3', subject, code: { coding: [{ system: 'http://snomed.info/sct', code: '44054006' }] }, onsetDateTime: '2015-03-01', verificationStatus: { coding: [{ code: 'entered-in-error' }] } },
      ),
    );
    expect(items[1]).toMatchObject({ ok: true, record: { kind: 'event', code: '44054006', date: '2015-03-01' } });
    expect(items[2]).toMatchObject({ ok: false, code: 'CG_SOURCE_NOT_DONE' });
    expect(items[3]).toMatchObject({ ok: true, record: { kind: 'retract', id: 'fhir:Condition/c3' } });
  });

  it('maps medications from medicationCodeableConcept, a contained Medication and a bundled Medication', async () => {
    const dmd = { coding: [{ system: 'http://snomed.info/sct', code: '320030001' }] };
    const items = await read(
      bundle(
        'collection',
        patient,
        { resourceType: 'Medication', id: 'm1', code: dmd },
        { resourceType: 'MedicationRequest', id: 'r1', status: 'active', intent: 'order', subject, authoredOn: '2025-02-01', medicationCodeableConcept: dmd },
        { resourceType: 'MedicationRequest', id: 'r2', status: 'active', intent: 'order', subject, authoredOn: '2025-02-01', medicationReference: { reference: 'Medication/m1' } },
        {
          resourceType: 'MedicationStatement',
          id: 's1',
          status: 'active',
          subject,
          dateAsserted: '2025-02-02',
          contained: [{ resourceType: 'Medication', id: 'med', code: dmd } as FhirResource],
          medicationReference: { reference: '#med' },
        },
        { resourceType: 'MedicationStatement', id: 's2', status: 'not-taken', subject, effectiveDateTime: '2025-02-02', medicationCodeableConcept: dmd },
        { resourceType: 'MedicationRequest', id: 'r3', status: 'cancelled', intent: 'order', subject, authoredOn: '2025-02-01', medicationCodeableConcept: dmd },
      ),
    );
    expect(events(items).map((e) => [e.id, e.code, e.date])).toEqual([
      ['fhir:MedicationRequest/r1', '320030001', '2025-02-01'],
      ['fhir:MedicationRequest/r2', '320030001', '2025-02-01'],
      ['fhir:MedicationStatement/s1', '320030001', '2025-02-02'],
    ]);
    expect(quarantined(items).map((q) => q.code)).toEqual(['CG_SOURCE_UNSUPPORTED', 'CG_SOURCE_NOT_DONE', 'CG_SOURCE_NOT_DONE']);
  });

  it('maps Procedure, Immunization (recorded date fallback) and Encounter; not-done does not count', async () => {
    const snomed = (code: string) => ({ coding: [{ system: 'http://snomed.info/sct', code }] });
    const items = await read(
      bundle(
        'collection',
        patient,
        { resourceType: 'Procedure', id: 'pr1', status: 'completed', subject, code: snomed('134388005'), performedPeriod: { start: '2025-01-02T10:00:00Z' } },
        { resourceType: 'Procedure', id: 'pr2', status: 'not-done', subject, code: snomed('134388005'), performedDateTime: '2025-01-02' },
        { resourceType: 'Immunization', id: 'i1', status: 'completed', patient: subject, vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '140' }] }, occurrenceString: 'last winter', recorded: '2024-11-01' },
        { resourceType: 'Encounter', id: 'e1', status: 'finished', class: { code: 'AMB' }, subject, type: [snomed('185349003')], period: { start: '2025-01-02' } },
      ),
    );
    expect(events(items).map((e) => [e.code, e.system, e.date])).toEqual([
      ['134388005', undefined, '2025-01-02'],
      ['140', 'cvx', '2024-11-01'],
      ['185349003', undefined, '2025-01-02'],
    ]);
    expect(quarantined(items).map((q) => q.code)).toEqual(['CG_SOURCE_NOT_DONE']);
  });
});

describe('FHIR adapter: Bulk Data export', () => {
  it('reads NDJSON files and the manifest, Patient file first so references resolve, with line numbers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'caregaps-bulk-'));
    writeFileSync(join(dir, 'Observation.000.ndjson'), [JSON.stringify(hba1c('h1')), '{not json', JSON.stringify(bp('bp1', { subject: { reference: 'Patient/p1' } }))].join('\n') + '\n');
    writeFileSync(join(dir, 'Patient.000.ndjson'), '\ufeff' + JSON.stringify(patient) + '\n');
    const manifest = {
      transactionTime: '2025-03-31T00:00:00Z',
      request: 'https://example.org/fhir/$export',
      requiresAccessToken: true,
      output: [
        { type: 'Observation', url: 'https://example.org/files/Observation.000.ndjson' },
        { type: 'Patient', url: 'https://example.org/files/Patient.000.ndjson' },
      ],
      error: [],
    };
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
    const items: AdapterItem[] = [];
    for await (const item of readChecked(fhirAdapter, [join(dir, 'manifest.json')], { maps })) items.push(item);
    expect(items.map((i) => (i.ok ? i.record.kind : i.code))).toEqual(['patient', 'event', 'CG_SOURCE_PARSE', 'event']);
    expect(items[2]!.at).toEqual({ file: join(dir, 'Observation.000.ndjson'), line: 2 });
  });
});

describe('FHIR adapter: registration', () => {
  it('registers with an AdapterRegistry under its meta name', () => {
    const registry = new AdapterRegistry().register(fhirAdapter);
    expect(registry.names()).toEqual(['fhir-r4']);
  });
});

describe('FHIR adapter: record versions (DESIGN §3.1 v1.1)', () => {
  it('takes version from meta.versionId when it is a whole number, otherwise from meta.lastUpdated', async () => {
    const items = await read(
      bundle('collection', patient, hba1c('h1', { meta: { versionId: '3' } }), hba1c('h2', { meta: { versionId: 'W/"abc"', lastUpdated: '2025-02-01T00:00:00Z' } }), hba1c('h3')),
      { maps },
    );
    expect(events(items).map((e) => e.version ?? null)).toEqual([3, Date.parse('2025-02-01T00:00:00Z'), null]);
    const patients = items.flatMap((i) => (i.ok && i.record.kind === 'patient' ? [i.record] : []));
    expect(patients.map((p) => p.version)).toEqual([Date.parse('2024-01-01T00:00:00Z')]);
  });
});
