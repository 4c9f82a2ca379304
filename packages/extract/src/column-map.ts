import { readFileSync } from 'node:fs';
import { CaregapsError, parseSourceDocument, type Problem } from '@caregaps/core';
import { MAX_GLOB_LENGTH } from './glob.js';

/** How one record field is read from a row: a column, a constant, and optionally a value translation or date format. */
export interface FieldSpec {
  column?: string;
  /** A constant used for every row (e.g. `system: { value: read2 }`). */
  value?: string;
  /** Translates source values, e.g. `{ M: male, F: female }`. A value not listed is an error for that row. */
  values?: Record<string, string>;
  /** Date format of this column (default: the table's, then the map's, then `YYYY-MM-DD`). */
  format?: DateFormat;
  /** Used when the column is empty. */
  default?: string;
}

export const DATE_FORMATS = ['YYYY-MM-DD', 'DD/MM/YYYY', 'YYYYMMDD', 'DD-MMM-YYYY', 'DD.MM.YYYY'] as const;
export type DateFormat = (typeof DATE_FORMATS)[number];

const PATIENT_FIELDS = ['nhsNumber', 'birthDate', 'sex', 'practice', 'registeredFrom', 'registeredTo', 'deathDate', 'source', 'updated', 'patientKey'] as const;
const EVENT_FIELDS = ['id', 'nhsNumber', 'code', 'system', 'date', 'value', 'unit', 'source', 'patientKey'] as const;
export type PatientField = (typeof PATIENT_FIELDS)[number];
export type EventField = (typeof EVENT_FIELDS)[number];

/** One table of an extract: which files it covers, what kind of record each row is, and where each field is. */
export interface TableMap {
  /** File-name pattern (`*` and `?` wildcards) this table reads; absent = every file. */
  files?: string;
  kind: 'patient' | 'event';
  format?: 'csv' | 'ndjson';
  delimiter?: string;
  dateFormat?: DateFormat;
  fields: Partial<Record<PatientField | EventField, FieldSpec>>;
  /** Named numeric components read from their own columns, e.g. `{ systolic: SYS, diastolic: DIA }`. */
  values?: Record<string, FieldSpec>;
  /** A row is a retraction (entered in error / deleted) when this column holds one of these values. */
  retractWhen?: { column: string; equals: string[] };
  /** Columns that identify the patient when there is no NHS number, named in quarantine reports. */
  otherIdentifiers?: string[];
}

/** A column map: how a GP system's extract maps to record format v1, without code. */
export interface ColumnMap {
  name: string;
  dateFormat?: DateFormat;
  tables: TableMap[];
}

const MAX_MAP_BYTES = 256 * 1024;
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);

class MapError {
  readonly problems: Problem[] = [];
  constructor(private readonly file: string | undefined) {}
  add(pointer: string, message: string): void {
    const p: Problem = { code: 'CG_MAP_FORMAT', message, pointer };
    if (this.file !== undefined) p.file = this.file;
    this.problems.push(p);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkKeys(value: unknown, pointer: string, errors: MapError): void {
  if (Array.isArray(value)) value.forEach((v, i) => checkKeys(v, `${pointer}/${i}`, errors));
  else if (isObject(value)) {
    for (const [k, v] of Object.entries(value)) {
      if (FORBIDDEN.has(k)) errors.add(`${pointer}/${k}`, `the key "${k}" is not allowed`);
      else checkKeys(v, `${pointer}/${k}`, errors);
    }
  }
}

function fieldSpec(raw: unknown, pointer: string, errors: MapError): FieldSpec | undefined {
  if (typeof raw === 'string' && raw.length > 0) return { column: raw };
  if (!isObject(raw)) {
    errors.add(pointer, 'a field is a column name, or { column | value, values?, format?, default? }');
    return undefined;
  }
  const spec: FieldSpec = {};
  for (const [k, v] of Object.entries(raw)) {
    if (k === 'column' || k === 'value' || k === 'default') {
      if (typeof v !== 'string' && !(k !== 'column' && typeof v === 'number')) errors.add(`${pointer}/${k}`, `${k} must be a string`);
      else spec[k] = String(v);
    } else if (k === 'values') {
      if (!isObject(v) || !Object.values(v).every((x) => typeof x === 'string')) errors.add(`${pointer}/values`, 'values must map source values to strings');
      else spec.values = v as Record<string, string>;
    } else if (k === 'format') {
      if (!DATE_FORMATS.includes(v as DateFormat)) errors.add(`${pointer}/format`, `format must be one of ${DATE_FORMATS.join(', ')}`);
      else spec.format = v as DateFormat;
    } else errors.add(`${pointer}/${k}`, `unknown property "${k}"`);
  }
  if ((spec.column === undefined) === (spec.value === undefined)) errors.add(pointer, 'give exactly one of column or value');
  return spec;
}

/** Checks a parsed column map and returns it typed. Throws `CG_MAP_FORMAT` listing every problem with its pointer. */
export function checkColumnMap(raw: unknown, file?: string): ColumnMap {
  const errors = new MapError(file);
  checkKeys(raw, '', errors);
  if (!isObject(raw)) {
    errors.add('', 'a column map is an object with name and tables');
    throw new CaregapsError('CG_MAP_FORMAT', `Column map ${file ?? ''} is malformed`, errors.problems);
  }
  const map: ColumnMap = { name: '', tables: [] };
  for (const key of Object.keys(raw)) if (!['name', 'dateFormat', 'tables', 'description'].includes(key)) errors.add(`/${key}`, `unknown property "${key}"`);
  if (typeof raw['name'] !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(raw['name'])) errors.add('/name', 'name must be letters, digits, ".", "_" or "-" (it prefixes event ids)');
  else map.name = raw['name'];
  if (raw['dateFormat'] !== undefined) {
    if (!DATE_FORMATS.includes(raw['dateFormat'] as DateFormat)) errors.add('/dateFormat', `dateFormat must be one of ${DATE_FORMATS.join(', ')}`);
    else map.dateFormat = raw['dateFormat'] as DateFormat;
  }
  const tables = raw['tables'];
  if (!Array.isArray(tables) || tables.length === 0) errors.add('/tables', 'tables must be a non-empty list');
  else {
    tables.forEach((t, i) => {
      const at = `/tables/${i}`;
      if (!isObject(t)) return errors.add(at, 'a table is an object with kind and fields');
      const kind = t['kind'];
      if (kind !== 'patient' && kind !== 'event') return errors.add(`${at}/kind`, 'kind must be patient or event');
      const table: TableMap = { kind, fields: {} };
      const allowed: readonly string[] = kind === 'patient' ? PATIENT_FIELDS : EVENT_FIELDS;
      for (const [k, v] of Object.entries(t)) {
        if (k === 'kind') continue;
        if (k === 'files' || k === 'delimiter') {
          if (typeof v !== 'string' || v.length === 0) errors.add(`${at}/${k}`, `${k} must be a non-empty string`);
          else if (k === 'files' && v.length > MAX_GLOB_LENGTH) errors.add(`${at}/files`, `files is a file-name pattern of at most ${MAX_GLOB_LENGTH} characters`);
          else table[k] = v;
        } else if (k === 'format') {
          if (v !== 'csv' && v !== 'ndjson') errors.add(`${at}/format`, 'format must be csv or ndjson');
          else table.format = v;
        } else if (k === 'dateFormat') {
          if (!DATE_FORMATS.includes(v as DateFormat)) errors.add(`${at}/dateFormat`, `dateFormat must be one of ${DATE_FORMATS.join(', ')}`);
          else table.dateFormat = v as DateFormat;
        } else if (k === 'fields') {
          if (!isObject(v)) errors.add(`${at}/fields`, 'fields must map record fields to columns');
          else
            for (const [f, spec] of Object.entries(v)) {
              if (!allowed.includes(f)) errors.add(`${at}/fields/${f}`, `${kind} records have no field "${f}"; use one of ${allowed.join(', ')}`);
              else {
                const s = fieldSpec(spec, `${at}/fields/${f}`, errors);
                if (s) table.fields[f as PatientField | EventField] = s;
              }
            }
        } else if (k === 'values' && kind === 'event') {
          if (!isObject(v)) errors.add(`${at}/values`, 'values must map component names to columns');
          else {
            table.values = {};
            for (const [name, spec] of Object.entries(v)) {
              if (!/^[a-z][a-zA-Z0-9]{0,31}$/.test(name)) errors.add(`${at}/values/${name}`, 'component names are lower camelCase, e.g. systolic');
              const s = fieldSpec(spec, `${at}/values/${name}`, errors);
              if (s) table.values[name] = s;
            }
          }
        } else if (k === 'retractWhen' && kind === 'event') {
          if (!isObject(v) || typeof v['column'] !== 'string' || !Array.isArray(v['equals']) || !v['equals'].every((x) => typeof x === 'string')) {
            errors.add(`${at}/retractWhen`, 'retractWhen is { column, equals: [values] }');
          } else table.retractWhen = { column: v['column'], equals: v['equals'] as string[] };
        } else if (k === 'otherIdentifiers') {
          if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) errors.add(`${at}/otherIdentifiers`, 'otherIdentifiers is a list of column names');
          else table.otherIdentifiers = v as string[];
        } else errors.add(`${at}/${k}`, `unknown property "${k}"`);
      }
      const required = kind === 'patient' ? ['birthDate'] : ['id', 'code', 'date'];
      for (const f of required) if (!table.fields[f as PatientField]) errors.add(`${at}/fields`, `a ${kind} table needs the field ${f}`);
      if (!table.fields.nhsNumber && !table.fields.patientKey) errors.add(`${at}/fields`, 'give nhsNumber (or patientKey, with test-range numbers assigned)');
      map.tables.push(table);
    });
  }
  if (errors.problems.length) throw new CaregapsError('CG_MAP_FORMAT', `Column map ${file ?? ''} is malformed`, errors.problems);
  return map;
}

/** Parses a column map from YAML or JSON text (aliases limited, prototype keys refused). */
export function parseColumnMap(text: string, file?: string): ColumnMap {
  if (text.length > MAX_MAP_BYTES) {
    throw new CaregapsError('CG_MAP_FORMAT', `Column map ${file ?? ''} is larger than ${MAX_MAP_BYTES} bytes`);
  }
  let raw: unknown;
  try {
    // The rule loader's hostile-safe parse: aliases, nesting and prototype keys bounded, positions reported.
    raw = parseSourceDocument(text, file, { maxBytes: MAX_MAP_BYTES, maxAliasCount: 10 }).value;
  } catch (error) {
    if (!(error instanceof CaregapsError)) throw error;
    const problems = error.problems.map((p): Problem => ({ ...p, code: 'CG_MAP_FORMAT', message: `not a usable YAML or JSON document: ${p.message}` }));
    throw new CaregapsError('CG_MAP_FORMAT', `Column map ${file ?? ''} cannot be parsed`, problems);
  }
  return checkColumnMap(raw, file);
}

/** Reads and checks a column map file (`.yaml`, `.yml` or `.json`). */
export function loadColumnMap(file: string): ColumnMap {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new CaregapsError('CG_INPUT', `Cannot read column map ${file}: ${(error as Error).message}`);
  }
  return parseColumnMap(text, file);
}
