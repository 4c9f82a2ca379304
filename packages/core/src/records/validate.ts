import { Ajv, type ValidateFunction, type ErrorObject } from 'ajv';
import recordSchema from '../../schemas/record.schema.json' with { type: 'json' };
import { parseDay } from '../dates.js';
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
 */
export function checkRecord(value: unknown): RecordFault | undefined {
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
    if (typeof v === 'string' && parseDay(v) === undefined) {
      return { code: 'CG_RECORD_DATE', message: `${field} "${v}" is not a real calendar date` };
    }
  }
  if (record.kind !== 'organisation' && !isValidNhsNumber(record.nhsNumber)) {
    return { code: 'CG_RECORD_NHS_NUMBER', message: `nhsNumber "${record.nhsNumber}" fails the Modulus 11 check` };
  }
  if (record.kind === 'patient') {
    if (record.registeredTo && record.registeredTo < record.registeredFrom) {
      return { code: 'CG_RECORD_DATE', message: 'registeredTo is before registeredFrom' };
    }
    if (record.deathDate && record.deathDate < record.birthDate) {
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
