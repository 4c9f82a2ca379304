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
export type { Change, PatientStatus, RecordWrite, RegistryStatus } from './types.js';
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
export {
  PartitionHost,
  type BatchReport,
  type PartitionHostOptions,
  type PartitionRecovery,
  type RecordBatch,
  type Release,
} from './partition/host.js';
export type { LineBatch } from './partition/lines.js';
export type { PartitionQuery, PartitionReport } from './partition/partition.js';
export type { PracticeDelta } from './partition/aggregates.js';
export { partitionOf } from './partition/route.js';
// The counter layout of count deltas and the organisation roll-up, for hosts that merge counts elsewhere (`@caregaps/nats`).
export { Aggregates, CounterLayout } from './aggregates.js';
