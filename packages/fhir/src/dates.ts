import { parseRecordDay } from '@caregaps/core';

/**
 * YYYY-MM-DD from a FHIR date or dateTime given to the day (the date as written, without time-zone shifting), within
 * the record date range (`RECORD_DATE_RANGE`).
 */
export function dayOf(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length < 10) return undefined;
  const day = value.slice(0, 10);
  if (value.length > 10 && value[10] !== 'T') return undefined;
  return parseRecordDay(day) === undefined ? undefined : day;
}
