import { Ajv, type ValidateFunction, type ErrorObject } from 'ajv';
import recordSchema from '../../schemas/record.schema.json' with { type: 'json' };
import { RECORD_DATE_RANGE, parseDay, parseRecordDay } from '../dates.js';
import type { ErrorCode } from '../errors.js';
import { isValidNhsNumber } from '../nhs-number.js';
import { isSnomedConceptId } from '../snomed.js';
import type { CaregapsRecord } from './types.js';

/** Why a record was refused: a code and a message naming the field. */
export interface RecordFault {
  code: ErrorCode;
  message: string;
}

const KINDS = ['patient', 'event', 'retract', 'organisation'] as const;
type Kind = (typeof KINDS)[number];

const ajv = new Ajv({ strict: true, allErrors: false });
ajv.addSchema(recordSchema);
const validators = Object.fromEntries(
  KINDS.map((k) => [k, ajv.getSchema(`${recordSchema.$id}#/definitions/${k}`) as ValidateFunction]),
) as Record<Kind, ValidateFunction>;

function describe(error: ErrorObject): string {
  const field = error.instancePath ? error.instancePath.slice(1).replaceAll('/', '.') : 'record';
  if (error.keyword === 'additionalProperties') {
    return `unknown field "${String(error.params['additionalProperty'])}" (record format v1 does not have it)`;
  }
  if (error.keyword === 'required') return `missing required field "${String(error.params['missingProperty'])}"`;
  if (error.keyword === 'enum') {
    return `${field} must be one of ${(error.params['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
  }
  return `${field} ${error.message ?? 'is invalid'}`;
}

const DATE_FIELDS = ['birthDate', 'registeredFrom', 'registeredTo', 'deathDate', 'date'] as const;

/**
 * Checks one parsed JSON value against record format v1: the schema for its `kind`, real calendar dates,
 * the NHS number check digit and, for SNOMED events, a well-formed concept id. Returns the fault or `undefined`.
 * Runs for every record read, so a hand-written check (`isPlainValidRecord`) accepts the common valid record first;
 * anything it does not accept goes through the JSON Schema (ajv), which gives the verdict and the fault.
 */
export function checkRecord(value: unknown): RecordFault | undefined {
  return isPlainValidRecord(value) ? undefined : checkRecordWithSchema(value);
}

/** `checkRecord` by the JSON Schema (ajv) and the extra checks alone: the contract the fast check is tested against. */
export function checkRecordWithSchema(value: unknown): RecordFault | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { code: 'CG_RECORD_SCHEMA', message: 'a record must be a JSON object' };
  }
  const kind = (value as { kind?: unknown }).kind;
  if (!KINDS.includes(kind as Kind)) {
    return { code: 'CG_RECORD_SCHEMA', message: `kind must be one of ${KINDS.join(', ')}, not ${JSON.stringify(kind)}` };
  }
  const validate = validators[kind as Kind];
  if (!validate(value)) return { code: 'CG_RECORD_SCHEMA', message: describe(validate.errors![0]!) };
  const record = value as CaregapsRecord & Record<string, unknown>;
  for (const field of DATE_FIELDS) {
    const v = record[field];
    if (typeof v !== 'string') continue;
    if (parseDay(v) === undefined) return { code: 'CG_RECORD_DATE', message: `${field} "${v}" is not a real calendar date` };
    if (parseRecordDay(v) === undefined) {
      return { code: 'CG_RECORD_DATE', message: `${field} "${v}" is outside ${RECORD_DATE_RANGE.first} to ${RECORD_DATE_RANGE.last}` };
    }
  }
  if (record.kind !== 'organisation' && !isValidNhsNumber(record.nhsNumber)) {
    return { code: 'CG_RECORD_NHS_NUMBER', message: `nhsNumber "${record.nhsNumber}" fails the Modulus 11 check` };
  }
  if (record.kind === 'patient') {
    // Compared as day numbers, never as strings.
    if (record.registeredTo && parseDay(record.registeredTo)! < parseDay(record.registeredFrom)!) {
      return { code: 'CG_RECORD_DATE', message: 'registeredTo is before registeredFrom' };
    }
    if (record.deathDate && parseDay(record.deathDate)! < parseDay(record.birthDate)!) {
      return { code: 'CG_RECORD_DATE', message: 'deathDate is before birthDate' };
    }
  }
  if (record.kind === 'event' && (record.system ?? 'snomed') === 'snomed' && !isSnomedConceptId(record.code)) {
    return {
      code: 'CG_RECORD_SCHEMA',
      message: `code "${record.code}" is not a SNOMED CT concept id; give "system" for other code systems`,
    };
  }
  return undefined;
}

// ---- the fast check ------------------------------------------------------------------------------------------------
// True only for records that checkRecordWithSchema accepts (a property test holds it to that). It may refuse a valid
// record it does not bother with (strings measured in UTF-16 units rather than code points, non-finite numbers):
// those fall back to the schema, which decides.

const SEXES = new Set(['female', 'male', 'other', 'unknown']);
const OPT_OUTS = new Set(['shared-record', 'secondary-use', 'national-data-opt-out', 'type-1']);
const ORGANISATION_TYPES = new Set(['practice', 'pcn', 'borough', 'icb']);

function isText(v: unknown, min: number, max: number): boolean {
  return typeof v === 'string' && v.length >= min && v.length <= max;
}

function isOptionalText(v: unknown, min: number, max: number): boolean {
  return v === undefined || (typeof v === 'string' && v.length >= min && v.length <= max);
}

/** Day number of a record date within the range, or NaN (which fails every comparison). */
function dayOf(v: unknown): number {
  return (typeof v === 'string' ? parseRecordDay(v) : undefined) ?? Number.NaN;
}

function isDate(v: unknown): v is string {
  return typeof v === 'string' && parseRecordDay(v) !== undefined;
}

function isFiniteNumber(v: unknown): boolean {
  return typeof v === 'number' && Number.isFinite(v);
}

/** A component name, `^[a-z][a-zA-Z0-9]{0,31}$`. */
function isComponentName(name: string): boolean {
  const n = name.length;
  if (n < 1 || n > 32) return false;
  const first = name.charCodeAt(0);
  if (first < 97 || first > 122) return false;
  for (let i = 1; i < n; i++) {
    const c = name.charCodeAt(i);
    if (!((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57))) return false;
  }
  return true;
}

function isPlainValues(v: unknown): boolean {
  if (v === undefined) return true;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  let count = 0;
  for (const name in v) {
    if (++count > 16 || !isComponentName(name) || !isFiniteNumber((v as Record<string, unknown>)[name])) return false;
  }
  return true;
}

function isPlainOptOuts(v: unknown): boolean {
  if (v === undefined) return true;
  if (!Array.isArray(v)) return false;
  for (let i = 0; i < v.length; i++) {
    if (!OPT_OUTS.has(v[i] as string)) return false;
    for (let j = 0; j < i; j++) if (v[j] === v[i]) return false;
  }
  return true;
}

function isPlainPatient(r: Record<string, unknown>): boolean {
  for (const key in r) {
    switch (key) {
      case 'kind': case 'nhsNumber': case 'birthDate': case 'sex': case 'practice': case 'registeredFrom':
      case 'registeredTo': case 'deathDate': case 'optOuts': case 'source':
        continue;
      default:
        return false;
    }
  }
  const { nhsNumber, registeredTo, deathDate } = r;
  const birth = dayOf(r['birthDate']);
  const from = dayOf(r['registeredFrom']);
  return (
    typeof nhsNumber === 'string' && isValidNhsNumber(nhsNumber) &&
    !Number.isNaN(birth) && !Number.isNaN(from) &&
    SEXES.has(r['sex'] as string) &&
    isText(r['practice'], 1, 16) &&
    (registeredTo === undefined || registeredTo === null || dayOf(registeredTo) >= from) &&
    (deathDate === undefined || deathDate === null || dayOf(deathDate) >= birth) &&
    isPlainOptOuts(r['optOuts']) &&
    isOptionalText(r['source'], 1, 64)
  );
}

function isPlainEvent(r: Record<string, unknown>): boolean {
  for (const key in r) {
    switch (key) {
      case 'kind': case 'id': case 'nhsNumber': case 'code': case 'system': case 'date': case 'value': case 'unit':
      case 'values': case 'source':
        continue;
      default:
        return false;
    }
  }
  const { nhsNumber, code, system, value } = r;
  return (
    isText(r['id'], 1, 256) &&
    typeof nhsNumber === 'string' && isValidNhsNumber(nhsNumber) &&
    isText(code, 1, 64) &&
    isOptionalText(system, 1, 64) &&
    isDate(r['date']) &&
    (value === undefined || isFiniteNumber(value)) &&
    isOptionalText(r['unit'], 0, 64) &&
    isPlainValues(r['values']) &&
    isOptionalText(r['source'], 1, 64) &&
    ((system !== undefined && system !== 'snomed') || isSnomedConceptId(code as string))
  );
}

function isPlainRetract(r: Record<string, unknown>): boolean {
  for (const key in r) {
    if (key !== 'kind' && key !== 'id' && key !== 'nhsNumber' && key !== 'source') return false;
  }
  const nhsNumber = r['nhsNumber'];
  return isText(r['id'], 1, 256) && typeof nhsNumber === 'string' && isValidNhsNumber(nhsNumber) && isOptionalText(r['source'], 1, 64);
}

function isPlainOrganisation(r: Record<string, unknown>): boolean {
  for (const key in r) {
    switch (key) {
      case 'kind': case 'code': case 'name': case 'type': case 'parent': case 'listSize':
        continue;
      default:
        return false;
    }
  }
  const { parent, listSize } = r;
  return (
    isText(r['code'], 1, 16) &&
    isText(r['name'], 0, 256) &&
    ORGANISATION_TYPES.has(r['type'] as string) &&
    (parent === undefined || parent === null || isText(parent, 1, 16)) &&
    (listSize === undefined || (Number.isSafeInteger(listSize) && (listSize as number) >= 0))
  );
}

/** True when the value is a record that passes record format v1 and every extra check (see above). */
export function isPlainValidRecord(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const r = value as Record<string, unknown>;
  switch (r['kind']) {
    case 'event':
      return isPlainEvent(r);
    case 'patient':
      return isPlainPatient(r);
    case 'retract':
      return isPlainRetract(r);
    case 'organisation':
      return isPlainOrganisation(r);
    default:
      return false;
  }
}
