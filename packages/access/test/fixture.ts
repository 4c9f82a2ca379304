import { fileURLToPath } from 'node:url';
import {
  PatientStore,
  loadRegistries,
  withCheckDigit,
  type CaregapsRecord,
  type EventRecord,
  type LoadedRegistries,
  type OptOut,
  type OrganisationRecord,
  type PatientRecord,
} from '@caregaps/core';
import { BatchResultsSource, OrganisationHierarchy } from '../src/index.js';
import { Prng } from '@caregaps/synthetic';

/** Real codes from codesets/: DM_COD, IFCCHBAM_COD, CHOL2_COD, MODFRAIL_COD. */
export const CODES = {
  diabetes: '44054006',
  hba1c: '999791000000106',
  cholesterol: '1005671000000105',
  moderateFrailty: '1129381000000102',
} as const;

export const AS_OF = '2025-03-31';
/** The access day used by tests (the clock), after the achievement date. */
export const TODAY = new Date('2025-04-15T10:00:00Z');
export const HOSPITAL = 'H0001';

const root = (p: string) => fileURLToPath(new URL(`../../../${p}`, import.meta.url));
let loaded: LoadedRegistries | undefined;

/** The bundled diabetes registry, compiled against the bundled codesets (loaded once). */
export function diabetes(): LoadedRegistries {
  loaded ??= loadRegistries(root('registries'), root('codesets'), ['diabetes']);
  return loaded;
}

/** ICB → 2 boroughs → 2 PCNs each → `practicesPerPcn` practices each, plus a hospital trust (not a practice). */
export function organisations(practicesPerPcn = 3): OrganisationRecord[] {
  const orgs: OrganisationRecord[] = [{ kind: 'organisation', code: 'ICB01', name: 'Test ICB', type: 'icb', parent: null }];
  let p = 0;
  for (let b = 1; b <= 2; b++) {
    orgs.push({ kind: 'organisation', code: `BOR0${b}`, name: `Borough ${b}`, type: 'borough', parent: 'ICB01' });
    for (let n = 1; n <= 2; n++) {
      const pcn = `PCN${b}${n}`;
      orgs.push({ kind: 'organisation', code: pcn, name: `PCN ${b}.${n}`, type: 'pcn', parent: `BOR0${b}` });
      for (let k = 0; k < practicesPerPcn; k++) {
        p++;
        orgs.push({ kind: 'organisation', code: `P${String(p).padStart(5, '0')}`, name: `Practice ${p}`, type: 'practice', parent: pcn });
      }
    }
  }
  return orgs;
}

export function practicesOf(orgs: readonly OrganisationRecord[]): string[] {
  return orgs.filter((o) => o.type === 'practice').map((o) => o.code);
}

/** Reproducible random numbers in [0, 1) from a seed (the synthetic generator's PRNG), so failures reproduce. */
export function random(seed: number): () => number {
  const prng = new Prng(seed);
  return () => prng.float();
}

/** The n-th valid NHS number of a series (stems with check digit 10 are skipped). */
export function nhsNumbers(count: number, start = 400_000_000): string[] {
  const out: string[] = [];
  for (let stem = start; out.length < count; stem++) {
    const n = withCheckDigit(stem);
    if (n) out.push(n);
  }
  return out;
}

export interface PatientSpec {
  nhsNumber: string;
  practice: string;
  optOuts?: OptOut[];
  diabetic?: boolean;
  /** HbA1c value in mmol/mol (recorded 2024-11-01), or none. */
  hba1c?: number;
  /** Which organisation sent the HbA1c (default: the practice). */
  hba1cSource?: string;
  /** A cholesterol result sent by the hospital. */
  hospitalCholesterol?: boolean;
  registeredTo?: string | null;
}

export function recordsOf(spec: PatientSpec): CaregapsRecord[] {
  const patient: PatientRecord = {
    kind: 'patient',
    nhsNumber: spec.nhsNumber,
    birthDate: '1960-06-15',
    sex: 'female',
    practice: spec.practice,
    registeredFrom: '2005-01-01',
    registeredTo: spec.registeredTo ?? null,
    deathDate: null,
    optOuts: spec.optOuts ?? [],
  };
  const records: CaregapsRecord[] = [patient];
  const event = (id: string, code: string, date: string, source: string, value?: number): EventRecord => {
    const e: EventRecord = { kind: 'event', id: `${source}:${spec.nhsNumber}:${id}`, nhsNumber: spec.nhsNumber, code, date, source };
    if (value !== undefined) {
      e.value = value;
      e.unit = 'mmol/mol';
    }
    return e;
  };
  if (spec.diabetic) records.push(event('dm', CODES.diabetes, '2015-03-01', spec.practice));
  if (spec.hba1c !== undefined) records.push(event('hba1c', CODES.hba1c, '2024-11-01', spec.hba1cSource ?? spec.practice, spec.hba1c));
  if (spec.hospitalCholesterol) records.push(event('chol', CODES.cholesterol, '2024-10-01', HOSPITAL, 5));
  return records;
}

/** A results source over the given patients and organisations. */
export function sourceOf(specs: readonly PatientSpec[], orgs: readonly OrganisationRecord[] = organisations()): BatchResultsSource {
  const store = new PatientStore();
  for (const spec of specs) for (const r of recordsOf(spec)) store.apply(r);
  const { compiled, index } = diabetes();
  return new BatchResultsSource(store, compiled, index, new OrganisationHierarchy(orgs), AS_OF);
}

const ALL_OPT_OUTS: OptOut[] = ['shared-record', 'secondary-use', 'national-data-opt-out', 'type-1'];

/** A generated population: about 70% diabetic, HbA1c spread over met and gap, some opt-outs and hospital results. */
export function population(seed: number, size: number, practices: readonly string[]): PatientSpec[] {
  const rnd = random(seed);
  return nhsNumbers(size, 400_000_000 + seed * 10_000).map((nhsNumber) => {
    const spec: PatientSpec = { nhsNumber, practice: practices[Math.floor(rnd() * practices.length)]! };
    if (rnd() < 0.7) {
      spec.diabetic = true;
      if (rnd() < 0.9) spec.hba1c = 40 + Math.floor(rnd() * 50);
      if (rnd() < 0.3) spec.hba1cSource = HOSPITAL;
    }
    if (rnd() < 0.3) spec.hospitalCholesterol = true;
    if (rnd() < 0.25) spec.optOuts = [ALL_OPT_OUTS[Math.floor(rnd() * ALL_OPT_OUTS.length)]!];
    if (rnd() < 0.05) spec.registeredTo = '2024-01-01';
    return spec;
  });
}
