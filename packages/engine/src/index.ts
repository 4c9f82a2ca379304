/**
 * Caregaps incremental engine: keeps every patient's registry membership and indicator status current as records
 * stream in and the achievement date moves, counts them by organisation, and keeps its state in a durable local store.
 * @packageDocumentation
 */
export {
  Engine,
  type Change,
  type EngineOptions,
  type IngestOptions,
  type IngestSummary,
  type PatientStatus,
  type PopulationQuery,
  type RecoveryReport,
  type RegistryStatus,
  type StoreOptions,
} from './engine.js';
export { STATUSES, type IndicatorCounts, type OrganisationNode, type OrganisationType, type RegistryCounts } from './aggregates.js';
export { HorizonQueue, type Schedulable } from './horizon-queue.js';
export {
  RecordStore,
  isOldFormat,
  partitionFile,
  type Batch,
  type Damage,
  type Outcome,
  type RecordStoreOptions,
  type StoredPatient,
  type VerifyReport,
  type WriteResult,
} from './store/record-store.js';
export { migrateOldStore, type MigrationReport } from './store/migrate.js';
export type { RecordSource } from './source.js';
