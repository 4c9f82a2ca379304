// Blood pressure sent as two rows of one date (163030003 systolic, 163031004 diastolic, each with `value`): the
// bundled normalisation map labels each row's value as its component, each row stays its own record (so a correction
// or deletion of either row still applies), and the registries' same-date pairing reads the two as one reading.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PatientStore, loadNormalisationMaps, loadRegistries, parseDay, preparePatient, readChecked, type AdapterItem } from '@caregaps/core';
import { extractAdapter, loadColumnMap } from '@caregaps/extract';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const maps = loadNormalisationMaps(join(ROOT, 'codesets/maps'));
const columnMap = loadColumnMap(join(ROOT, 'packages/extract/maps/emis-style.yaml'));
const { compiled, index } = loadRegistries(join(ROOT, 'registries'), join(ROOT, 'codesets'), ['diabetes']);
const diabetes = compiled[0]!;

const PATIENTS = `PatientGuid,NhsNumber,DateOfBirth,Sex,OrganisationOds,DateOfRegistration,DateOfDeactivation,DateOfDeath,LastUpdated
{A1},9990000018,02/03/1957,F,F83004,01/05/2001,,,
`;
// 44054006 Diabetes mellitus type 2 (DM_COD); 163030003 / 163031004 O/E systolic / diastolic BP reading (BP_COD,
// shared/reference/clinical-rules.md §2, and rows of codesets/maps/blood-pressure.csv).
const observations = (rows: string[]) => `ObservationGuid,PatientGuid,SnomedCTConceptId,EffectiveDate,Value,NumericUnit,OrganisationOds,Deleted
{O1},{A1},44054006,01/03/2015,,,F83004,false
${rows.join('\n')}
`;

async function dm036(rows: string[]): Promise<{ status: string | undefined; events: AdapterItem[] }> {
  const items: AdapterItem[] = [];
  const inputs = [{ name: 'Admin_Patient.csv', text: PATIENTS }, { name: 'CareRecord_Observation.csv', text: observations(rows) }];
  for await (const item of readChecked(extractAdapter, inputs, { maps, columnMap })) items.push(item);
  const store = new PatientStore();
  for (const item of items) if (item.ok) store.apply(item.record);
  const outcome = diabetes.evaluate(preparePatient(store.get('9990000018')!, index)!, parseDay('2025-03-31')!);
  return { status: outcome.statuses[diabetes.indicatorIds.indexOf('DM036')], events: items.filter((i) => i.ok && i.record.kind === 'event') };
}

describe('split systolic and diastolic rows', () => {
  it('become one event each, carrying its own component, and count as one reading (DM036 met)', async () => {
    const { status, events } = await dm036(['{O2},{A1},163030003,10/01/2025,138,mm[Hg],F83004,false', '{O3},{A1},163031004,10/01/2025,88,mm[Hg],F83004,false']);
    const bp = events.filter((i) => i.ok && i.record.kind === 'event' && i.record.code === '163020007').map((i) => (i.ok && i.record.kind === 'event' ? [i.record.id, i.record.values] : []));
    expect(bp).toEqual([
      ['emis:{O2}', { systolic: 138 }],
      ['emis:{O3}', { diastolic: 88 }],
    ]);
    expect(status).toBe('met');
  });

  it('on different dates are not a reading (DM036 gap)', async () => {
    const { status } = await dm036(['{O2},{A1},163030003,10/01/2025,138,mm[Hg],F83004,false', '{O3},{A1},163031004,11/01/2025,88,mm[Hg],F83004,false']);
    expect(status).toBe('gap');
  });

  it('a deleted diastolic row leaves the systolic alone, so there is no reading (DM036 gap)', async () => {
    const { status } = await dm036([
      '{O2},{A1},163030003,10/01/2025,138,mm[Hg],F83004,false',
      '{O3},{A1},163031004,10/01/2025,88,mm[Hg],F83004,false',
      '{O3},{A1},163031004,10/01/2025,88,mm[Hg],F83004,true',
    ]);
    expect(status).toBe('gap');
  });
});
