import {
  CaregapsError,
  ERRORS,
  Quarantine,
  achievementDay,
  checkRecord,
  formatDay,
  type CaregapsRecord,
  type CodesetIndex,
  type CompiledRegistry,
  type IndicatorStatus,
  type OrganisationRecord,
  type PatientResult,
  type PatientState,
  type QuarantinedRecord,
  type ReadResult,
} from '@caregaps/core';
import { Subject, distinctUntilChanged, map, startWith, type Observable } from 'rxjs';
import { Aggregates, CounterLayout, type OrganisationNode, type RegistryCounts } from './aggregates.js';
import { DurableLog, type LogEntry, type LogWriter } from './log.js';
import { Partition } from './partition/partition.js';
import { Router } from './router.js';
import { iteratorOf, type RecordSource } from './source.js';
import type { Change, PatientStatus } from './types.js';

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
  /**
   * Partitions of the population (by a hash of the NHS number), each with its own record store, hot state,
   * statuses and horizons. Default 1. They run in the engine's own thread.
   */
  partitions?: number;
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

/** How much memory the hot state holds (typed arrays only), and for how many patients and relevant events. */
export interface HotStateMemory {
  bytes: number;
  patients: number;
  /** Events whose code is in a cluster some registry reads (the only events held in memory). */
  relevantEvents: number;
}

/**
 * The incremental engine (DESIGN §4), the public facade. Records stream in and are routed by NHS number to
 * partitions that hold the patients' hot state in typed arrays; each record touches only the registries that read
 * the clusters of its code, for that patient. Time moves with `advanceTo`, which re-evaluates only the patients
 * whose horizon has passed. Every change is emitted on `changes$` and counted by practice, PCN, borough and ICB.
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
  private readonly layout: CounterLayout;
  private readonly aggregates: Aggregates;
  private readonly router: Router;
  private readonly retracted = new Map<string, string>();
  private readonly changes = new Subject<Change>();
  private readonly settled = new Subject<void>();
  private readonly log: DurableLog | undefined;
  private readonly snapshotEvery: number;
  private sinceSnapshot = 0;
  private day: number;
  /** The achievement date as YYYY-MM-DD, kept with `day`. */
  private asOfText: string;
  private closed = false;

  constructor(options: EngineOptions) {
    this.registries = options.compiled;
    this.day = achievementDay(options.asOf);
    this.asOfText = formatDay(this.day);
    this.layout = new CounterLayout(this.registries);
    this.aggregates = new Aggregates(this.layout);
    this.changes$ = this.changes.asObservable();
    const count = options.partitions ?? 1;
    if (!Number.isInteger(count) || count < 1 || count > 1024) throw new CaregapsError('CG_USAGE', `partitions must be a whole number from 1 to 1024 (got ${count})`);
    this.snapshotEvery = options.store?.snapshotEvery ?? 1_000_000;
    // A durable store is read first: the date it ends on is the date the partitions start on.
    const found = options.store ? (this.log = new DurableLog(options.store.directory, options.store.writer)).recover() : undefined;
    let dated = false;
    for (const entry of [...(found?.snapshotAsOf !== undefined ? [{ kind: 'advance' as const, asOf: found.snapshotAsOf }] : []), ...(found?.entries ?? [])]) {
      if (entry.kind !== 'advance') continue;
      this.setDay(achievementDay(entry.asOf));
      dated = true;
    }
    const explain = options.explainChanges === true;
    const links = Array.from({ length: count }, () => new Partition(this.registries, options.index, this.day, explain));
    this.router = new Router(links, this.aggregates, (change) => this.changes.next(change), (record) => this.applyOrganisation(record));
    for (const org of options.organisations ?? []) this.applyOrganisation(org);
    if (this.log && found) {
      // Replayed with evaluation held until the end: each patient is evaluated once.
      const run: CaregapsRecord[] = [];
      for (const entry of found.entries) {
        if (entry.kind === 'advance') continue;
        this.noteRetraction(entry);
        run.push(entry);
        if (run.length >= 4096) {
          this.router.route(run, true);
          run.length = 0;
        }
      }
      this.router.route(run, true);
      this.router.flush();
      this.sinceSnapshot = found.logEntries;
      this.settled.next();
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
    return this.router.links.reduce((sum, p) => sum + p.patientCount, 0);
  }

  /** Patients registered on the achievement date (the population's list size). */
  get registeredCount(): number {
    return this.aggregates.registered();
  }

  /** Patients queued for a time-driven re-evaluation. */
  get queuedCount(): number {
    return this.router.links.reduce((sum, p) => sum + p.queuedCount, 0);
  }

  /** The number of partitions. */
  get partitions(): number {
    return this.router.links.length;
  }

  /** The hot state's memory over all partitions. */
  memory(): HotStateMemory {
    const out: HotStateMemory = { bytes: 0, patients: 0, relevantEvents: 0 };
    for (const link of this.router.links) {
      const m = link.memory();
      out.bytes += m.bytes;
      out.patients += m.patients;
      out.relevantEvents += m.events;
    }
    return out;
  }

  // ---- ingesting -----------------------------------------------------------------------------------------------

  /**
   * Validates, logs (when durable: written and fsynced before it counts as accepted) and applies every record of
   * a source, in batches: each patient a batch touched is evaluated once, at the end of the batch, so changes are
   * the net change of the batch (an async source without a durable store is applied record by record). Items may be records, unparsed objects, or the results of `readRecords` (whose
   * refused lines are quarantined here too). Resolves when the source ends; rejects, without applying the batch,
   * if the log cannot be written.
   */
  async ingest(source: RecordSource, options: IngestOptions = {}): Promise<IngestSummary> {
    this.assertOpen();
    const bulk = options.bulk === true;
    const summary: IngestSummary = { accepted: 0, quarantined: 0 };
    const source$ = iteratorOf(source);
    // An async source without a log is applied record by record, as it may pause at any record.
    const batchSize = source$.async && !this.log && !bulk ? 1 : (options.batchSize ?? (this.log ? 4096 : 1024));
    const maxDelayMs = options.maxDelayMs ?? 5;
    const batch: CaregapsRecord[] = [];
    let line = 0;
    const commit = () => {
      if (batch.length === 0) return;
      if (this.log) {
        this.log.append(batch);
        this.sinceSnapshot += batch.length;
      }
      for (const record of batch) this.noteRetraction(record);
      this.router.route(batch, bulk);
      summary.accepted += batch.length;
      batch.length = 0;
      if (!bulk) this.settled.next();
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
      batch.push(record);
      if (batch.length >= batchSize) commit();
    };
    try {
      if (source$.sync) {
        for (let r = source$.sync.next(); !r.done; r = source$.sync.next()) take(r.value);
      } else {
        // A record waits at most maxDelayMs for its batch to fill, so a slow stream is still applied promptly.
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
      if (bulk) {
        // Also when the source failed: what was applied is evaluated.
        this.router.flush();
        this.settled.next();
      }
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
    this.noteRetraction(admitted);
    this.router.route([admitted]);
    this.settled.next();
    if (this.log && this.sinceSnapshot >= this.snapshotEvery) this.snapshot();
    return true;
  }

  /**
   * A validated record, or `undefined` after quarantining the item. Everything that crosses the API is checked,
   * including the record inside an accepted `readRecords` result: a record that would fail later is never stored.
   */
  private admit(item: unknown, line: number, file: string | undefined): CaregapsRecord | undefined {
    let value = item;
    if (isReadResult(item)) {
      if (typeof item.line === 'number' && Number.isSafeInteger(item.line)) line = item.line;
      if (typeof item.file === 'string') file = item.file;
      if (!item.ok) {
        this.quarantine.add(quarantinedOf(item, line, file));
        return undefined;
      }
      value = item.record;
    }
    const fault = checkRecord(value);
    if (!fault) return value as CaregapsRecord;
    const id = (value as { id?: unknown } | null)?.id;
    const refused: QuarantinedRecord = { ok: false, code: fault.code, reason: fault.message, line, text: safeText(value) };
    if (file !== undefined) refused.file = file;
    if (typeof id === 'string') refused.recordId = id;
    this.quarantine.add(refused);
    return undefined;
  }

  private noteRetraction(record: CaregapsRecord): void {
    if (record.kind === 'retract') this.retracted.set(record.id, record.nhsNumber);
  }

  private applyOrganisation(record: OrganisationRecord): void {
    const refusal = this.aggregates.setOrganisation(record);
    if (refusal) {
      this.quarantine.add({ ok: false, code: 'CG_ENGINE_ORGANISATION_CYCLE', reason: refusal, line: 0, recordId: record.code, text: safeText(record) });
    }
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
    this.setDay(day);
    this.router.advance(day);
    this.settled.next();
  }

  /** Re-evaluates every patient in every registry on the current date. */
  recomputeAll(): void {
    this.router.recompute();
    this.settled.next();
  }

  // ---- queries -------------------------------------------------------------------------------------------------

  /** A patient's registration and statuses in every registry, with explanations unless `explain` is false. */
  patient(nhsNumber: string, options: { explain?: boolean } = {}): PatientStatus | undefined {
    return this.router.owner(nhsNumber).patient(nhsNumber, options.explain !== false);
  }

  /**
   * Every patient on every register they are on, as `evaluatePopulation` writes them (DESIGN §3.2): partition by
   * partition, each in the order it first saw its patients (with one partition, the order patients were first seen).
   */
  *results(options: { explain?: boolean } = {}): Generator<PatientResult> {
    for (const link of this.router.links) yield* link.results(options.explain === true);
  }

  /**
   * The stored record of one patient: the latest demographics and the live events (present as soon as an event
   * arrives, before the patient record). The engine's own state: read it, never change it.
   */
  record(nhsNumber: string): PatientState | undefined {
    return this.router.owner(nhsNumber).record(nhsNumber);
  }

  /** Every stored patient record, including events still waiting for their patient (read only, as `record`). */
  *records(): Generator<PatientState> {
    for (const link of this.router.links) yield* link.records();
  }

  /** NHS numbers of the patients on a register, or in one status of one of its indicators. */
  *patients(query: PopulationQuery): Generator<string> {
    const r = this.registryNumber(query.registry);
    const registry = this.registries[r]!;
    let position = 0;
    let want = 1;
    if (query.indicator !== undefined) {
      const i = registry.indicatorIds.indexOf(query.indicator);
      if (i < 0) throw new CaregapsError('CG_USAGE', `Registry ${registry.id} has no indicator ${query.indicator}`);
      position = 1 + i;
      want = query.status ? STATUS_CODE[query.status] : -1;
    }
    const practices = query.organisation === undefined ? undefined : [...this.practicesUnder(query.organisation)];
    for (const link of this.router.links) yield* link.patients({ registry: r, position, want, ...(practices ? { practices } : {}) });
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
    for (const state of this.records()) {
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

/** A refused `readRecords` result as given, or (when its fields are not what a reader writes) as a schema fault. */
function quarantinedOf(item: QuarantinedRecord, line: number, file: string | undefined): QuarantinedRecord {
  const wellFormed = typeof item.code === 'string' && Object.hasOwn(ERRORS, item.code) && typeof item.reason === 'string' && typeof item.text === 'string';
  const out: QuarantinedRecord = wellFormed
    ? { ok: false, code: item.code, reason: item.reason, line, text: item.text.slice(0, 1024) }
    : { ok: false, code: 'CG_RECORD_SCHEMA', reason: 'a refused read result must carry an error code, a reason and the text', line, text: safeText(item) };
  if (file !== undefined) out.file = file;
  if (wellFormed && typeof item.recordId === 'string') out.recordId = item.recordId;
  return out;
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
