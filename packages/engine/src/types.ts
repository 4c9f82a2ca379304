import type { Explanation, IndicatorStatus } from '@caregaps/core';

/** A change of register membership or of an indicator status for one patient, as it happens. */
export interface Change {
  nhsNumber: string;
  registry: string;
  /** Absent when the patient joins or leaves the register. */
  indicator?: string;
  /** `on`/`off` for the register; otherwise the indicator status (`null` when the patient was not on the register). */
  before: IndicatorStatus | 'on' | 'off' | null;
  after: IndicatorStatus | 'on' | 'off' | null;
  /** Achievement date the change holds on, YYYY-MM-DD. */
  asOf: string;
  /** ODS code of the patient's practice. */
  practice: string;
  /** Why the patient has the new statuses (only when the engine was created with `explainChanges`). */
  explanation?: Explanation;
}

/**
 * A record the engine has accepted, stored (committed) and applied, as `Engine.writes$` tells it: a patient record
 * (registration, demographics, opt-outs; read it back with `engine.record(nhsNumber)`) or an organisation record
 * (the hierarchy counts roll up through). Events are not told here: what they change, `changes$` tells.
 */
export type RecordWrite = { kind: 'patient'; nhsNumber: string } | { kind: 'organisation'; code: string };

/** One registry's statuses for one patient. */
export interface RegistryStatus {
  registry: string;
  onRegister: boolean;
  indicators: Record<string, IndicatorStatus>;
  explanation?: Explanation;
}

/** A point query's answer: the patient's registration and every registry's statuses. */
export interface PatientStatus {
  nhsNumber: string;
  practice: string;
  registered: boolean;
  asOf: string;
  registries: RegistryStatus[];
}
