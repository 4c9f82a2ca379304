/**
 * Caregaps access layer: every read declares who and why, is decided by deny-by-default policy plugins (RBAC,
 * legitimate relationship, sharing agreements, opt-outs), is audited in a keyed (HMAC-SHA-256) chain anchored outside the log, and anonymised outputs
 * go through small-number suppression.
 * @packageDocumentation
 */
export {
  AccessLayer,
  AccessView,
  AgreementActions,
  OptOutActions,
  createAccess,
  builtInPolicies,
  type AccessOptions,
  type GapQuery,
  type GapListRow,
  type RecordEntry,
  type PatientRecordView,
} from './access.js';
export {
  PURPOSES,
  DATA_CATEGORIES,
  type Purpose,
  type Principal,
  type Activity,
  type DataCategory,
  type AccessPatient,
  type AccessRequest,
  type Verdict,
  type Decision,
} from './types.js';
export { PolicySet, checkPolicy, type AccessPolicy, type PolicyMeta, type PolicyContext, type RecordItem } from './policy.js';
export { rbacPolicy, checkRbacData, BUNDLED_RBAC, type RbacData } from './policies/rbac.js';
export { relationshipPolicy, PATIENT_LEVEL, type CareTeam } from './policies/relationship.js';
export { optOutPolicy, SECONDARY_USE_OPT_OUTS } from './policies/opt-outs.js';
export { OptOutRegister, OPT_OUT_TYPES, type OptOutEntry, type RegisterActor } from './opt-out-register.js';
export { AgreementRegistry, agreementPolicy, type SharingAgreement, type AgreementTerms } from './policies/agreements.js';
export { nhsDigitalSuppression, publishedRate, type SuppressionPolicy, type SuppressionInput, type Published, type NhsDigitalOptions } from './suppression.js';
export { buildSummary, SUMMARY_COLUMNS, type SummaryRow, type SummaryTable } from './summary.js';
export {
  MemoryAuditLog,
  verifyChain,
  auditKey,
  sha256,
  AUDIT_FIELDS,
  GENESIS,
  MIN_KEY_BYTES,
  type AuditEvent,
  type ChainedAuditEvent,
  type AuditSink,
  type AuditCheckpoint,
  type CheckpointSink,
  type AuditProblem,
  type AuditVerification,
} from './audit.js';
export { NdjsonAuditLog, FileCheckpoint, readAuditKey, verifyAuditLog, type NdjsonAuditLogOptions } from './audit-file.js';
export type { AuditReportEntry } from './audit-report.js';
export { toCsv, neutralise } from './csv.js';
export { DEFAULT_CATEGORIES, categoryOf, type RecordCategory } from './categories.js';
export { OrganisationHierarchy, LEVELS, UNMAPPED, type OrganisationLevel, type OrganisationProblem } from './organisations.js';
export {
  BatchResultsSource,
  accessPatientOf,
  addToCounts,
  registeredOn,
  type ResultsSource,
  type RegistryStatus,
  type RegistryInfo,
  type OrganisationCounts,
  type CountQuery,
} from './source.js';
export { EngineResultsSource, withAccess, type EngineLike, type RecordWrite, type RecordLookup, type WithAccessOptions } from './engine.js';
