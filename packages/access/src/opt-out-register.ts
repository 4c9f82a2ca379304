import { CaregapsError, achievementDay, isValidNhsNumber, type OptOut } from '@caregaps/core';

/** The opt-outs a resident can hold (DESIGN §5), in the order forms list them. */
export const OPT_OUT_TYPES: readonly OptOut[] = ['shared-record', 'secondary-use', 'national-data-opt-out', 'type-1'];

/** One opt-out as the register keeps it: who recorded it and when, and — once removed — who removed it and when. */
export interface OptOutEntry {
  /** `oo-<n>`, made by the register. */
  id: string;
  nhsNumber: string;
  type: OptOut;
  /** The day the resident opted out (YYYY-MM-DD), as the recorder states it. */
  date: string;
  /** When it was entered (ISO time), by which user of which organisation. */
  recordedAt: string;
  recordedBy: string;
  organisation: string;
  removed?: { at: string; by: string; organisation: string };
}

/** Who changes the register: the user and the organisation they act for. */
export interface RegisterActor {
  user: string;
  organisation: string;
}

/**
 * The opt-out register: opt-outs recorded by data controllers, apart from the patients' records (a later GP extract
 * must not erase them). The access layer adds the opt-outs held here to the ones the patient record carries, at
 * once, for every decision. Removing an opt-out keeps its entry, marked removed: the history stays.
 */
export class OptOutRegister {
  private readonly list: OptOutEntry[] = [];
  private readonly active = new Map<string, Set<OptOut>>();
  /** Grows with every change; the access layer decides again when it moves during an access. */
  revision = 0;
  private readonly listeners: ((nhsNumber: string) => void)[] = [];

  constructor(saved: readonly OptOutEntry[] = []) {
    for (const entry of saved) {
      this.list.push(structuredClone(entry));
      if (!entry.removed) this.hold(entry.nhsNumber, entry.type);
    }
  }

  private hold(nhsNumber: string, type: OptOut): void {
    const held = this.active.get(nhsNumber);
    if (held) held.add(type);
    else this.active.set(nhsNumber, new Set([type]));
  }

  /** The opt-outs a patient holds here now. */
  held(nhsNumber: string): readonly OptOut[] {
    const held = this.active.get(nhsNumber);
    return held ? [...held] : [];
  }

  /** Records an opt-out; refuses a malformed one, a date after `today` and one the patient already holds here. */
  add(change: { nhsNumber: string; type: OptOut; date: string }, by: RegisterActor, now: Date): OptOutEntry {
    const { nhsNumber, type, date } = change;
    if (typeof nhsNumber !== 'string' || !isValidNhsNumber(nhsNumber)) throw new CaregapsError('CG_USAGE', `Not a valid NHS number: ${String(nhsNumber)}`);
    if (!OPT_OUT_TYPES.includes(type)) throw new CaregapsError('CG_USAGE', `The opt-out type must be one of ${OPT_OUT_TYPES.join(', ')}`);
    let day: number;
    try {
      day = achievementDay(String(date));
    } catch {
      throw new CaregapsError('CG_USAGE', `The opt-out date must be a real date, YYYY-MM-DD: ${String(date)}`);
    }
    if (day > Math.floor(now.getTime() / 86_400_000)) throw new CaregapsError('CG_USAGE', `The opt-out date ${date} is in the future`);
    if (this.active.get(nhsNumber)?.has(type)) throw new CaregapsError('CG_USAGE', `${nhsNumber} already holds a ${type} opt-out in the register`);
    const entry: OptOutEntry = { id: `oo-${this.list.length + 1}`, nhsNumber, type, date, recordedAt: now.toISOString(), recordedBy: by.user, organisation: by.organisation };
    this.list.push(entry);
    this.hold(nhsNumber, type);
    this.changed(nhsNumber);
    return structuredClone(entry);
  }

  /** Removes the patient's opt-out of this type (the entry stays, marked removed); refuses when none is held. */
  remove(change: { nhsNumber: string; type: OptOut }, by: RegisterActor, now: Date): OptOutEntry {
    const entry = this.list.find((e) => e.nhsNumber === change.nhsNumber && e.type === change.type && !e.removed);
    if (!entry) throw new CaregapsError('CG_USAGE', `${String(change.nhsNumber)} holds no ${String(change.type)} opt-out in the register`);
    entry.removed = { at: now.toISOString(), by: by.user, organisation: by.organisation };
    this.active.get(entry.nhsNumber)!.delete(entry.type);
    this.changed(entry.nhsNumber);
    return structuredClone(entry);
  }

  /** Calls `listener` with the NHS number after every change (the access layer's indexes follow the register). */
  subscribe(listener: (nhsNumber: string) => void): void {
    this.listeners.push(listener);
  }

  private changed(nhsNumber: string): void {
    this.revision++;
    for (const listener of this.listeners) listener(nhsNumber);
  }

  /** The NHS numbers holding at least one opt-out here now. */
  holders(): string[] {
    return [...this.active].filter(([, held]) => held.size > 0).map(([nhs]) => nhs);
  }

  /** Every entry (removed ones too), oldest first, optionally only those `keep` accepts. */
  entries(keep: (entry: OptOutEntry) => boolean = () => true): OptOutEntry[] {
    return this.list.filter(keep).map((e) => structuredClone(e));
  }

  /** The register as data, for saving; `new OptOutRegister(saved)` restores it. */
  toJSON(): OptOutEntry[] {
    return this.entries();
  }
}
