// Rules whose clusters have no published content anywhere yet, pinned with a stand-in code in a scratch codeset
// source: LD_REG's removal rule (LDREM_COD) — a removal on the same day as the latest LD code removes the patient.
// The stand-in is a real SNOMED CT code borrowed from DMTYPE1_COD (which no registry here reads); it exercises the rule
// only and never leaves the scratch folder.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PatientStore, loadCodesets, loadRegistries, parseDay, preparePatient, type EventRecord } from '@caregaps/core';
import { CODESETS, REGISTRIES } from './fixtures/codesets.js';

const scratch = mkdtempSync(join(tmpdir(), 'caregaps-stand-in-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const donor = [...loadCodesets(CODESETS).find((c) => c.cluster === 'DMTYPE1_COD')!.codes.keys()][0]!;
writeFileSync(
  join(scratch, 'LDREM_COD.csv'),
  `# cluster: LDREM_COD
# title: Stand-in for the learning disability register removal codes (test only)
# refset: unknown
# status: substitute
# publisher: test
# release: test
# source: test
# copied-from: a DMTYPE1_COD code borrowed as a stand-in (packages/core/test/stand-in-removal.test.ts)
code,term
"${donor}","stand-in"
`,
);
const { compiled, index } = loadRegistries(REGISTRIES, CODESETS, { only: ['learning-disability'], codesetSources: [scratch] });
const ld = compiled[0]!;

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
