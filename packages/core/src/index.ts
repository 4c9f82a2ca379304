/**
 * Caregaps core: record format v1, codesets, registry rule files compiled to a fast evaluator.
 * @packageDocumentation
 */
export { ERRORS, CaregapsError, formatProblem, type ErrorCode, type Problem, type SourceLocation } from './errors.js';
export { parseDay, parseRecordDay, RECORD_DATE_RANGE, formatDay, addMonths, ageInYears, paymentPeriodEnd, qualityServiceStart } from './dates.js';
export { isValidNhsNumber, withCheckDigit } from './nhs-number.js';
export { isSnomedConceptId } from './snomed.js';

export type { CaregapsRecord, PatientRecord, EventRecord, RetractRecord, OrganisationRecord, OptOut } from './records/types.js';
export { checkRecord, type RecordFault } from './records/validate.js';
export {
  readRecords,
  readLine,
  Quarantine,
  type ReadResult,
  type AcceptedRecord,
  type QuarantinedRecord,
  type ReadOptions,
} from './records/reader.js';
export { PatientStore, UNNAMED_SOURCE, eventKey, refusalOf, type ApplyOutcome, type ApplyResult, type PatientState } from './records/store.js';

export {
  CodesetIndex,
  parseCodeset,
  loadCodesets,
  readCodesetSource,
  layerCodesets,
  loadCodesetLayers,
  BUNDLED_LAYER,
  type Codeset,
  type CodesetSource,
  type CodesetStatus,
  type MemberCount,
  type CodesetSourceContent,
  type SourceFileReport,
  type SourceFileKind,
  type CodesetLayers,
  type RefsetMembers,
} from './codesets/index.js';

export type {
  RegistryDefinition,
  FieldDefinition,
  IndicatorDefinition,
  RuleDefinition,
  Condition,
  Action,
  Operator,
  ValueTest,
  IndicatorStatus,
} from './rules/types.js';
export { parseRegistry, loadRegistry, BUILT_IN_FACTS, type Registry, type LoadOptions, type FactType } from './rules/load.js';
export { loadRegistries, type LoadedRegistries, type LoadRegistriesOptions } from './rules/registries.js';
export { provisionalOf, provisionalReason, type RegistryProvisional, type ProvisionalCluster } from './rules/provisional.js';

export { CompiledRegistry, type RegistryOutcome, type CascadeTrace } from './evaluate/compile.js';
export type { ClusterClauses } from './evaluate/gate.js';
export {
  Series,
  preparePatient,
  addEvent,
  removeEvent,
  demographics,
  seriesOf,
  type PreparedPatient,
  type PatientView,
  type SeriesView,
} from './evaluate/patient.js';
export {
  evaluatePopulation,
  preparedPatients,
  resultOf,
  explainOutcome,
  achievementDay,
  type PatientResult,
  type Explanation,
  type IndicatorExplanation,
  type CascadeExplanation,
} from './evaluate/population.js';
export { parseSourceDocument, type SourceDocument, type ParseLimits } from './rules/parse-document.js';
export { registryFile } from './rules/registries.js';
export { registrySchema, registryTestsSchema, recordSchema, type JsonSchema } from './schemas.js';

export * from './adapters/index.js';
