// With the shared codeset sources (../shared/codelists, read in place, never copied), the clusters issue 11 names
// are complete or flagged, and the rules reading them work. Every code in a case is read from the shared file that
// holds it at test time; the one quoted here (196371000000102, AFIBRES_COD) is from
// ../shared/codelists/pcd-20240531/AFIBRES_COD.csv (PCD refset content release 20240531).
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadRegistries, provisionalReason, type LoadedRegistries } from '@caregaps/core';
import { parseTestFile, runCases } from '@caregaps/testing';
import { SHARED_CODESET_SOURCES } from './shared-sources.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const shared = (path: string) => fileURLToPath(new URL(`../../../../shared/codelists/${path}`, import.meta.url));
/** The first code of a shared code list (header `code,…`). */
const firstCode = (path: string) => readFileSync(shared(path), 'utf8').split('\n')[1]!.split(',')[0]!;

describe.skipIf(!SHARED_CODESET_SOURCES.every(existsSync) && !process.env['CI'])('the shared codeset sources', () => {
  const load = (sources: readonly string[]): LoadedRegistries =>
    loadRegistries(`${root}registries`, `${root}codesets`, { codesetSources: sources });
  const withSources = load(SHARED_CODESET_SOURCES);
  const bundledOnly = load([]);

  it.each([
    ['FRC_COD', 14],
    ['REV_COD', 10],
    ['ASTTRT_COD', 1555],
    ['LIT_COD', 66],
    ['LITSTP_COD', 1],
    ['AFIBRES_COD', 1],
    ['FEV1FVC_COD', 1],
    ['FEV1FVCL70_COD', 1],
  ])('%s is complete with %i codes (missing in the bundled codesets)', (cluster, codes) => {
    expect(bundledOnly.index.codeset(cluster)!.status).toBe('missing');
    expect(withSources.index.codeset(cluster)).toMatchObject({ status: 'complete' });
    expect(withSources.index.codeset(cluster)!.codes.size).toBe(codes);
  });

  it('the drug refsets keep their dm+d refset ids; the AF008 drug lists are labelled substitutes', () => {
    expect(withSources.index.codeset('ASTTRT_COD')!.refset).toBe('12463601000001108');
    expect(withSources.index.codeset('LIT_COD')!.refset).toBe('12465601000001107');
    const doac = withSources.sources[2]!.codesets.find((c) => c.cluster === 'DIRECTORANTICOAGDRUG_COD')!;
    expect([doac.status, doac.codes.size]).toEqual(['substitute', 96]);
  });

  it('BP_COD from the 2020 export is partial against the 2024-05-31 count, and what reads it stays provisional', () => {
    expect(withSources.index.codeset('BP_COD')).toMatchObject({ status: 'partial', expected: { count: 161, release: '20240531' } });
    const diabetes = withSources.compiled.find((r) => r.id === 'diabetes')!;
    const readsBp = Object.values(diabetes.provisional.indicators).filter((c) => c.some((x) => x.cluster === 'BP_COD'));
    expect(readsBp.length).toBeGreaterThan(0);
    expect(provisionalReason(readsBp[0]!)).toContain('BP_COD (partial: 97 of 161 codes)');
  });

  it('the flags that the sources clear: the AF, COPD and SMI registers, the children asthma review indicator', () => {
    for (const id of ['atrial-fibrillation', 'copd', 'smi']) {
      expect(bundledOnly.compiled.find((r) => r.id === id)!.provisional.register.length).toBeGreaterThan(0);
      expect(withSources.compiled.find((r) => r.id === id)!.provisional.register).toEqual([]);
    }
    const asthma = withSources.compiled.find((r) => r.id === 'asthma-children')!;
    for (const clusters of Object.values(asthma.provisional.indicators)) expect(clusters.map((c) => c.cluster)).not.toContain('REV_COD');
  });

  const run = (loaded: LoadedRegistries, registry: string, cases: string) => {
    const compiled = loaded.compiled.find((r) => r.id === registry)!;
    return runCases(compiled, loaded.index, parseTestFile(cases, `${registry}-shared.yaml`));
  };

  it('DM012: a foot risk classification in the year meets it with the sources; without them it cannot', () => {
    // A diabetes code in both the bundled DM_COD and the release's (the sources replace it).
    const dm = [...bundledOnly.index.codeset('DM_COD')!.codes.keys()].find((c) => withSources.index.codeset('DM_COD')!.codes.has(c))!;
    const cases = (status: string) => `
registry: diabetes
asOf: "2025-03-31"
patient: { birthDate: "1960-01-01", sex: female, practice: F83004, registeredFrom: "2000-01-01" }
cases:
  - name: diabetes and a foot risk classification in the year
    events:
      - { code: "${dm}", date: "2015-01-01" }
      - { code: "${firstCode('opencodelists/FRC_COD.csv')}", date: "2024-10-01" }
    expect: { register: true, indicators: { DM012: ${status} } }
`;
    expect(run(withSources, 'diabetes', cases('met')).map((r) => r.failures)).toEqual([[]]);
    expect(run(bundledOnly, 'diabetes', cases('gap')).map((r) => r.failures)).toEqual([[]]);
  });

  it('lithium (LIT_COD, the MH register route): issued in the last 6 months puts a patient with no diagnosis on the register', () => {
    const cases = `
registry: smi
asOf: "2025-03-31"
patient: { birthDate: "1980-01-01", sex: female, practice: F83004, registeredFrom: "2000-01-01" }
cases:
  - name: lithium issued in the last six months, no diagnosis
    events: [{ code: "${firstCode('substitutes/nhs-drug-refsets-20231025/LIT_COD-12465601000001107-lithium.csv')}", date: "2025-02-01" }]
    expect: { register: true }
  - name: lithium issued, then stopped
    events:
      - { code: "${firstCode('substitutes/nhs-drug-refsets-20231025/LIT_COD-12465601000001107-lithium.csv')}", date: "2025-02-01" }
      - { code: "${firstCode('pcd-20240531/LITSTP_COD.csv')}", date: "2025-03-01" }
    expect: { register: false }
`;
    expect(run(withSources, 'smi', cases).map((r) => r.failures)).toEqual([[], []]);
  });

  it('AF resolution (AFIBRES_COD 196371000000102) after the latest diagnosis removes the patient from the register', () => {
    expect(firstCode('pcd-20240531/AFIBRES_COD.csv')).toBe('196371000000102');
    const cases = (onRegister: boolean) => `
registry: atrial-fibrillation
asOf: "2025-03-31"
patient: { birthDate: "1950-01-01", sex: female, practice: F83004, registeredFrom: "2000-01-01" }
cases:
  - name: AF in 2015, resolved in 2020
    events:
      - { code: "${[...withSources.index.codeset('AFIB_COD')!.codes.keys()][0]}", date: "2015-01-01" }
      - { code: "196371000000102", date: "2020-01-01" }
    expect: { register: ${onRegister} }
`;
    expect(run(withSources, 'atrial-fibrillation', cases(false)).map((r) => r.failures)).toEqual([[]]);
    expect(run(bundledOnly, 'atrial-fibrillation', cases(true)).map((r) => r.failures)).toEqual([[]]);
  });

  it('COPD spirometry (FEV1FVCL70_COD): a ratio below 0.7 near a 2024 diagnosis confirms it by register rule 3; without the source rule 5 selects', () => {
    const copd = [...withSources.index.codeset('COPD_COD')!.codes.keys()].find((c) => bundledOnly.index.codeset('COPD_COD')!.codes.has(c))!;
    const cases = (rule: number) => `
registry: copd
asOf: "2025-03-31"
patient: { birthDate: "1950-01-01", sex: female, practice: F83004, registeredFrom: "2000-01-01" }
cases:
  - name: COPD diagnosed in 2024 with a FEV1/FVC below 0.7 a month later
    events:
      - { code: "${copd}", date: "2024-01-10" }
      - { code: "${firstCode('pcd-20240531/FEV1FVCL70_COD.csv')}", date: "2024-02-10" }
    expect: { register: true, decidedBy: { register: ${rule} } }
`;
    expect(run(withSources, 'copd', cases(3)).map((r) => r.failures)).toEqual([[]]);
    expect(run(bundledOnly, 'copd', cases(5)).map((r) => r.failures)).toEqual([[]]);
  });
});
