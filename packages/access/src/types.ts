import type { OptOut } from '@caregaps/core';

/** Why data is asked for (DESIGN §5). Anything else is refused. */
export type Purpose = 'direct-care' | 'secondary-use';

/** The purposes the access layer knows; any other value denies. */
export const PURPOSES: readonly Purpose[] = ['direct-care', 'secondary-use'];

/**
 * Who is asking: the user, the role(s) of the session's selected role profile, the organisation the session is
 * for, and the care teams the user belongs to. The NHS RBAC model has a user select one role profile per session:
 * pass the roles of that profile only.
 */
export interface Principal {
  user: string;
  roles: readonly string[];
  /** ODS code of the organisation the session is for. */
  organisation: string;
  careTeams?: readonly string[];
}

/**
 * What is being done. Activities are the RBAC vocabulary (data/rbac.json): each read of the API is one activity.
 */
export type Activity =
  | 'view-aggregate'
  | 'view-patient-list'
  | 'export-patient-list'
  | 'view-patient-record'
  | 'view-audit-report'
  | 'manage-sharing-agreements'
  | 'manage-opt-outs';

/** Categories of a patient's record view, as the London Care Record groups them, plus registry statuses. */
export type DataCategory =
  | 'problems'
  | 'medications'
  | 'results'
  | 'procedures'
  | 'immunisations'
  | 'allergies'
  | 'encounters'
  | 'other'
  | 'registry-statuses';

export const DATA_CATEGORIES: readonly DataCategory[] = [
  'problems',
  'medications',
  'results',
  'procedures',
  'immunisations',
  'allergies',
  'encounters',
  'other',
  'registry-statuses',
];

/** A patient as the access layer sees it: registration and opt-outs, never clinical content. */
export interface AccessPatient {
  nhsNumber: string;
  /** ODS code of the registered practice. */
  practice: string;
  registeredFrom: string;
  registeredTo?: string | null;
  deathDate?: string | null;
  optOuts: readonly OptOut[];
}

/** One access request as policies see it. `patient` is absent for population-level requests. */
export interface AccessRequest {
  principal: Principal;
  purpose: Purpose;
  activity: Activity;
  /** What is read, e.g. `gap-list:diabetes/DM020`, `patient-record`, `summary:pcn`. */
  resource: string;
  /** The NHS number asked about, as given (it may not exist). */
  nhsNumber?: string;
  /** The patient, when the NHS number names a known patient. */
  patient?: AccessPatient;
  /** For organisation-wide requests (a data controller's audit report): the organisation asked about. */
  organisation?: string;
  /** The day the access happens (YYYY-MM-DD), for agreements in force. */
  today: string;
}

/** A policy's answer. `not-applicable` means the policy has no say on this request (it neither allows nor denies). */
export interface Verdict {
  decision: 'allow' | 'deny' | 'not-applicable';
  /** The rule inside the policy that decided, e.g. `role:clinical-practitioner` or `no-legitimate-relationship`. */
  rule: string;
}

/** The combined decision: which policy and rule decided. */
export interface Decision {
  id: string;
  allowed: boolean;
  /** For a denial: the first policy that denied (or failed). For an allow: every policy that allowed. */
  decidedBy: { policy: string; rule: string }[];
}
