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
  /** Grows with each edit at the source: an older version than the one held is stale and not applied (v1.1). */
  version?: number;
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
  /** The sending system: with `id` it identifies the event (v1.1). Absent: the unnamed source (v1 records). */
  source?: string;
  /** Grows with each edit at the source: an older version than the one held is stale and not applied (v1.1). */
  version?: number;
  /**
   * A declared correction: this source's event with this id is held for that other NHS number (filed under the
   * wrong patient) and moves to `nhsNumber`. Without it, an id held for another NHS number is quarantined.
   */
  correctsNhsNumber?: string;
}

/**
 * The event with this id was entered in error: it is removed everywhere as if never received, and stays removed
 * (the retraction is kept, so it holds whichever arrives first). With `source`, it names that source's event;
 * without, the event of that id in every source. Only events filed under `nhsNumber` are removed.
 */
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
