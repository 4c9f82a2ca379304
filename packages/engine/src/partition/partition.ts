import {
  demographics,
  explainOutcome,
  formatDay,
  parseDay,
  type CodesetIndex,
  type CompiledRegistry,
  type EventRecord,
  type Explanation,
  type IndicatorStatus,
  type PatientRecord,
  type PatientResult,
  type RegistryOutcome,
} from '@caregaps/core';
import { CounterLayout, STATUSES } from '../aggregates.js';
import type { Change, PatientStatus, RegistryStatus } from '../types.js';
import { PracticeCounters, type PracticeDelta } from './aggregates.js';
import { HotPatientView } from './evaluate.js';
import { RegisterGates } from './gates.js';
import { HorizonQueue } from './horizons.js';
import { HotState, type EventIdReader } from './hot-state.js';

const STATUS_CODE: Record<IndicatorStatus, number> = { met: 1, gap: 2, excepted: 3, 'not-applicable': 4 };
/** Outcomes are read at once (`settle`): each registry fills its own. */
const SCRATCH = { horizon: true, scratch: true } as const;
const EXPLAIN = { explain: true } as const;
const ALL = -1;
/** The outcome of a patient a registry's gate or registration keeps off its register. */
const OFF: RegistryOutcome = { onRegister: false, statuses: [], horizon: Infinity };

/** What an operation on a partition changed: the changes in order and the count deltas per practice. */
export interface PartitionReport {
  changes: Change[];
  deltas: PracticeDelta[];
}

/** What a partition holds in memory (see `Partition.memory`). */
export interface PartitionMemory {
  bytes: number;
  patientBytes: number;
  eventBytes: number;
  patients: number;
  events: number;
}

/** A population query resolved by the router: registry number, status slot offset, wanted code, practices. */
export interface PartitionQuery {
  registry: number;
  /** 0: the register flag; 1 + i: indicator i. */
  position: number;
  /** Status code wanted (-1: any status; 1: on the register). */
  want: number;
  /** Only patients of these practices (absent: every practice). */
  practices?: string[];
}

/**
 * The evaluating half of one partition (DESIGN §4): its patients' hot state, statuses and horizons, and per-practice
 * counts. It holds only what the record store decided: `PartitionHost` writes each batch to the partition's store
 * and passes the outcomes here (events by the store's integer handle). The patients a batch touches are evaluated
 * once, at `endBatch` (or at `flush` when the batch is held).
 */
export class Partition {
  private readonly hot: HotState;
  private readonly view: HotPatientView;
  private readonly queue = new HorizonQueue();
  private readonly layout: CounterLayout;
  private readonly counters: PracticeCounters;
  /** Registries reading each cluster, as a bit mask (ALL when there are more than 30 registries). */
  private readonly readers: Int32Array;
  private readonly setReaders: number[] = [];
  private readonly gates: RegisterGates;
  private status = new Uint8Array(0);
  /** Per row and registry, the horizon day (Infinity: none); 32-bit floats hold every day number and Infinity exactly. */
  private horizons = new Float32Array(0);
  private registered = new Uint8Array(0);
  private pending = new Int32Array(0);
  /**
   * Per patient, the registries (bit mask; ALL beyond 30 registries) whose status or horizon is not the resting one:
   * on the register, or a horizon before Infinity. The rest need no work while their gate stays closed.
   */
  private live = new Int32Array(0);
  private readonly touched: number[] = [];
  private changes: Change[] = [];
  private day: number;
  private asOfText: string;
  private patientRecords = 0;

  constructor(
    private readonly registries: readonly CompiledRegistry[],
    index: CodesetIndex,
    day: number,
    private readonly explainChanges: boolean,
    /** Reads a held event's record id from the partition's record store (the hot state holds handles). */
    readId: EventIdReader,
  ) {
    this.day = day;
    this.asOfText = formatDay(day);
    this.layout = new CounterLayout(registries);
    this.readers = new Int32Array(index.clusters.length);
    const read = new Set<number>();
    registries.forEach((r, n) => {
      for (const c of r.clusters) {
        read.add(c);
        this.readers[c] = registries.length > 30 ? ALL : this.readers[c]! | (1 << n);
      }
    });
    this.hot = new HotState(index, read, readId);
    this.gates = new RegisterGates(registries, this.hot.words);
    this.view = new HotPatientView(this.hot);
    this.counters = new PracticeCounters(this.layout.width, this.hot.practices);
  }

  /** Patients whose patient record has arrived. */
  get patientCount(): number {
    return this.patientRecords;
  }

  /** Rows of the hot state: every NHS number seen, with or without its patient record. */
  get rows(): number {
    return this.hot.patients;
  }

  nhsNumberOf(row: number): string {
    return this.hot.nhsNumber(row);
  }

  get queuedCount(): number {
    return this.queue.size;
  }

  /**
   * Bytes held per patient (hot-state rows, statuses, horizons, the horizon queue) and per relevant event (the event
   * arena), at capacity; and the patients (rows) and relevant events held.
   */
  memory(): PartitionMemory {
    const hot = this.hot.bytes();
    const patientBytes = hot.patients + this.status.byteLength + this.horizons.byteLength + this.registered.byteLength + this.pending.byteLength + this.live.byteLength + this.queue.bytes;
    return { bytes: patientBytes + hot.events, patientBytes, eventBytes: hot.events, patients: this.hot.patients, events: this.hot.events };
  }

  /** Evaluates every patient touched since the last report (unless `hold`: then at `flush`) and reports. */
  endBatch(hold = false): PartitionReport {
    if (!hold) this.evaluateTouched();
    return this.report();
  }

  /** Evaluates the patients held by `endBatch(true)`. */
  flush(): PartitionReport {
    this.evaluateTouched();
    return this.report();
  }

  /**
   * Moves the achievement date. Forward, only patients whose horizon has passed are re-evaluated (a priority queue,
   * no scan); backward, every patient is (horizons only look forward).
   */
  advance(day: number): PartitionReport {
    const backward = day < this.day;
    this.day = day;
    this.asOfText = formatDay(day);
    if (backward) return this.recompute();
    const registries = this.registries.length;
    for (const row of this.queue.takeUntil(day)) {
      let mask = 0;
      for (let r = 0; r < registries; r++) if (this.horizons[row * registries + r]! <= day) mask |= registries > 30 ? ALL : 1 << r;
      this.updateRegistered(row);
      if (mask !== 0) this.evaluate(row, mask);
      else this.schedule(row);
    }
    return this.report();
  }

  /** Re-evaluates every patient in every registry on the current date. */
  recompute(): PartitionReport {
    const hot = this.hot;
    for (let row = 0; row < hot.patients; row++) {
      if (hot.hasPatient[row] !== 1) continue;
      this.updateRegistered(row);
      this.evaluate(row, ALL);
    }
    return this.report();
  }

  /** A patient's registration and statuses in every registry (`undefined` until their patient record arrives). */
  patient(nhsNumber: string, explain: boolean): PatientStatus | undefined {
    const row = this.hot.row(nhsNumber);
    if (row < 0 || this.hot.hasPatient[row] !== 1) return undefined;
    const registries = this.registries.map((registry, r): RegistryStatus => {
      const slot = row * this.layout.slots + this.layout.slot[r]!;
      const onRegister = this.status[slot] === 1;
      const indicators: Record<string, IndicatorStatus> = {};
      if (onRegister) registry.indicatorIds.forEach((id, i) => (indicators[id] = STATUSES[this.status[slot + 1 + i]! - 1]!));
      const result: RegistryStatus = { registry: registry.id, onRegister, indicators };
      if (explain) {
        const explanation = this.explain(row, registry);
        if (explanation) result.explanation = explanation;
      }
      return result;
    });
    return { nhsNumber, practice: this.hot.practices[this.hot.practice[row]!]!, registered: this.registered[row] === 1, asOf: this.asOfText, registries };
  }

  /** Every patient on every register they are on, in the order the partition first saw them. */
  results(explain: boolean): PatientResult[] {
    const out: PatientResult[] = [];
    const hot = this.hot;
    for (let row = 0; row < hot.patients; row++) {
      if (hot.hasPatient[row] !== 1) continue;
      for (let r = 0; r < this.registries.length; r++) {
        const registry = this.registries[r]!;
        const slot = row * this.layout.slots + this.layout.slot[r]!;
        if (this.status[slot] !== 1) continue;
        const indicators: Record<string, IndicatorStatus> = {};
        registry.indicatorIds.forEach((id, i) => (indicators[id] = STATUSES[this.status[slot + 1 + i]! - 1]!));
        const result: PatientResult = { nhsNumber: hot.nhsNumber(row), registry: registry.id, indicators };
        if (explain) {
          const explanation = this.explain(row, registry);
          if (explanation) result.explanation = explanation;
        }
        out.push(result);
      }
    }
    return out;
  }

  /** NHS numbers of the patients a population query selects. */
  patients(query: PartitionQuery): string[] {
    const out: string[] = [];
    const hot = this.hot;
    const within = query.practices ? new Set(query.practices) : undefined;
    const position = this.layout.slot[query.registry]! + query.position;
    for (let row = 0; row < hot.patients; row++) {
      const code = this.status[row * this.layout.slots + position] ?? 0;
      if (code === 0 || (query.want !== -1 && code !== query.want)) continue;
      if (within && !within.has(hot.practices[hot.practice[row]!]!)) continue;
      out.push(hot.nhsNumber(row));
    }
    return out;
  }

  // ---- applying ------------------------------------------------------------------------------------------------

  /**
   * Holds an event under its store handle; events in no cluster read are not held. `heldFor`: the NHS number the
   * handle was held for until now (a replacement, or a move between patients), whose event is taken out first.
   */
  putEvent(record: EventRecord, handle: number, heldFor?: string): void {
    if (heldFor !== undefined) this.removeEvent(heldFor, handle);
    this.replayEvent(record, handle);
  }

  /**
   * `putEvent` for a partition being replayed from its store, which holds each handle once: nothing to replace.
   * Returns whether the event is held (false: another code system, or a code in no cluster any registry reads).
   */
  replayEvent(record: EventRecord, handle: number): boolean {
    const row = this.hot.rowFor(record.nhsNumber);
    // Most events are in no cluster a registry reads: they live in the record store only, with no hot-state work.
    if ((record.system ?? 'snomed') !== 'snomed' || this.hot.setOf(record.code) < 0) return false;
    const set = this.hot.addEvent(row, handle, { id: record.id, code: record.code, day: parseDay(record.date)!, value: record.value ?? Number.NaN, values: record.values });
    if (set >= 0) this.mark(row, this.readersOfSet(set));
    return set >= 0;
  }

  /** Gives an NHS number its row (as an event in no cluster read does: the row, and nothing held). */
  holdRow(nhsNumber: string): void {
    this.hot.rowFor(nhsNumber);
  }

  /** The interned cluster set of a SNOMED code (-1 when it is in no cluster any registry reads). */
  clusterSetOf(code: string): number {
    return this.hot.setOf(code);
  }

  /** Takes the event a store handle held for a patient out of the hot state (if it held it) and marks the patient. */
  removeEvent(nhsNumber: string, handle: number): void {
    const row = this.hot.row(nhsNumber);
    if (row < 0) return;
    const set = this.hot.removeEvent(row, handle);
    if (set >= 0) this.mark(row, this.readersOfSet(set));
  }

  /** Sets a patient's demographics and registration (the store decided it is the current patient record). */
  putPatient(record: PatientRecord): void {
    const hot = this.hot;
    const row = hot.rowFor(record.nhsNumber);
    const d = demographics(record);
    if (hot.hasPatient[row] !== 1) {
      this.patientRecords++;
      this.ensureRows();
      hot.setPatient(row, d);
    } else if (hot.practices[hot.practice[row]!] !== d.practice) {
      this.contribute(row, -1);
      hot.setPatient(row, d);
      this.contribute(row, 1);
    } else hot.setPatient(row, d);
    this.updateRegistered(row);
    this.mark(row, ALL);
  }

  private readersOfSet(set: number): number {
    let mask = this.setReaders[set];
    if (mask === undefined) {
      mask = 0;
      for (let c = 0; c < this.readers.length; c++) if (this.readers[c] !== 0 && this.hot.setHas(set, c)) mask |= this.readers[c]!;
      this.setReaders[set] = mask;
    }
    return mask;
  }

  /** Notes registries to re-evaluate for a patient at the end of the call (once the patient record has arrived). */
  private mark(row: number, mask: number): void {
    if (mask === 0 || this.hot.hasPatient[row] !== 1) return;
    if (this.pending[row] === 0) this.touched.push(row);
    this.pending[row]! |= mask;
  }

  private evaluateTouched(): void {
    const touched = this.touched;
    for (let i = 0; i < touched.length; i++) {
      const row = touched[i]!;
      const mask = this.pending[row]!;
      this.pending[row] = 0;
      if (mask !== 0) this.evaluate(row, mask);
    }
    touched.length = 0;
  }

  private report(): PartitionReport {
    const changes = this.changes;
    this.changes = [];
    return { changes, deltas: this.counters.takeDeltas() };
  }

  /** Grows the per-row tables to hold every row the hot state has. */
  private ensureRows(): void {
    const rows = this.hot.patients;
    const registries = this.registries.length;
    if (rows <= this.registered.length) return;
    const capacity = Math.max(1024, Math.ceil(rows * 1.5));
    const status = new Uint8Array(capacity * this.layout.slots);
    status.set(this.status);
    this.status = status;
    const horizons = new Float32Array(capacity * registries).fill(Infinity);
    horizons.set(this.horizons);
    this.horizons = horizons;
    const registered = new Uint8Array(capacity);
    registered.set(this.registered);
    this.registered = registered;
    const pending = new Int32Array(capacity);
    pending.set(this.pending);
    this.pending = pending;
    const live = new Int32Array(capacity);
    live.set(this.live);
    this.live = live;
  }

  // ---- evaluating ----------------------------------------------------------------------------------------------

  private updateRegistered(row: number): void {
    const hot = this.hot;
    const registered = hot.registeredFrom[row]! <= this.day && hot.end(row) > this.day ? 1 : 0;
    if (registered !== this.registered[row]) {
      this.registered[row] = registered;
      this.counters.add(hot.practice[row]!, 0, registered ? 1 : -1);
    }
  }

  /**
   * Evaluates the registries in `mask` for one patient, applies the differences and reschedules the patient. A patient
   * not registered on the date, or to whom a registry's gate is closed, is off that register with no call to its
   * compiled rules: a gate holds whatever the date, so a closed one has no horizon (a new record re-evaluates the
   * patient). Registries closed to the patient and already at rest (off, no horizon) are not visited.
   */
  private evaluate(row: number, mask: number): void {
    const registries = this.registries;
    const count = registries.length;
    const hot = this.hot;
    const day = this.day;
    const from = hot.registeredFrom[row]!;
    const end = hot.end(row);
    const horizons = this.horizons;
    const registered = from <= day && end > day;
    let resting = Infinity;
    if (!registered) {
      if (from > day) resting = from;
      if (end > day && end < resting) resting = end;
    }
    const gates = this.gates;
    const at = row * hot.words;
    // Registries to visit: every one in `mask` when not registered (their horizon is the registration's), else
    // those open to the patient or not at rest.
    const open = registered && gates.masked ? gates.openOf(hot.clusterMask, at) : ALL;
    const visit = registered ? (open | this.live[row]!) & mask : mask;
    let live = this.live[row]! & ~mask;
    let view: HotPatientView | undefined;
    for (let r = 0; r < count; r++) {
      if (visit !== ALL && (visit & (1 << r)) === 0) continue;
      let horizon = resting;
      if (registered && (gates.masked ? (open & (1 << r)) !== 0 : gates.passes(hot.clusterMask, at, r))) {
        view ??= this.view.bind(row);
        const outcome = registries[r]!.evaluate(view, day, SCRATCH);
        horizon = outcome.horizon;
        this.settle(row, r, outcome);
      } else if (this.status[row * this.layout.slots + this.layout.slot[r]!] === 1) this.settle(row, r, OFF);
      horizons[row * count + r] = horizon;
      if (horizon !== Infinity || this.status[row * this.layout.slots + this.layout.slot[r]!] === 1) live |= 1 << r;
    }
    this.live[row] = gates.masked ? live : ALL;
    this.schedule(row);
  }

  private schedule(row: number): void {
    const hot = this.hot;
    const from = hot.registeredFrom[row]!;
    const end = hot.end(row);
    let next = from > this.day ? from : end > this.day ? end : Infinity;
    const registries = this.registries.length;
    if (this.live[row] !== 0) for (let at = row * registries, stop = at + registries; at < stop; at++) if (this.horizons[at]! < next) next = this.horizons[at]!;
    this.queue.schedule(row, next);
  }

  /** Writes one registry's outcome into the patient's statuses, counting and emitting each difference. */
  private settle(row: number, r: number, outcome: RegistryOutcome): void {
    const status = this.status;
    const slot = row * this.layout.slots + this.layout.slot[r]!;
    const wasOn = status[slot] === 1;
    const on = outcome.onRegister;
    if (!wasOn && !on) return;
    const registry = this.registries[r]!;
    const practice = this.hot.practice[row]!;
    // The explanation, when asked for, is computed once for all the changes of this outcome.
    const explained: { explanation?: Explanation | undefined; done: boolean } | undefined = this.explainChanges ? { done: false } : undefined;
    if (on && !wasOn) {
      status[slot] = 1;
      this.counters.add(practice, this.layout.base[r]!, 1);
      this.emit(row, registry, undefined, 'off', 'on', explained);
    }
    const statuses = outcome.statuses;
    for (let i = 0; i < registry.indicatorIds.length; i++) {
      const before = status[slot + 1 + i]!;
      const after = on ? STATUS_CODE[statuses[i]!] : 0;
      if (before === after) continue;
      status[slot + 1 + i] = after;
      if (before) this.counters.add(practice, this.layout.statusCounter(r, i, before), -1);
      if (after) this.counters.add(practice, this.layout.statusCounter(r, i, after), 1);
      this.emit(row, registry, registry.indicatorIds[i], before ? STATUSES[before - 1]! : null, after ? STATUSES[after - 1]! : null, explained);
    }
    if (!on && wasOn) {
      status[slot] = 0;
      this.counters.add(practice, this.layout.base[r]!, -1);
      this.emit(row, registry, undefined, 'on', 'off', explained);
    }
  }

  private emit(
    row: number,
    registry: CompiledRegistry,
    indicator: string | undefined,
    before: Change['before'],
    after: Change['after'],
    explained: { explanation?: Explanation | undefined; done: boolean } | undefined,
  ): void {
    const hot = this.hot;
    const change: Change = { nhsNumber: hot.nhsNumber(row), registry: registry.id, before, after, asOf: this.asOfText, practice: hot.practices[hot.practice[row]!]! };
    if (indicator !== undefined) change.indicator = indicator;
    if (explained) {
      if (!explained.done) {
        explained.explanation = this.explain(row, registry);
        explained.done = true;
      }
      if (explained.explanation) change.explanation = explained.explanation;
    }
    this.changes.push(change);
  }

  private explain(row: number, registry: CompiledRegistry): Explanation | undefined {
    return explainOutcome(registry.evaluate(this.view.bind(row), this.day, EXPLAIN), registry);
  }

  /** Adds (or with -1 removes) everything a patient counts for at their practice. */
  private contribute(row: number, sign: 1 | -1): void {
    const practice = this.hot.practice[row]!;
    if (this.registered[row] === 1) this.counters.add(practice, 0, sign);
    this.registries.forEach((registry, r) => {
      const slot = row * this.layout.slots + this.layout.slot[r]!;
      if (this.status[slot] !== 1) return;
      this.counters.add(practice, this.layout.base[r]!, sign);
      for (let i = 0; i < registry.indicatorIds.length; i++) {
        this.counters.add(practice, this.layout.statusCounter(r, i, this.status[slot + 1 + i]!), sign);
      }
    });
  }
}
