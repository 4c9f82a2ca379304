import type { RecordFault } from './validate.js';
import type { CaregapsRecord, EventRecord, PatientRecord, RetractRecord } from './types.js';

/** What the store holds for one NHS number: the latest demographics (if any arrived yet) and the live events. */
export interface PatientState {
  nhsNumber: string;
  patient: PatientRecord | undefined;
  /** Live events by identity (`eventKey`: source and id). */
  events: Map<string, EventRecord>;
}

/**
 * What applying one record did. `applied`: stored (it may replace or remove something); `unchanged`: nothing to do
 * (an event whose id is retracted, a repeated retraction); `stale`: an older `version` than the one held, not
 * applied; `conflict`: refused, to be quarantined with `fault` (its id is held for another NHS number).
 */
export type ApplyOutcome = 'applied' | 'unchanged' | 'stale' | 'conflict';

export interface ApplyResult {
  outcome: ApplyOutcome;
  /** NHS numbers whose state changed: none, one, or two when a declared correction moves an event. */
  changed: string[];
  /** Why a conflict was refused. */
  fault?: RecordFault;
}

/** The source of a record without `source` (format v1): the unnamed source, whose identity is the id alone. */
export const UNNAMED_SOURCE = '';

/** An event's identity (DESIGN §3.1 v1.1): its source and its id. */
export function eventKey(source: string | undefined, id: string): string {
  return `${source ?? UNNAMED_SOURCE}\u0000${id}`;
}

/** A retraction kept for good, so it holds whichever of it and its event arrives first. */
interface Tombstone {
  nhsNumber: string;
}

const NOTHING: ApplyResult = { outcome: 'unchanged', changed: [] };

/**
 * The joined-up record: patients by NHS number, events by source and id (DESIGN §3.1 v1.1). Events may arrive
 * before their patient. A repeated event identity replaces the held event of the same patient; one held for another
 * NHS number is refused as a conflict unless it declares the correction (`correctsNhsNumber`). A retraction removes
 * only events filed under its own NHS number and is remembered. A record with a `version` older than the one held
 * is stale and not applied. This is the batch oracle: it is written for clarity, not speed.
 */
export class PatientStore {
  private readonly states = new Map<string, PatientState>();
  /** Every live event by identity. */
  private readonly live = new Map<string, EventRecord>();
  /** Retractions by identity; a retraction without source is kept under the unnamed source and covers every source. */
  private readonly tombstones = new Map<string, Tombstone>();
  /** Identities of live events by id alone: what a retraction without source looks through. */
  private readonly keysById = new Map<string, Set<string>>();

  /** Applies one record and says what it did. */
  apply(record: CaregapsRecord): ApplyResult {
    switch (record.kind) {
      case 'patient':
        return this.putPatient(record);
      case 'event':
        return this.putEvent(record);
      case 'retract':
        return this.retract(record);
      case 'organisation':
        return NOTHING;
    }
  }

  private putPatient(record: PatientRecord): ApplyResult {
    const state = this.state(record.nhsNumber);
    if (isOlder(record.version, state.patient?.version)) return { outcome: 'stale', changed: [] };
    state.patient = record;
    return { outcome: 'applied', changed: [record.nhsNumber] };
  }

  /** Stores an event (as `apply` does); `held` is the live event it replaced, if any. */
  putEvent(event: EventRecord): ApplyResult & { held?: EventRecord } {
    const key = eventKey(event.source, event.id);
    const tombstone = this.tombstones.get(key) ?? (event.source !== undefined ? this.tombstones.get(eventKey(undefined, event.id)) : undefined);
    if (tombstone !== undefined) {
      if (tombstone.nhsNumber === event.nhsNumber || tombstone.nhsNumber === event.correctsNhsNumber) return NOTHING;
      // A retraction without source covers this source only for its own patient; one naming this source holds the id.
      if (this.tombstones.has(key)) return conflict(event, tombstone.nhsNumber);
    }
    const held = this.live.get(key);
    if (held !== undefined && held.nhsNumber !== event.nhsNumber && held.nhsNumber !== event.correctsNhsNumber) {
      return conflict(event, held.nhsNumber);
    }
    if (held !== undefined && isOlder(event.version, held.version)) return { outcome: 'stale', changed: [] };
    if (held !== undefined && held.nhsNumber !== event.nhsNumber) this.states.get(held.nhsNumber)!.events.delete(key);
    this.live.set(key, event);
    let keys = this.keysById.get(event.id);
    if (keys === undefined) this.keysById.set(event.id, (keys = new Set()));
    keys.add(key);
    this.state(event.nhsNumber).events.set(key, event);
    const changed = held !== undefined && held.nhsNumber !== event.nhsNumber ? [event.nhsNumber, held.nhsNumber] : [event.nhsNumber];
    return held === undefined ? { outcome: 'applied', changed } : { outcome: 'applied', changed, held };
  }

  /**
   * Retracts (as `apply` does) and returns the live events it removed. A retraction naming a source whose event is
   * held, or retracted, for another NHS number is a conflict; one without source removes that id in every source,
   * for its own patient only.
   */
  retract(record: RetractRecord): ApplyResult & { removed: EventRecord[] } {
    const key = eventKey(record.source, record.id);
    const removed: EventRecord[] = [];
    const other = this.live.get(key)?.nhsNumber ?? this.tombstones.get(key)?.nhsNumber;
    const keys = record.source === undefined ? [...(this.keysById.get(record.id) ?? [])] : [key];
    for (const k of keys) {
      const held = this.live.get(k);
      if (held === undefined || held.nhsNumber !== record.nhsNumber) continue;
      this.live.delete(k);
      this.keysById.get(record.id)!.delete(k);
      this.states.get(held.nhsNumber)!.events.delete(k);
      removed.push(held);
      if (k !== key) this.tombstones.set(k, { nhsNumber: record.nhsNumber });
    }
    if (other !== undefined && other !== record.nhsNumber) {
      return removed.length > 0 ? { outcome: 'applied', changed: [record.nhsNumber], removed } : { ...conflict(record, other), removed };
    }
    const known = this.tombstones.has(key);
    this.tombstones.set(key, { nhsNumber: record.nhsNumber });
    if (removed.length === 0) return { ...(known ? NOTHING : { outcome: 'applied', changed: [] }), removed };
    return { outcome: 'applied', changed: [record.nhsNumber], removed };
  }

  private state(nhsNumber: string): PatientState {
    let s = this.states.get(nhsNumber);
    if (!s) {
      s = { nhsNumber, patient: undefined, events: new Map() };
      this.states.set(nhsNumber, s);
    }
    return s;
  }

  get(nhsNumber: string): PatientState | undefined {
    return this.states.get(nhsNumber);
  }

  /** Every NHS number seen, including those with events but no patient record yet. */
  values(): IterableIterator<PatientState> {
    return this.states.values();
  }

  get size(): number {
    return this.states.size;
  }
}

/** Whether a record's version is older than the held one's (either absent: no, the last arrival wins as in v1). */
function isOlder(version: number | undefined, held: number | undefined): boolean {
  return version !== undefined && held !== undefined && version < held;
}

function conflict(record: EventRecord | RetractRecord, heldFor: string): ApplyResult {
  const source = record.source === undefined ? 'the unnamed source' : `source ${record.source}`;
  return {
    outcome: 'conflict',
    changed: [],
    fault: {
      code: 'CG_RECORD_ID_CONFLICT',
      message: `id ${record.id} of ${source} is held for NHS number ${heldFor}, not ${record.nhsNumber}; declare a move with correctsNhsNumber`,
    },
  };
}
