import {
  CaregapsError,
  PatientStore,
  Quarantine,
  achievementDay,
  addEvent,
  checkRecord,
  demographics,
  explainOutcome,
  formatDay,
  preparePatient,
  removeEvent,
  type CaregapsRecord,
  type CodesetIndex,
  type CompiledRegistry,
  type EventRecord,
  type Explanation,
  type IndicatorStatus,
  type OrganisationRecord,
  type PatientResult,
  type PatientState,
  type PreparedPatient,
  type QuarantinedRecord,
  type ReadResult,
  type RegistryOutcome,
} from '@caregaps/core';
import { Subject, distinctUntilChanged, map, startWith, type Observable } from 'rxjs';
import { Aggregates, CounterLayout, STATUSES, type OrganisationNode, type RegistryCounts } from './aggregates.js';
import { HorizonQueue, type Schedulable } from './horizon-queue.js';
import { DurableLog, type LogEntry, type LogWriter } from './log.js';
import { iteratorOf, type RecordSource } from './source.js';

/** A change of register membership or of an indicator status for one patient, as it happens. */
export interface Change {
  nhsNumber: string;
  registry: string;
  /** Absent when the patient joins or leaves the register. */
  indicator?: string;
  /** `on`/`off` for the register; otherwise the indicator status (`null` when the patient was not on the register). */
  before: IndicatorStatus | 'on' | 'off' | null;
  after: IndicatorStatus | 'on' | 'off' | null;
  /** Achievement date the change holds on, YYYY-MM-DD. */
  asOf: string;
  /** ODS code of the patient's practice. */
  practice: string;
  /** Why the patient has the new statuses (only when the engine was created with `explainChanges`). */
  explanation?: Explanation;
}

/** The durable local store (DESIGN §7): an append-only log with checksums, and snapshots. */
export interface StoreOptions {
  /** Directory of the log segments and snapshots (created if missing). */
  directory: string;
  /** Write a snapshot (and start a new log segment) after this many logged entries. Default 1,000,000. */
  snapshotEvery?: number;
  /** Replaces the log's write and fsync calls: for tests that simulate a failing disk. */
  writer?: LogWriter;
}

export interface EngineOptions {
  /** Compiled registries, e.g. `loadRegistries(...).compiled`. */
  compiled: readonly CompiledRegistry[];
  /** The codeset index the registries were compiled against. */
  index: CodesetIndex;
  /** Initial achievement date (YYYY-MM-DD or a day number). A durable store that already has a date keeps its own. */
  asOf: string | number;
  /** The organisation hierarchy (records of kind `organisation`); more can arrive later through `ingest`. */
  organisations?: Iterable<OrganisationRecord>;
  /** Attach an explanation to every change (costs one more evaluation per changed patient and registry). */
  explainChanges?: boolean;
  /** Keep state in a durable local store; without it the engine lives in memory only. */
  store?: StoreOptions;
}

export interface IngestOptions {
  /** File name for quarantine reports. */
  file?: string;
  /**
   * Apply the whole source first and evaluate the touched patients once at the end (a first load). Changes are
   * still emitted, at the end.
   */
  bulk?: boolean;
  /** Durable store: most records written and fsynced together (default 4096). */
  batchSize?: number;
  /** Durable store: longest a record waits for its batch to fill before it is written anyway (default 5 ms). */
  maxDelayMs?: number;
  /** Called after each batch is durable and applied, with the number of records acknowledged so far. */
  onAcknowledged?: (acknowledged: number) => void;
}

export interface IngestSummary {
  /** Records accepted, logged (when durable) and applied. */
  accepted: number;
  /** Records refused by validation or by the engine, kept in `engine.quarantine`. */
  quarantined: number;
}

/** One registry's statuses for one patient. */
export interface RegistryStatus {
  registry: string;
  onRegister: boolean;
  indicators: Record<string, IndicatorStatus>;
  explanation?: Explanation;
}

/** A point query's answer: the patient's registration and every registry's statuses. */
export interface PatientStatus {
  nhsNumber: string;
  practice: string;
  registered: boolean;
  asOf: string;
  registries: RegistryStatus[];
}

/** A population query: who is on a register, or in a status of one of its indicators, optionally under one organisation. */
export interface PopulationQuery {
  registry: string;
  indicator?: string;
  status?: IndicatorStatus;
  /** Only patients of practices at or under this organisation. */
  organisation?: string;
}

/** What a restart found in the durable store. */
export interface RecoveryReport {
  entries: number;
  /** Bytes of a torn or corrupt entry cut from the end of the log (never acknowledged). */
  truncatedBytes: number;
}

const STATUS_CODE: Record<IndicatorStatus, number> = { met: 1, gap: 2, excepted: 3, 'not-applicable': 4 };
const HORIZON = { horizon: true } as const;
const EXPLAIN = { explain: true } as const;
const ALL = -1;

/**
 * One patient whose record has arrived: the prepared form, their practice's node, and their row in the engine's
 * status and horizon tables (one shared typed array each, so a patient costs no typed-array objects of their own).
 */
class PatientEntry implements Schedulable {
  queuedDay = Infinity;
  registered = false;
  /** Registries awaiting re-evaluation at the end of the current batch (0: none). */
  pending = 0;

  constructor(
    /** The patient's stored records (the store keeps one state object per NHS number for good). */
    readonly state: PatientState,
    public prepared: PreparedPatient,
    public org: number,
    readonly row: number,
  ) {}
}

/**
 * The incremental engine (DESIGN §4). Records stream in; each touches only the registries that read the clusters
 * of its code, for that patient. Time moves with `advanceTo`, which re-evaluates only the patients whose horizon
 * has passed. Every change is emitted on `changes$` and counted by practice, PCN, borough and ICB in O(1).
 * At any time its statuses and counts equal a batch evaluation of the same records on the same date.
 */
export class Engine {
  /** Records refused, with reasons and counts. */
  readonly quarantine = new Quarantine();
  /** Changes of register membership and indicator status, as they happen. */
  readonly changes$: Observable<Change>;
  /** What a restart found in the durable store (`undefined` for an in-memory engine). */
  readonly recovery: RecoveryReport | undefined;

  private readonly registries: readonly CompiledRegistry[];
  private readonly index: CodesetIndex;
  private readonly store = new PatientStore();
  private readonly entries = new Map<string, PatientEntry>();
  private readonly queue = new HorizonQueue<PatientEntry>();
  private readonly layout: CounterLayout;
  private readonly aggregates: Aggregates;
  /** Registries reading each cluster, as a bit mask (ALL when there are more than 30 registries). */
  private readonly readers: Int32Array;
  private readonly retracted = new Map<string, string>();
  /** Per patient row: per registry, the on-register flag then one status code per indicator (0 = not on the register). */
  private status = new Uint8Array(0);
  /** Per patient row: per registry, the day its outcome could next change by itself. */
  private horizons = new Float64Array(0);
  private rows = 0;
  private readonly changes = new Subject<Change>();
  private readonly settled = new Subject<void>();
  private readonly explainChanges: boolean;
  private readonly log: DurableLog | undefined;
  private readonly snapshotEvery: number;
  private sinceSnapshot = 0;
  private day: number;
  /** The achievement date as YYYY-MM-DD, kept with `day` (every change carries it). */
  private asOfText: string;
  /** Patients touched while applying in bulk, evaluated together when the bulk ends. */
  private dirty: Set<string> | undefined;
  /** While a batch is applied: the patients whose re-evaluation waits for its end (each once, with `pending`). */
  private deferred: PatientEntry[] | undefined;
  private closed = false;

  constructor(options: EngineOptions) {
    this.registries = options.compiled;
    this.index = options.index;
    this.day = achievementDay(options.asOf);
    this.asOfText = formatDay(this.day);
    this.explainChanges = options.explainChanges === true;
    this.layout = new CounterLayout(this.registries);
    this.aggregates = new Aggregates(this.layout);
    this.readers = new Int32Array(this.index.clusters.length);
    this.registries.forEach((r, n) => {
      for (const c of r.clusters) this.readers[c] = this.registries.length > 30 ? ALL : this.readers[c]! | (1 << n);
    });
    this.changes$ = this.changes.asObservable();
    for (const org of options.organisations ?? []) this.applyOrganisation(org);
    this.snapshotEvery = options.store?.snapshotEvery ?? 1_000_000;
    if (options.store) {
      this.log = new DurableLog(options.store.directory, options.store.writer);
      const found = this.log.recover();
      this.dirty = new Set();
      if (found.snapshotAsOf !== undefined) this.setDay(achievementDay(found.snapshotAsOf));
      let dated = found.snapshotAsOf !== undefined;
      for (const entry of found.entries) {
        if (entry.kind === 'advance') {
          this.setDay(achievementDay(entry.asOf));
          dated = true;
        } else this.applyRecord(entry);
      }
      this.sinceSnapshot = found.logEntries;
      this.settleDirty();
      if (!dated) this.log.append([{ kind: 'advance', asOf: this.asOfText }]);
      this.recovery = { entries: found.entries.length, truncatedBytes: found.truncatedBytes };
    }
  }

  /** The current achievement date, YYYY-MM-DD. */
  get asOf(): string {
    return this.asOfText;
  }

  private setDay(day: number): void {
    this.day = day;
    this.asOfText = formatDay(day);
  }

  /** Patients whose patient record has arrived. */
  get patientCount(): number {
    return this.entries.size;
  }

  /** Patients registered on the achievement date (the population's list size). */
  get registeredCount(): number {
    return this.aggregates.registered();
  }

  /** Patients queued for a time-driven re-evaluation. */
  get queuedCount(): number {
    return this.queue.size;
  }

  // ---- ingesting -----------------------------------------------------------------------------------------------

  /**
   * Validates, logs (when durable: written and fsynced before it counts as accepted) and applies every record of
   * a source. Items may be records, unparsed objects, or the results of `readRecords` (whose refused lines are
   * quarantined here too). Resolves when the source ends; rejects, without applying the batch, if the log
   * cannot be written.
   */
  async ingest(source: RecordSource, options: IngestOptions = {}): Promise<IngestSummary> {
    this.assertOpen();
    const summary: IngestSummary = { accepted: 0, quarantined: 0 };
    const batchSize = this.log ? (options.batchSize ?? 4096) : 1024;
    const maxDelayMs = options.maxDelayMs ?? 5;
    const batch: CaregapsRecord[] = [];
    let line = 0;
    if (options.bulk) this.dirty ??= new Set();
    const source$ = iteratorOf(source);
    // Records of a batch are applied one by one and each patient they touched is evaluated once, at the end of the
    // batch. Not for an async source without a log: it is applied record by record, as it may pause at any record.
    const deferring = !options.bulk && this.deferred === undefined && (source$.sync !== undefined || this.log !== undefined);
    if (deferring) this.deferred = [];
    const commit = () => {
      if (batch.length === 0) return;
      if (this.log) {
        this.log.append(batch);
        for (const record of batch) this.applyRecord(record);
        this.sinceSnapshot += batch.length;
      }
      if (deferring) this.evaluateDeferred();
      summary.accepted += batch.length;
      batch.length = 0;
      if (!options.bulk) this.settled.next();
      options.onAcknowledged?.(summary.accepted);
      if (this.log && this.sinceSnapshot >= this.snapshotEvery) this.snapshot();
    };
    const take = (item: unknown) => {
      line++;
      const record = this.admit(item, line, options.file);
      if (!record) {
        summary.quarantined++;
        return;
      }
      if (!this.log) this.applyRecord(record);
      batch.push(record);
      if (batch.length >= batchSize) commit();
    };
    try {
      if (source$.sync) {
        for (let r = source$.sync.next(); !r.done; r = source$.sync.next()) take(r.value);
      } else if (!this.log) {
        for (let r = await source$.async.next(); !r.done; r = await source$.async.next()) take(r.value);
      } else {
        // Durable: a record waits at most maxDelayMs for its batch to fill, so a slow stream is still acknowledged promptly.
        const iterator = source$.async;
        let pending: Promise<IteratorResult<unknown>> | undefined;
        let deadline: Promise<'due'> | undefined;
        for (;;) {
          pending ??= iterator.next();
          if (batch.length > 0) deadline ??= new Promise((resolve) => setTimeout(() => resolve('due'), maxDelayMs).unref());
          const r = batch.length > 0 ? await Promise.race([pending, deadline!]) : await pending;
          if (r === 'due') {
            deadline = undefined;
            commit();
            continue;
          }
          pending = undefined;
          if (r.done) break;
          take(r.value);
          if (batch.length === 0) deadline = undefined;
        }
      }
      commit();
    } finally {
      if (deferring) {
        // Also when the source failed: what was applied is evaluated.
        this.evaluateDeferred();
        this.deferred = undefined;
      }
      if (options.bulk) this.settleDirty();
    }
    return summary;
  }

  /**
   * Applies one record now and returns whether it was accepted (a refused record is quarantined). With a durable
   * store the record is written and fsynced first; prefer `ingest` there, which writes in batches.
   */
  apply(record: unknown): boolean {
    this.assertOpen();
    const admitted = this.admit(record, 0, undefined); // line 0: not from a file
    if (!admitted) return false;
    if (this.log) {
      this.log.append([admitted]);
      this.sinceSnapshot++;
    }
    this.applyRecord(admitted);
    if (this.log && this.sinceSnapshot >= this.snapshotEvery) this.snapshot();
    return true;
  }

  /** A validated record, or `undefined` after quarantining the item. */
  private admit(item: unknown, line: number, file: string | undefined): CaregapsRecord | undefined {
    if (isReadResult(item)) {
      if (item.ok) return item.record;
      this.quarantine.add(item);
      return undefined;
    }
    const fault = checkRecord(item);
    if (!fault) return item as CaregapsRecord;
    const id = (item as { id?: unknown } | null)?.id;
    const refused: QuarantinedRecord = { ok: false, code: fault.code, reason: fault.message, line, text: safeText(item) };
    if (file !== undefined) refused.file = file;
    if (typeof id === 'string') refused.recordId = id;
    this.quarantine.add(refused);
    return undefined;
  }

  /** Applies a validated record to the store and, unless applying in bulk, re-evaluates what it touched. */
  private applyRecord(record: CaregapsRecord): void {
    switch (record.kind) {
      case 'organisation':
        this.applyOrganisation(record);
        return;
      case 'patient': {
        this.store.apply(record);
        if (this.dirty) {
          this.dirty.add(record.nhsNumber);
          return;
        }
        const entry = this.entries.get(record.nhsNumber);
        if (entry) {
          const d = demographics(record);
          const { series, clusters } = entry.prepared;
          this.refresh(entry, { nhsNumber: d.nhsNumber, practice: d.practice, birthDay: d.birthDay, registeredFrom: d.registeredFrom, registrationEnd: d.registrationEnd, clusters, series });
        } else this.rebuild(record.nhsNumber);
        return;
      }
      case 'event':
        this.applyEvent(record);
        return;
      case 'retract': {
        const removed = this.store.retract(record.id);
        this.retracted.set(record.id, record.nhsNumber);
        if (removed === undefined) return;
        const owner = removed.nhsNumber;
        const entry = this.entries.get(owner);
        if (this.dirty) this.dirty.add(owner);
        else if (owner === record.nhsNumber && entry) this.touchClusters(entry, removeEvent(entry.prepared, removed, this.index));
        else this.rebuild(owner);
        return;
      }
    }
  }

  private applyEvent(event: EventRecord): void {
    const entry = this.dirty ? undefined : this.entries.get(event.nhsNumber);
    const previous = this.store.putEvent(event, entry?.state);
    if (previous === null) return; // the id was retracted: it stays removed
    // The id may have been filed under another patient: that patient is rebuilt from the store (rare).
    const moved = previous !== undefined && previous.nhsNumber !== event.nhsNumber ? previous.nhsNumber : undefined;
    if (this.dirty) {
      this.dirty.add(event.nhsNumber);
      if (moved !== undefined) this.dirty.add(moved);
      return;
    }
    if (entry) {
      let mask = previous && moved === undefined ? this.readersOf(removeEvent(entry.prepared, previous, this.index)) : 0;
      mask |= this.readersOf(addEvent(entry.prepared, event, this.index));
      if (mask !== 0) this.reevaluate(entry, mask);
    }
    if (moved !== undefined) this.rebuild(moved);
  }

  private touchClusters(entry: PatientEntry, clusters: readonly number[]): void {
    const mask = this.readersOf(clusters);
    if (mask !== 0) this.reevaluate(entry, mask);
  }

  private readersOf(clusters: readonly number[]): number {
    let mask = 0;
    for (const c of clusters) mask |= this.readers[c]!;
    return mask;
  }

  private applyOrganisation(record: OrganisationRecord): void {
    const refusal = this.aggregates.setOrganisation(record);
    if (refusal) {
      this.quarantine.add({ ok: false, code: 'CG_ENGINE_ORGANISATION_CYCLE', reason: refusal, line: 0, recordId: record.code, text: safeText(record) });
    }
  }

  /** Re-prepares a patient from the store (their patient record must have arrived) and evaluates every registry. */
  private rebuild(nhsNumber: string): void {
    const state = this.store.get(nhsNumber);
    const prepared = state && preparePatient(state, this.index);
    if (!prepared) return; // events waiting for their patient
    compact(prepared);
    const entry = this.entries.get(nhsNumber);
    if (entry) {
      this.refresh(entry, prepared);
      return;
    }
    const created = new PatientEntry(state, prepared, this.aggregates.node(prepared.practice), this.allocateRow());
    this.entries.set(nhsNumber, created);
    this.updateRegistered(created);
    this.reevaluate(created, ALL);
  }

  /** A new row in the status and horizon tables, growing them by half when full. */
  private allocateRow(): number {
    const row = this.rows++;
    const slots = this.layout.slots;
    const registries = this.registries.length;
    if (this.rows * slots > this.status.length || this.rows * registries > this.horizons.length) {
      const capacity = Math.max(1024, Math.ceil(this.rows * 1.5));
      const status = new Uint8Array(capacity * slots);
      status.set(this.status);
      this.status = status;
      const horizons = new Float64Array(capacity * registries).fill(Infinity);
      horizons.set(this.horizons);
      this.horizons = horizons;
    }
    return row;
  }

  /** New demographics or records for a known patient: move practice if needed and evaluate every registry. */
  private refresh(entry: PatientEntry, prepared: PreparedPatient): void {
    if (prepared.practice !== entry.prepared.practice) {
      this.contribute(entry, -1);
      entry.org = this.aggregates.node(prepared.practice);
      this.contribute(entry, 1);
    }
    entry.prepared = prepared;
    this.updateRegistered(entry);
    this.reevaluate(entry, ALL);
  }

  private settleDirty(): void {
    const dirty = this.dirty;
    if (!dirty) return;
    this.dirty = undefined;
    for (const nhs of dirty) this.rebuild(nhs);
    this.settled.next();
  }

  // ---- evaluation ----------------------------------------------------------------------------------------------

  private updateRegistered(entry: PatientEntry): void {
    const p = entry.prepared;
    const registered = p.registeredFrom <= this.day && p.registrationEnd > this.day;
    if (registered !== entry.registered) {
      entry.registered = registered;
      this.aggregates.add(entry.org, 0, registered ? 1 : -1);
    }
  }

  /** Evaluates the registries in `mask` for one patient now, or at the end of the batch being applied. */
  private reevaluate(entry: PatientEntry, mask: number): void {
    const deferred = this.deferred;
    if (deferred === undefined) {
      this.evaluate(entry, mask);
      return;
    }
    if (entry.pending === 0) deferred.push(entry);
    entry.pending |= mask;
  }

  /** Evaluates every patient the batch touched, once each: changes are the net change of the batch. */
  private evaluateDeferred(): void {
    const deferred = this.deferred;
    if (deferred === undefined) return;
    for (let i = 0; i < deferred.length; i++) {
      const entry = deferred[i]!;
      const mask = entry.pending;
      if (mask === 0) continue;
      entry.pending = 0;
      this.evaluate(entry, mask);
    }
    deferred.length = 0;
  }

  /** Evaluates the registries in `mask` for one patient, applies the differences and reschedules the patient. */
  private evaluate(entry: PatientEntry, mask: number): void {
    const registries = this.registries;
    for (let r = 0; r < registries.length; r++) {
      if (mask !== ALL && (mask & (1 << r)) === 0) continue;
      const outcome = registries[r]!.evaluate(entry.prepared, this.day, HORIZON);
      this.horizons[entry.row * registries.length + r] = outcome.horizon;
      this.settle(entry, r, outcome);
    }
    this.schedule(entry);
  }

  private schedule(entry: PatientEntry): void {
    const p = entry.prepared;
    let next = p.registeredFrom > this.day ? p.registeredFrom : p.registrationEnd > this.day ? p.registrationEnd : Infinity;
    const registries = this.registries.length;
    for (let at = entry.row * registries, end = at + registries; at < end; at++) if (this.horizons[at]! < next) next = this.horizons[at]!;
    this.queue.schedule(entry, next);
  }

  /** Writes one registry's outcome into the patient's statuses, counting and emitting each difference. */
  private settle(entry: PatientEntry, r: number, outcome: RegistryOutcome): void {
    const status = this.status;
    const slot = entry.row * this.layout.slots + this.layout.slot[r]!;
    const wasOn = status[slot] === 1;
    const on = outcome.onRegister;
    if (!wasOn && !on) return;
    const registry = this.registries[r]!;
    const emit = this.changes.observed;
    // The explanation, when asked for, is computed once for all the changes of this outcome. A patient who left the
    // register gets the register cascade that rejected them (none when they are no longer registered at all).
    const explained: { explanation?: Explanation | undefined; done: boolean } | undefined = emit && this.explainChanges ? { done: false } : undefined;
    if (on && !wasOn) {
      status[slot] = 1;
      this.aggregates.add(entry.org, this.layout.base[r]!, 1);
      if (emit) this.emit(entry, registry, undefined, 'off', 'on', explained);
    }
    const statuses = outcome.statuses;
    for (let i = 0; i < registry.indicatorIds.length; i++) {
      const before = status[slot + 1 + i]!;
      const after = on ? STATUS_CODE[statuses[i]!] : 0;
      if (before === after) continue;
      status[slot + 1 + i] = after;
      if (before) this.aggregates.add(entry.org, this.layout.statusCounter(r, i, before), -1);
      if (after) this.aggregates.add(entry.org, this.layout.statusCounter(r, i, after), 1);
      if (emit) this.emit(entry, registry, registry.indicatorIds[i], before ? STATUSES[before - 1]! : null, after ? STATUSES[after - 1]! : null, explained);
    }
    if (!on && wasOn) {
      status[slot] = 0;
      this.aggregates.add(entry.org, this.layout.base[r]!, -1);
      if (emit) this.emit(entry, registry, undefined, 'on', 'off', explained);
    }
  }

  private emit(
    entry: PatientEntry,
    registry: CompiledRegistry,
    indicator: string | undefined,
    before: Change['before'],
    after: Change['after'],
    explained: { explanation?: Explanation | undefined; done: boolean } | undefined,
  ): void {
    const change: Change = { nhsNumber: entry.prepared.nhsNumber, registry: registry.id, before, after, asOf: this.asOfText, practice: entry.prepared.practice };
    if (indicator !== undefined) change.indicator = indicator;
    if (explained) {
      if (!explained.done) {
        explained.explanation = explainOutcome(registry.evaluate(entry.prepared, this.day, EXPLAIN), registry);
        explained.done = true;
      }
      if (explained.explanation) change.explanation = explained.explanation;
    }
    this.changes.next(change);
  }

  /** Adds (or with -1 removes) everything a patient counts for at their practice. */
  private contribute(entry: PatientEntry, sign: 1 | -1): void {
    if (entry.registered) this.aggregates.add(entry.org, 0, sign);
    this.registries.forEach((registry, r) => {
      const slot = entry.row * this.layout.slots + this.layout.slot[r]!;
      if (this.status[slot] !== 1) return;
      this.aggregates.add(entry.org, this.layout.base[r]!, sign);
      for (let i = 0; i < registry.indicatorIds.length; i++) {
        this.aggregates.add(entry.org, this.layout.statusCounter(r, i, this.status[slot + 1 + i]!), sign);
      }
    });
  }

  /**
   * Moves the achievement date. Forward, only patients whose horizon has passed are re-evaluated (a priority
   * queue, no scan of the population); backward, every patient is (horizons only look forward).
   */
  advanceTo(asOf: string | number): void {
    this.assertOpen();
    const day = achievementDay(asOf);
    if (day === this.day) return;
    this.log?.append([{ kind: 'advance', asOf: formatDay(day) }]);
    const backward = day < this.day;
    this.setDay(day);
    if (backward) {
      this.recomputeAll();
      return;
    }
    for (const entry of this.queue.takeUntil(day)) {
      let mask = 0;
      const registries = this.registries.length;
      for (let r = 0; r < registries; r++) {
        if (this.horizons[entry.row * registries + r]! <= day) mask |= registries > 30 ? ALL : 1 << r;
      }
      this.updateRegistered(entry);
      if (mask !== 0) this.evaluate(entry, mask);
      else this.schedule(entry);
    }
    this.settled.next();
  }

  /** Re-evaluates every patient in every registry on the current date (what a restart or a backward move does). */
  recomputeAll(): void {
    for (const entry of this.entries.values()) {
      this.updateRegistered(entry);
      this.evaluate(entry, ALL);
    }
    this.settled.next();
  }

  // ---- queries -------------------------------------------------------------------------------------------------

  /** A patient's registration and statuses in every registry, with explanations unless `explain` is false. */
  patient(nhsNumber: string, options: { explain?: boolean } = {}): PatientStatus | undefined {
    const entry = this.entries.get(nhsNumber);
    if (!entry) return undefined;
    const explain = options.explain !== false;
    const registries = this.registries.map((registry, r): RegistryStatus => {
      const slot = entry.row * this.layout.slots + this.layout.slot[r]!;
      const onRegister = this.status[slot] === 1;
      const indicators: Record<string, IndicatorStatus> = {};
      if (onRegister) registry.indicatorIds.forEach((id, i) => (indicators[id] = STATUSES[this.status[slot + 1 + i]! - 1]!));
      const result: RegistryStatus = { registry: registry.id, onRegister, indicators };
      if (explain) {
        const explanation = explainOutcome(registry.evaluate(entry.prepared, this.day, EXPLAIN), registry);
        if (explanation) result.explanation = explanation;
      }
      return result;
    });
    return { nhsNumber, practice: entry.prepared.practice, registered: entry.registered, asOf: this.asOf, registries };
  }

  /**
   * Every patient on every register they are on, as `evaluatePopulation` writes them (DESIGN §3.2), in the order
   * patients were first seen.
   */
  *results(options: { explain?: boolean } = {}): Generator<PatientResult> {
    for (const state of this.store.values()) {
      const entry = this.entries.get(state.nhsNumber);
      if (!entry) continue;
      for (let r = 0; r < this.registries.length; r++) {
        const registry = this.registries[r]!;
        const slot = entry.row * this.layout.slots + this.layout.slot[r]!;
        if (this.status[slot] !== 1) continue;
        const indicators: Record<string, IndicatorStatus> = {};
        registry.indicatorIds.forEach((id, i) => (indicators[id] = STATUSES[this.status[slot + 1 + i]! - 1]!));
        const result: PatientResult = { nhsNumber: state.nhsNumber, registry: registry.id, indicators };
        if (options.explain) {
          const explanation = explainOutcome(registry.evaluate(entry.prepared, this.day, EXPLAIN), registry);
          if (explanation) result.explanation = explanation;
        }
        yield result;
      }
    }
  }

  /**
   * The stored record of one patient: the latest demographics and the live events (present as soon as an event
   * arrives, before the patient record). The engine's own state: read it, never change it.
   */
  record(nhsNumber: string): PatientState | undefined {
    return this.store.get(nhsNumber);
  }

  /** Every stored patient record, including events still waiting for their patient (read only, as `record`). */
  records(): IterableIterator<PatientState> {
    return this.store.values();
  }

  /** NHS numbers of the patients on a register, or in one status of one of its indicators. */
  *patients(query: PopulationQuery): Generator<string> {
    const r = this.registryNumber(query.registry);
    const registry = this.registries[r]!;
    const slot = this.layout.slot[r]!;
    let position = slot;
    let want = 1;
    if (query.indicator !== undefined) {
      const i = registry.indicatorIds.indexOf(query.indicator);
      if (i < 0) throw new CaregapsError('CG_USAGE', `Registry ${registry.id} has no indicator ${query.indicator}`);
      position = slot + 1 + i;
      want = query.status ? STATUS_CODE[query.status] : -1;
    }
    const within = query.organisation === undefined ? undefined : this.practicesUnder(query.organisation);
    for (const entry of this.entries.values()) {
      const code = this.status[entry.row * this.layout.slots + position]!;
      if (code === 0 || (want !== -1 && code !== want)) continue;
      if (within && !within.has(entry.prepared.practice)) continue;
      yield entry.prepared.nhsNumber;
    }
  }

  private practicesUnder(code: string): Set<string> {
    const nodes = this.aggregates.organisations();
    const byCode = new Map(nodes.map((n) => [n.code, n]));
    const under = (n: OrganisationNode): boolean => {
      for (let x: OrganisationNode | undefined = n, guard = 0; x && guard < 16; x = x.parent ? byCode.get(x.parent) : undefined, guard++) {
        if (x.code === code) return true;
      }
      return false;
    };
    return new Set(nodes.filter(under).map((n) => n.code));
  }

  private registryNumber(id: string): number {
    const r = this.registries.findIndex((x) => x.id === id);
    if (r < 0) throw new CaregapsError('CG_USAGE', `No registry ${id} in this engine (${this.registries.map((x) => x.id).join(', ')})`);
    return r;
  }

  /**
   * Counts of one registry at an organisation (practice, PCN, borough or ICB, including everything under it),
   * or over the whole population when no organisation is given.
   */
  counts(registry: string, organisation?: string): RegistryCounts | undefined {
    const r = this.registryNumber(registry);
    return organisation === undefined ? this.aggregates.totals(r) : this.aggregates.counts(organisation, r);
  }

  /** Every organisation known: from organisation records and from patients' practices. */
  organisations(): OrganisationNode[] {
    return this.aggregates.organisations();
  }

  /**
   * The counts of one registry at one organisation now, then again after every ingest batch or date move that
   * changed them.
   */
  counts$(registry: string, organisation?: string): Observable<RegistryCounts | undefined> {
    this.registryNumber(registry);
    return this.settled.pipe(
      startWith(undefined),
      map(() => this.counts(registry, organisation)),
      distinctUntilChanged((a, b) => JSON.stringify(a) === JSON.stringify(b)),
    );
  }

  // ---- durability ----------------------------------------------------------------------------------------------

  /** Writes a snapshot of the whole record state and starts a new log segment (durable engines only). */
  snapshot(): void {
    if (!this.log) throw new CaregapsError('CG_USAGE', 'This engine has no durable store: create it with the `store` option');
    this.log.snapshot(this.asOf, this.stateEntries());
    this.sinceSnapshot = 0;
  }

  /** The whole record state as records: organisations, then each patient and their events, then retractions. */
  private *stateEntries(): Generator<LogEntry> {
    yield* this.aggregates.organisationRecords();
    for (const state of this.store.values()) {
      if (state.patient) yield state.patient;
      yield* state.events.values();
    }
    for (const [id, nhsNumber] of this.retracted) yield { kind: 'retract', id, nhsNumber };
  }

  /** Closes the log. Further ingests are refused. */
  close(): void {
    this.closed = true;
    this.log?.close();
    this.changes.complete();
    this.settled.complete();
  }

  private assertOpen(): void {
    if (this.closed) throw new CaregapsError('CG_ENGINE_CLOSED', 'The engine is closed');
  }
}

/**
 * Replaces a prepared patient's arrays by exact-size copies. Arrays grown in place keep spare capacity (a long
 * series grows by push), which across a population adds up. Only their storage changes here, never their contents.
 */
function compact(prepared: PreparedPatient): void {
  prepared.clusters = prepared.clusters.slice();
  prepared.series = prepared.series.slice();
  for (const series of prepared.series) {
    series.days = series.days.slice();
    series.values = series.values.slice();
    series.ids = series.ids.slice();
    if (series.components) for (const [name, list] of series.components) series.components.set(name, list.slice());
  }
}

function isReadResult(item: unknown): item is ReadResult {
  return typeof item === 'object' && item !== null && typeof (item as { ok?: unknown }).ok === 'boolean' && !('kind' in item);
}

/** The start of an item as text, for a quarantine report. */
function safeText(item: unknown): string {
  try {
    return (JSON.stringify(item) ?? String(item)).slice(0, 1024);
  } catch {
    return String(item).slice(0, 1024);
  }
}
