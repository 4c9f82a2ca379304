/** The opt-outs a resident can hold (DESIGN §5). */
export type OptOut = 'shared-record' | 'secondary-use' | 'national-data-opt-out' | 'type-1';

/** Patient upsert, keyed by NHS number. The latest upsert replaces the previous demographics. */
export interface PatientRecord {
  kind: 'patient';
  nhsNumber: string;
  birthDate: string;
  sex: 'female' | 'male' | 'other' | 'unknown';
  /** ODS code of the registered GP practice. */
  practice: string;
  registeredFrom: string;
  /** `null` (or absent) while still registered. */
  registeredTo?: string | null;
  deathDate?: string | null;
  optOuts?: OptOut[];
  /** The organisation that sent this record. */
  source?: string;
}

/** One coded clinical entry. A second event with the same `id` replaces the first. */
export interface EventRecord {
  kind: 'event';
  id: string;
  nhsNumber: string;
  /** SNOMED CT concept id (dm+d medicines are SNOMED ids too), as a string. */
  code: string;
  /** Code system; absent means `snomed`. */
  system?: string;
  /** Clinical date, YYYY-MM-DD. */
  date: string;
  value?: number;
  unit?: string;
  /** Named numeric components, e.g. `{systolic, diastolic}` for a blood pressure. */
  values?: Record<string, number>;
  source?: string;
}

/** The event with this id was entered in error: it is removed everywhere as if never received. */
export interface RetractRecord {
  kind: 'retract';
  id: string;
  nhsNumber: string;
  source?: string;
}

/** A node of the organisation hierarchy used for aggregation. */
export interface OrganisationRecord {
  kind: 'organisation';
  code: string;
  name: string;
  type: 'practice' | 'pcn' | 'borough' | 'icb';
  parent?: string | null;
  listSize?: number;
}

/** Any line of a record stream in format v1. */
export type CaregapsRecord = PatientRecord | EventRecord | RetractRecord | OrganisationRecord;
