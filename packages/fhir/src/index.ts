/**
 * FHIR R4 source adapter for Caregaps: Bundles and Bulk Data `$export` NDJSON to record format v1.
 * @packageDocumentation
 */
export { fhirAdapter, readFhir, readFhirBatches, MAX_BUNDLE_BYTES, STREAM_FROM_BYTES, type FhirAdapterOptions } from './read.js';
export { SYSTEMS, NHS_NUMBER_SYSTEM, ODS_SYSTEM, systemName } from './systems.js';
export { dayOf } from './dates.js';
export {
  individualMeasureReport,
  summaryMeasureReports,
  INDICATOR_SYSTEM,
  RECORD_ID_SYSTEM,
  PROVISIONAL_EXTENSION,
  type MeasureReportOptions,
} from './measure-report.js';
