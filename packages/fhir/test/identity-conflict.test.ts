/**
 * One FHIR id, two NHS numbers (issue 13, item 7): the conflict is quarantined, never resolved by filing one patient's
 * data under the other's NHS number. 9434765919 and 9434765870 are valid Modulus 11 numbers (docs/records.md example
 * and its neighbour in the test range used throughout the tests).
 */
import { describe, expect, it } from 'vitest';
import { isValidNhsNumber, readChecked, type AdapterItem } from '@caregaps/core';
import { fhirAdapter } from '@caregaps/fhir';

const A = '9434765919';
const B = '9434765870';
const patient = (nhs: string) => ({
  resourceType: 'Patient',
  id: 'p1',
  identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: nhs }],
  birthDate: '1957-03-02',
  gender: 'female',
  generalPractitioner: [{ identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'F83004' } }],
});
const observation = {
  resourceType: 'Observation',
  id: 'o1',
  status: 'final',
  subject: { reference: 'Patient/p1' },
  code: { coding: [{ system: 'http://snomed.info/sct', code: '44054006' }] },
  effectiveDateTime: '2020-01-01',
};

async function read(inputs: { name: string; text: string }[]): Promise<AdapterItem[]> {
  const items: AdapterItem[] = [];
  for await (const item of readChecked(fhirAdapter, inputs, {})) items.push(item);
  return items;
}

function figure(label: string, resources: number, items: AdapterItem[]) {
  const accepted = items.filter((i) => i.ok);
  const nhsOf = (i: AdapterItem) => (i.ok && 'nhsNumber' in i.record ? i.record.nhsNumber : undefined);
  // Misfiled: a record for patient B's Patient resource, or the Observation, under an NHS number that is not its own.
  const patientsAccepted = accepted.filter((i) => i.ok && i.record.kind === 'patient').map(nhsOf);
  const misfiled = patientsAccepted.filter((n, k) => patientsAccepted.indexOf(n) !== k).length + accepted.filter((i) => i.ok && i.record.kind === 'event').length;
  const conflicts = items.filter((i) => !i.ok && i.code === 'CG_SOURCE_CONFLICT').length;
  console.log(`${label}: resources ${resources}; accepted ${accepted.length}; quarantined as conflicts ${conflicts}; misfiled ${misfiled}; lost ${resources - items.length}`);
  return { accepted: accepted.length, conflicts, misfiled, lost: resources - items.length };
}

describe('two Patients with one id and different NHS numbers', () => {
  it('in one Bundle: the second Patient and the Observation are quarantined', async () => {
    expect([A, B].every(isValidNhsNumber)).toBe(true);
    const bundle = { resourceType: 'Bundle', type: 'collection', entry: [patient(A), patient(B), observation].map((resource) => ({ resource })) };
    const items = await read([{ name: 'b.json', text: JSON.stringify(bundle) }]);
    expect(figure('FHIR id conflict (Bundle)', 3, items)).toEqual({ accepted: 1, conflicts: 2, misfiled: 0, lost: 0 });
    expect(items.map((i) => (i.ok ? `${i.record.kind}:${'nhsNumber' in i.record ? i.record.nhsNumber : ''}` : i.code))).toEqual([
      `patient:${A}`,
      'CG_SOURCE_CONFLICT',
      'CG_SOURCE_CONFLICT',
    ]);
    expect(items[1]!.at).toMatchObject({ pointer: '/entry/1/resource', recordId: 'Patient/p1' });
  });

  it('in a Bulk export: the conflicting Patient line and later references are quarantined', async () => {
    const items = await read([
      { name: 'Patient.ndjson', text: [patient(A), patient(B)].map((r) => JSON.stringify(r)).join('\n') },
      { name: 'Observation.ndjson', text: JSON.stringify(observation) },
    ]);
    expect(figure('FHIR id conflict (Bulk NDJSON)', 3, items)).toEqual({ accepted: 1, conflicts: 2, misfiled: 0, lost: 0 });
    expect(items[1]!.at).toMatchObject({ file: 'Patient.ndjson', line: 2 });
  });

  it('a repeated Patient with the same NHS number is no conflict', async () => {
    const bundle = { resourceType: 'Bundle', type: 'collection', entry: [patient(A), patient(A), observation].map((resource) => ({ resource })) };
    const items = await read([{ name: 'b.json', text: JSON.stringify(bundle) }]);
    expect(items.map((i) => (i.ok ? i.record.kind : i.code))).toEqual(['patient', 'patient', 'event']);
  });
});

describe('separate Bundle documents', () => {
  it('may reuse an id for another patient: each resolves its own, nothing is misfiled', async () => {
    const doc = (nhs: string) => JSON.stringify({ resourceType: 'Bundle', type: 'collection', entry: [patient(nhs), observation].map((resource) => ({ resource })) });
    const items = await read([
      { name: 'one.json', text: doc(A) },
      { name: 'two.json', text: doc(B) },
    ]);
    expect(items.map((i) => (i.ok && 'nhsNumber' in i.record ? `${i.record.kind}:${i.record.nhsNumber}` : i.ok ? i.record.kind : i.code))).toEqual([
      `patient:${A}`,
      `event:${A}`,
      `patient:${B}`,
      `event:${B}`,
    ]);
  });
});
