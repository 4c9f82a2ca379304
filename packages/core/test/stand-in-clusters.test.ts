// Rules whose clusters have no published content anywhere yet, pinned with stand-in codes in a scratch codeset
// source: LD_REG's removal rule (LDREM_COD: a removal on the same day as the latest LD code removes the patient),
// DM012's congenital absence of a foot (CONABL_COD, CONABR_COD), DM036's value-only split readings (SYSBP_COD,
// DIABP_COD) and AF008's DOAC / VKA reasons and generic decline (DOACCON, DOACNI, TTR, VITKANTAGCON, ORANTICOAGGENDEC). Stand-ins are real SNOMED CT codes borrowed from DMTYPE1_COD (which no registry here reads), or, for the
// two blood pressure clusters, the O/E systolic / diastolic codes of BP_COD; they exercise the rules only and never
// leave the scratch folder.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PatientStore, loadCodesets, loadRegistries, parseDay, preparePatient, type EventRecord } from '@caregaps/core';
import { CODESETS, REGISTRIES, SHARED_SOURCES } from './fixtures/codesets.js';

const scratch = mkdtempSync(join(tmpdir(), 'caregaps-stand-in-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const donors = [...loadCodesets(CODESETS).find((c) => c.cluster === 'DMTYPE1_COD')!.codes.keys()];
const standIn = (cluster: string, code: string) =>
  writeFileSync(
    join(scratch, `${cluster}.csv`),
    `# cluster: ${cluster}\n# title: Stand-in (test only)\n# refset: unknown\n# status: substitute\n# publisher: test\n# release: test\n# source: test\n# copied-from: stand-in (packages/core/test/stand-in-clusters.test.ts)\ncode,term\n"${code}","stand-in"\n`,
  );
const donor = donors[0]!;
const CONABL = donors[1]!;
const CONABR = donors[2]!;
standIn('LDREM_COD', donor);
standIn('CONABL_COD', CONABL);
standIn('CONABR_COD', CONABR);
standIn('SYSBP_COD', '163030003');
standIn('DIABP_COD', '163031004');
const [DOACCON, DOACNI, VKACON, GENDEC, TTR] = donors.slice(3, 8) as [string, string, string, string, string];
standIn('DOACCON_COD', DOACCON);
standIn('DOACNI_COD', DOACNI);
standIn('VITKANTAGCON_COD', VKACON);
standIn('ORANTICOAGGENDEC_COD', GENDEC);
standIn('TTR_COD', TTR);
const { compiled, index } = loadRegistries(REGISTRIES, CODESETS, { only: ['learning-disability', 'diabetes'], codesetSources: [scratch] });
const ld = compiled.find((r) => r.id === 'learning-disability')!;
// AF008 reads the drug refsets and the mechanical valve list of the shared sources, then the stand-ins.
const af = loadRegistries(REGISTRIES, CODESETS, { only: ['atrial-fibrillation'], codesetSources: [...SHARED_SOURCES, scratch] });
const af008 = af.compiled[0]!;

function af008Status(events: { code: string; date: string; value?: number }[]): string | undefined {
  const store = new PatientStore();
  store.apply({ kind: 'patient', nhsNumber: '9990000018', birthDate: '1940-01-01', sex: 'female', practice: 'T1', registeredFrom: '2000-01-01', registeredTo: null, deathDate: null });
  // 49436004 Atrial fibrillation (AFIB_COD); 763007002 CHADS2 score (CHAD_COD), 3, before April 2015.
  [{ code: '49436004', date: '2010-01-01' }, { code: '763007002', date: '2014-01-01', value: 3 }, ...events].forEach((e, n) =>
    store.apply({ kind: 'event', id: `e${n}`, nhsNumber: '9990000018', ...e } as EventRecord),
  );
  const outcome = af008.evaluate(preparePatient(store.get('9990000018')!, af.index)!, parseDay('2025-03-31')!);
  return outcome.statuses[af008.indicatorIds.indexOf('AF008')];
}
const diabetes = compiled.find((r) => r.id === 'diabetes')!;

function diabetesStatus(indicator: string, events: { code: string; date: string; value?: number }[]): string | undefined {
  const store = new PatientStore();
  store.apply({ kind: 'patient', nhsNumber: '9990000018', birthDate: '1960-01-01', sex: 'female', practice: 'T1', registeredFrom: '2000-01-01', registeredTo: null, deathDate: null });
  // 44054006 Diabetes mellitus type 2 (DM_COD).
  [{ code: '44054006', date: '2015-03-01' }, ...events].forEach((e, n) => store.apply({ kind: 'event', id: `e${n}`, nhsNumber: '9990000018', ...e } as EventRecord));
  const outcome = diabetes.evaluate(preparePatient(store.get('9990000018')!, index)!, parseDay('2025-03-31')!);
  return outcome.statuses[diabetes.indicatorIds.indexOf(indicator)];
}

// 416075005 On learning disability register (LD_COD, shared/reference/clinical-rules.md §2).
function onRegister(events: { code: string; date: string }[]): boolean {
  const store = new PatientStore();
  store.apply({ kind: 'patient', nhsNumber: '9990000018', birthDate: '1990-01-01', sex: 'female', practice: 'T1', registeredFrom: '2000-01-01', registeredTo: null, deathDate: null });
  events.forEach((e, n) => store.apply({ kind: 'event', id: `e${n}`, nhsNumber: '9990000018', ...e } as EventRecord));
  return ld.evaluate(preparePatient(store.get('9990000018')!, index)!, parseDay('2025-03-31')!).onRegister;
}

describe('LD_REG removal (LDREM_COD, with a stand-in code)', () => {
  it('a removal the day before the latest LD code does not remove the patient', () => {
    expect(onRegister([{ code: '416075005', date: '2020-05-02' }, { code: donor, date: '2020-05-01' }])).toBe(true);
  });
  it('a removal on the same day as the latest LD code removes the patient', () => {
    expect(onRegister([{ code: '416075005', date: '2020-05-01' }, { code: donor, date: '2020-05-01' }])).toBe(false);
  });
  it('a removal after the latest LD code removes the patient; a later LD code puts them back', () => {
    expect(onRegister([{ code: '416075005', date: '2020-05-01' }, { code: donor, date: '2021-01-01' }])).toBe(false);
    expect(onRegister([{ code: '416075005', date: '2020-05-01' }, { code: donor, date: '2021-01-01' }, { code: '416075005', date: '2022-01-01' }])).toBe(true);
  });
});

describe('DM012 rule 2 with congenital absence of a foot (stand-in codes)', () => {
  // AMPR_COD has no content either, so the right side is a congenital absence too.
  it('no foot on either side (congenital absence of both) is not applicable', () => {
    expect(diabetesStatus('DM012', [{ code: CONABL, date: '1960-01-01' }, { code: CONABR, date: '1960-01-01' }])).toBe('not-applicable');
  });
  it('a congenital absence of one foot leaves the patient in the indicator (gap without a risk classification)', () => {
    expect(diabetesStatus('DM012', [{ code: CONABL, date: '1960-01-01' }])).toBe('gap');
  });
});

describe('DM036 with value-only split readings (SYSBP_COD, DIABP_COD stand-ins)', () => {
  // 163030003 / 163031004 O/E systolic / diastolic BP reading, each sent with a plain value.
  it('a systolic value and a diastolic value on one date are one reading: 140/90 met', () => {
    expect(diabetesStatus('DM036', [{ code: '163030003', date: '2024-10-01', value: 140 }, { code: '163031004', date: '2024-10-01', value: 90 }])).toBe('met');
  });
  it('141 systolic is a gap', () => {
    expect(diabetesStatus('DM036', [{ code: '163030003', date: '2024-10-01', value: 141 }, { code: '163031004', date: '2024-10-01', value: 90 }])).toBe('gap');
  });
  it('on different dates they are not a reading: gap', () => {
    expect(diabetesStatus('DM036', [{ code: '163030003', date: '2024-10-01', value: 120 }, { code: '163031004', date: '2024-10-02', value: 70 }])).toBe('gap');
  });
});

describe('AF008 rules that need clusters with no published content (stand-in codes)', () => {
  // 319733000 Warfarin 1mg tablets (vitamin K antagonist refset 93141000001109, shared/codelists/substitutes/nhs-drug-refsets-20231025).
  const warfarin = { code: '319733000', date: '2024-12-01' };
  it('rule 3: warfarin with a DOAC contraindication is met; without a reason it is a gap', () => {
    expect(af008Status([warfarin, { code: DOACCON, date: '2019-01-01' }])).toBe('met');
    expect(af008Status([warfarin])).toBe('gap');
  });
  it('rule 3: DOAC not indicated in the year with TTR 65 % recorded after PPED - 6 months is met; 64 % is not', () => {
    expect(af008Status([warfarin, { code: DOACNI, date: '2024-06-01' }, { code: TTR, date: '2024-11-01', value: 65 }])).toBe('met');
    expect(af008Status([warfarin, { code: DOACNI, date: '2024-06-01' }, { code: TTR, date: '2024-11-01', value: 64 }])).toBe('gap');
  });
  it('rule 6: a VKA contraindication and DOAC not indicated, without an anticoagulant, is excepted', () => {
    expect(af008Status([{ code: VKACON, date: '2019-01-01' }, { code: DOACNI, date: '2024-06-01' }])).toBe('excepted');
    expect(af008Status([{ code: VKACON, date: '2019-01-01' }])).toBe('gap');
  });
  it('rule 7: a generic anticoagulant decline in the year is excepted; on PPED - 12 months it is not', () => {
    expect(af008Status([{ code: GENDEC, date: '2024-04-01' }])).toBe('excepted');
    expect(af008Status([{ code: GENDEC, date: '2024-03-31' }])).toBe('gap');
  });
});
