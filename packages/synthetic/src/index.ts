/**
 * Caregaps synthetic population generator: a deterministic, North Central London-shaped population in record format
 * v1 — ten-year histories with routine care and background entries, about 100 records per patient — with the registry conditions at London prevalence (six with their care histories, the other registers as
 * diagnoses taken from the codesets given) and care-process achievement close to NCL's.
 * @packageDocumentation
 */
export {
  DEFAULT_CONFIG,
  CONDITIONS,
  resolveConfig,
  type GeneratorConfig,
  type ConfigOverrides,
  type ConditionId,
  type CareConditionId,
  type RegisterConditionId,
  type ConditionConfig,
  type Comorbidity,
  type CareTarget,
  type CareTargetId,
  type ProcessRateId,
  type AgeBand,
  type Borough,
  type RoutineConfig,
  type HistoryConfig,
  type AgeSteps,
} from './config.js';
export { CODES, BACKGROUND, SMOKING_STATUS, PREVENTION_STATINS, WHEN_AVAILABLE, allCodes, availableCodes, verifyCodes, type AvailableId, type CodeFact } from './codes.js';
export { Prng, hashSeed } from './prng.js';
export { REGISTER_DIAGNOSES, DIAGNOSED, registerCodes, type RegisterDiagnosis, type RegisterCodes, type DiagnosedId } from './registers.js';
export { buildHierarchy, apportion, type Hierarchy, type Practice } from './organisations.js';
export {
  Population,
  testNhsNumbers,
  DEFAULT_PATIENTS,
  DEFAULT_SEED,
  DEFAULT_RECORDS_PER_PATIENT,
  MAX_PATIENTS,
  MAX_RECORDS_PER_PATIENT,
  type NdjsonChunk,
  type PatientRange,
  type PopulationOptions,
} from './generate.js';
export { writePopulation, type WriteOptions, type WriteResult } from './write.js';
export { HISTORY_YEARS } from './patient.js';
export { parallelNdjson, type ParallelOptions } from './parallel.js';
