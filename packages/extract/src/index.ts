/**
 * Flat-extract source adapter for Caregaps: CSV and NDJSON extracts as GP systems produce them, mapped by a
 * column map (YAML or JSON) to record format v1.
 * @packageDocumentation
 */
export { extractAdapter, readExtract, readExtractBatches, parseDate, type ExtractAdapterOptions } from './read.js';
export { parseColumnMap, loadColumnMap, checkColumnMap, DATE_FORMATS, type ColumnMap, type TableMap, type FieldSpec, type DateFormat } from './column-map.js';
