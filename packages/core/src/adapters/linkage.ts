import type { CaregapsRecord, PatientRecord } from '../records/types.js';
import { checkRecord } from '../records/validate.js';
import type { AdapterQuarantine, AdapterRecord } from './types.js';

interface Candidate {
  record: PatientRecord;
  /** Epoch milliseconds of the source's last update; -Infinity when unknown. */
  updated: number;
  arrival: number;
  fromFirstRecord: boolean;
}

/**
 * Joins records from several sources into one record per patient (DESIGN §2, linkage). Events and retractions pass
 * straight through, keeping their source organisation. Patient demographics are held until `finish`, where for each
 * NHS number one record wins:
 *
 * 1. a record sent by the practice the patient is registered with (`source` = `practice`) beats any other;
 * 2. among those, the most recent update (`updated`) wins; a record without `updated` is older than any with one;
 * 3. on a tie, the one read last wins.
 *
 * When the winner has no registration date from its source, registration starts at the patient's earliest event
 * date from any source (or the birth date when the patient has no events).
 */
export class Linker {
  private readonly candidates = new Map<string, Candidate[]>();
  private readonly firstEvent = new Map<string, string>();
  private arrivals = 0;

  /** Takes one adapter record; returns the records to write now (events and retractions). */
  accept(item: AdapterRecord): CaregapsRecord | undefined {
    const record = item.record;
    if (record.kind === 'patient') {
      const list = this.candidates.get(record.nhsNumber) ?? [];
      list.push({ record, updated: updatedAt(item.updated), arrival: this.arrivals++, fromFirstRecord: item.registeredFromFirstRecord === true });
      this.candidates.set(record.nhsNumber, list);
      return undefined;
    }
    if (record.kind === 'event') {
      const first = this.firstEvent.get(record.nhsNumber);
      if (first === undefined || record.date < first) this.firstEvent.set(record.nhsNumber, record.date);
    }
    return record;
  }

  /** Number of patients held so far. */
  get patients(): number {
    return this.candidates.size;
  }

  /** The winning demographics for each patient, in the order patients were first seen; and any that fail checks. */
  finish(): { records: PatientRecord[]; quarantined: AdapterQuarantine[] } {
    const records: PatientRecord[] = [];
    const quarantined: AdapterQuarantine[] = [];
    for (const [nhsNumber, list] of this.candidates) {
      const winner = list.reduce((best, c) => (beats(c, best) ? c : best));
      const record: PatientRecord = { ...winner.record };
      if (winner.fromFirstRecord) record.registeredFrom = this.firstEvent.get(nhsNumber) ?? record.birthDate;
      const fault = checkRecord(record);
      if (fault) quarantined.push({ ok: false, code: fault.code, reason: `linked patient: ${fault.message}`, at: { recordId: nhsNumber } });
      else records.push(record);
    }
    return { records, quarantined };
  }
}

function updatedAt(text: string | undefined): number {
  const t = text === undefined ? NaN : Date.parse(text);
  return Number.isNaN(t) ? -Infinity : t;
}

function fromRegisteringPractice(c: Candidate): boolean {
  return c.record.source !== undefined && c.record.source === c.record.practice;
}

function beats(a: Candidate, b: Candidate): boolean {
  const pa = fromRegisteringPractice(a);
  const pb = fromRegisteringPractice(b);
  if (pa !== pb) return pa;
  if (a.updated !== b.updated) return a.updated > b.updated;
  return a.arrival > b.arrival;
}
