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
  private readonly ownerOfEvent = new Map<string, string>();
  private readonly retracted = new Set<string>();

  /** Applies one record and returns the NHS numbers whose state changed (none, one, or two when an event moves). */
  apply(record: CaregapsRecord): string[] {
    switch (record.kind) {
      case 'patient': {
        this.state(record.nhsNumber).patient = record;
        return [record.nhsNumber];
      }
      case 'event':
        return this.putEvent(record);
      case 'retract': {
        this.retracted.add(record.id);
        const owner = this.ownerOfEvent.get(record.id);
        if (owner === undefined) return [];
        this.ownerOfEvent.delete(record.id);
        this.states.get(owner)!.events.delete(record.id);
        return [owner];
      }
      case 'organisation':
        return [];
    }
  }

  private putEvent(event: EventRecord): string[] {
    if (this.retracted.has(event.id)) return [];
    const previous = this.ownerOfEvent.get(event.id);
    const changed = [event.nhsNumber];
    if (previous !== undefined && previous !== event.nhsNumber) {
      this.states.get(previous)!.events.delete(event.id);
      changed.push(previous);
    }
    this.ownerOfEvent.set(event.id, event.nhsNumber);
    this.state(event.nhsNumber).events.set(event.id, event);
    return changed;
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
