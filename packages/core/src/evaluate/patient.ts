import type { CodesetIndex } from '../codesets/index.js';
import { parseDay } from '../dates.js';
import type { PatientState } from '../records/store.js';
import type { EventRecord, PatientRecord } from '../records/types.js';

/**
 * The records of one cluster for one patient, sorted by date (then id): parallel arrays of day numbers,
 * values (NaN when absent), named components and record ids.
 */
export class Series {
  readonly days: number[] = [];
  readonly values: number[] = [];
  readonly ids: string[] = [];
  components: Map<string, number[]> | undefined;

  /** Inserts in date order; returns the position. */
  insert(day: number, event: EventRecord): number {
    let lo = 0;
    let hi = this.days.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const d = this.days[mid]!;
      if (d < day || (d === day && this.ids[mid]! < event.id)) lo = mid + 1;
      else hi = mid;
    }
    this.days.splice(lo, 0, day);
    this.values.splice(lo, 0, event.value ?? Number.NaN);
    this.ids.splice(lo, 0, event.id);
    if (event.values && !this.components) {
      this.components = new Map();
    }
    if (this.components) {
      for (const name of Object.keys(event.values ?? {})) {
        if (!this.components.has(name)) this.components.set(name, new Array<number>(this.days.length - 1).fill(Number.NaN));
      }
      for (const [name, list] of this.components) list.splice(lo, 0, event.values?.[name] ?? Number.NaN);
    }
    return lo;
  }

  /** Removes the record with this id; returns whether it was there. */
  remove(id: string): boolean {
    const at = this.ids.indexOf(id);
    if (at < 0) return false;
    this.days.splice(at, 1);
    this.values.splice(at, 1);
    this.ids.splice(at, 1);
    if (this.components) for (const list of this.components.values()) list.splice(at, 1);
    return true;
  }

  /** The value or named component of the record at a position (NaN when absent). */
  component(name: string, at: number): number {
    if (name === 'value') return this.values[at]!;
    return this.components?.get(name)?.[at] ?? Number.NaN;
  }

  get length(): number {
    return this.days.length;
  }
}

/** A patient in the form the compiled evaluator reads: day numbers and records grouped by cluster. */
export interface PreparedPatient {
  nhsNumber: string;
  practice: string;
  birthDay: number;
  registeredFrom: number;
  /** First day not registered: the earlier of deregistration and death (Infinity when neither). */
  registrationEnd: number;
  /** Cluster numbers present, parallel to `series`. */
  clusters: number[];
  series: Series[];
}

/** The series of a cluster, if the patient has any record in it. */
export function seriesOf(patient: PreparedPatient, cluster: number): Series | undefined {
  const at = patient.clusters.indexOf(cluster);
  return at < 0 ? undefined : patient.series[at];
}

/** Demographics as day numbers; registration ends at deregistration or death, whichever is first. */
export function demographics(patient: PatientRecord): Pick<PreparedPatient, 'nhsNumber' | 'practice' | 'birthDay' | 'registeredFrom' | 'registrationEnd'> {
  const end = Math.min(
    patient.registeredTo ? parseDay(patient.registeredTo)! : Infinity,
    patient.deathDate ? parseDay(patient.deathDate)! : Infinity,
  );
  return {
    nhsNumber: patient.nhsNumber,
    practice: patient.practice,
    birthDay: parseDay(patient.birthDate)!,
    registeredFrom: parseDay(patient.registeredFrom)!,
    registrationEnd: end,
  };
}

/** Adds an event to every cluster series its code belongs to; returns the clusters touched. */
export function addEvent(patient: PreparedPatient, event: EventRecord, index: CodesetIndex): readonly number[] {
  if ((event.system ?? 'snomed') !== 'snomed') return [];
  const clusters = index.clustersOf(event.code);
  if (clusters.length === 0) return clusters;
  const day = parseDay(event.date)!;
  for (const c of clusters) {
    let s = seriesOf(patient, c);
    if (!s) {
      s = new Series();
      patient.clusters.push(c);
      patient.series.push(s);
    }
    s.insert(day, event);
  }
  return clusters;
}

/** Removes an event from the series of its clusters; returns the clusters touched. */
export function removeEvent(patient: PreparedPatient, event: EventRecord, index: CodesetIndex): readonly number[] {
  if ((event.system ?? 'snomed') !== 'snomed') return [];
  const clusters = index.clustersOf(event.code);
  for (const c of clusters) seriesOf(patient, c)?.remove(event.id);
  return clusters;
}

/** Prepares a stored patient for evaluation; `undefined` until the patient record itself has arrived. */
export function preparePatient(state: PatientState, index: CodesetIndex): PreparedPatient | undefined {
  if (!state.patient) return undefined;
  const prepared: PreparedPatient = { ...demographics(state.patient), clusters: [], series: [] };
  for (const event of state.events.values()) addEvent(prepared, event, index);
  return prepared;
}
