/**
 * Caregaps incremental engine: keeps every patient's registry membership and indicator status current as records
 * stream in and the achievement date moves, counts them by organisation, and keeps its state in a durable local store.
 * @packageDocumentation
 */
export {
  Engine,
  type EngineOptions,
  type HotStateMemory,
  type IngestOptions,
  type IngestSummary,
  type PopulationQuery,
  type RecoveryReport,
  type StoreOptions,
} from './engine.js';
export type { Change, PatientStatus, RegistryStatus } from './types.js';
export { STATUSES, type IndicatorCounts, type OrganisationNode, type OrganisationType, type RegistryCounts } from './aggregates.js';
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
// For transports that carry partitions elsewhere (`@caregaps/nats`): the partition hash, the partition code and the
// counter layout its count deltas follow.
export { partitionOf } from './router.js';
export { Partition, type PartitionRecord, type PartitionReport, type PartitionQuery } from './partition/partition.js';
export { Aggregates, CounterLayout } from './aggregates.js';
export type { PracticeDelta } from './partition/aggregates.js';
