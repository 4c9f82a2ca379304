import type { CaregapsRecord, EventRecord, PatientRecord } from './types.js';

/** What the store holds for one NHS number: the latest demographics (if any arrived yet) and the live events. */
export interface PatientState {
  nhsNumber: string;
  patient: PatientRecord | undefined;
  events: Map<string, EventRecord>;
}

/**
 * The joined-up record: patients by NHS number, events by id. Events may arrive before their patient; a repeated
 * event id replaces the earlier event (even one filed under another NHS number); a retraction removes the event
 * and is remembered, so the retracted id stays removed whichever order the two arrive in.
 */
export class PatientStore {
  private readonly states = new Map<string, PatientState>();
  /** Every live event by id: one lookup finds both the event a repeated id replaces and the patient it is filed under. */
  private readonly eventById = new Map<string, EventRecord>();
  private readonly retracted = new Set<string>();

  /** Applies one record and returns the NHS numbers whose state changed (none, one, or two when an event moves). */
  apply(record: CaregapsRecord): string[] {
    switch (record.kind) {
      case 'patient': {
        this.state(record.nhsNumber).patient = record;
        return [record.nhsNumber];
      }
      case 'event': {
        const previous = this.putEvent(record);
        if (previous === null) return [];
        return previous !== undefined && previous.nhsNumber !== record.nhsNumber ? [record.nhsNumber, previous.nhsNumber] : [record.nhsNumber];
      }
      case 'retract': {
        const removed = this.retract(record.id);
        return removed ? [removed.nhsNumber] : [];
      }
      case 'organisation':
        return [];
    }
  }

  /**
   * Stores an event (as `apply` does) and returns the live event with the same id it replaced — filed under its own
   * NHS number, which may be another patient's — or `undefined` when there was none, or `null` when the id is
   * retracted and the event was not stored. `into` may be given when the caller already holds the state of
   * `event.nhsNumber` (from `get`), to save looking it up.
   */
  putEvent(event: EventRecord, into?: PatientState): EventRecord | undefined | null {
    if (this.retracted.size !== 0 && this.retracted.has(event.id)) return null;
    const previous = this.eventById.get(event.id);
    if (previous !== undefined && previous.nhsNumber !== event.nhsNumber) this.states.get(previous.nhsNumber)!.events.delete(event.id);
    this.eventById.set(event.id, event);
    const state = into !== undefined && into.nhsNumber === event.nhsNumber ? into : this.state(event.nhsNumber);
    state.events.set(event.id, event);
    return previous;
  }

  /** Retracts an event id for good (as `apply` does) and returns the live event it removed, if any. */
  retract(id: string): EventRecord | undefined {
    this.retracted.add(id);
    return this.remove(id);
  }

  /** Removes a live event without retracting its id (it moved to a store that holds its new patient). */
  remove(id: string): EventRecord | undefined {
    const removed = this.eventById.get(id);
    if (removed === undefined) return undefined;
    this.eventById.delete(id);
    this.states.get(removed.nhsNumber)!.events.delete(id);
    return removed;
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
