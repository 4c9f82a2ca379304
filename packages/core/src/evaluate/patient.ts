import type { CodesetIndex } from '../codesets/index.js';
import { parseDay } from '../dates.js';
import type { PatientState } from '../records/store.js';
import type { EventRecord, PatientRecord } from '../records/types.js';

/**
 * The records of one cluster for one patient, sorted by date (then id): parallel arrays of day numbers,
 * values (NaN when absent), named components and record ids.
 */
export class Series {
  // Replaced (not only mutated) when a record is inserted into a short series: see `insertedNumber`.
  days: number[] = [];
  values: number[] = [];
  ids: string[] = [];
  components: Map<string, number[]> | undefined;

  /** Inserts in date order; returns the position. */
  insert(day: number, event: EventRecord): number {
    const days = this.days;
    const ids = this.ids;
    const n = days.length;
    let lo = n;
    // Records mostly arrive in date order: append without searching when this one sorts last.
    if (n > 0 && (days[n - 1]! > day || (days[n - 1] === day && ids[n - 1]! > event.id))) {
      lo = 0;
      let hi = n;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        const d = days[mid]!;
        if (d < day || (d === day && ids[mid]! < event.id)) lo = mid + 1;
        else hi = mid;
      }
    }
    this.days = insertedNumber(days, lo, day);
    this.values = insertedNumber(this.values, lo, event.value ?? Number.NaN);
    this.ids = insertedId(ids, lo, event.id);
    const values = event.values;
    if (values && !this.components) this.components = new Map();
    if (this.components) {
      if (values) {
        for (const name in values) {
          if (!this.components.has(name)) this.components.set(name, new Array<number>(n).fill(Number.NaN));
        }
      }
      // Own components only: `values.toString` is Object.prototype's, not a component.
      for (const [name, list] of this.components) {
        this.components.set(name, insertedNumber(list, lo, values !== undefined && Object.hasOwn(values, name) ? values[name]! : Number.NaN));
      }
    }
    return lo;
  }

  /** Removes the record with this id; returns whether it was there. */
  remove(id: string): boolean {
    const at = this.ids.lastIndexOf(id);
    if (at < 0) return false;
    removeAt(this.days, at);
    removeAt(this.values, at);
    removeAt(this.ids, at);
    if (this.components) for (const list of this.components.values()) removeAt(list, at);
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

/**
 * The list with `item` inserted at `at`. A short list is copied to an exact-size array: growing it in place (`push`,
 * `splice`) reserves half as much again plus 16 slots, which across millions of one- or two-record series is most of
 * their memory. One and two records take array literals (the cheapest exact-size copy); long lists grow in place.
 * Numbers and ids have a function each so that each literal keeps one element kind (unboxed doubles for numbers).
 */
function insertedNumber(list: number[], at: number, item: number): number[] {
  const n = list.length;
  if (n === 0) return [item];
  if (n === 1) return at === 0 ? [item, list[0]!] : [list[0]!, item];
  const out = n < 16 ? list.concat(item) : (list.push(item), list);
  for (let i = n; i > at; i--) out[i] = out[i - 1]!;
  out[at] = item;
  return out;
}

function insertedId(list: string[], at: number, item: string): string[] {
  const n = list.length;
  if (n === 0) return [item];
  if (n === 1) return at === 0 ? [item, list[0]!] : [list[0]!, item];
  const out = n < 16 ? list.concat(item) : (list.push(item), list);
  for (let i = n; i > at; i--) out[i] = out[i - 1]!;
  out[at] = item;
  return out;
}

function removeAt<T>(list: T[], at: number): void {
  const last = list.length - 1;
  for (let i = at; i < last; i++) list[i] = list[i + 1]!;
  list.pop();
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
      patient.clusters = patient.clusters.concat(c);
      patient.series = patient.series.concat(s);
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
