import {
  CaregapsError,
  ERRORS,
  PatientStore,
  Quarantine,
  achievementDay,
  checkRecord,
  formatDay,
  type ApplyResult,
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
import { Partition, type PartitionQuery, type PartitionRecord } from './partition/partition.js';
import { Router } from './router.js';
import { iteratorOf, type RecordSource } from './source.js';
import { RecordStore, type Outcome } from './store/record-store.js';
import { InThreadLink, type PartitionCounts, type PartitionLink } from './transport/link.js';
import { WorkerThreadLink, partitionInit } from './transport/worker-thread.js';
import type { Change, PatientStatus } from './types.js';

/** The durable record store (DESIGN §4): every record as received, on LMDB (see `RecordStore`). */
export interface StoreOptions {
  /** Directory of the store (created if missing); the engine writes `partition-0.mdb` and its lock file there. */
  directory: string;
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
   * Partitions of the population (by a hash of the NHS number), each with its own hot state, statuses and horizons.
   * Default 1.
   */
  partitions?: number;
  /**
   * Run each partition on its own worker thread (default: when there is more than one partition). The API stays
   * the same: the engine's thread waits for the partitions, which work in parallel.
   */
  workerThreads?: boolean;
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
  /** Records older (by `version`) than the one held: accepted and stored nowhere, counted here. */
  stale?: number;
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
  /** Patients (NHS numbers) replayed from the store. */
  patients: number;
  /** Records replayed: patient records, live events and kept retractions. */
  records: number;
}

const STATUS_CODE: Record<IndicatorStatus, number> = { met: 1, gap: 2, excepted: 3, 'not-applicable': 4 };
const ORGANISATION_APPLIED: ApplyResult = { outcome: 'applied', changed: [] };

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

  private registries: readonly CompiledRegistry[];
  private index: CodesetIndex;
  private aggregates: Aggregates;
  private router: Router;
  private readonly partitionCount: number;
  private readonly explainChanges: boolean;
  private readonly workerThreads: boolean;
  /**
   * The record state: every live record, by patient. It decides identity and versions (DESIGN §3.1 v1.1) and is
   * what the hot state is rebuilt from; the durable store, when there is one, holds the same records on disk.
   */
  private readonly records$ = new PatientStore();
  private readonly changes = new Subject<Change>();
  private readonly settled = new Subject<void>();
  private readonly store: RecordStore | undefined;
  private day: number;
  /** The achievement date as YYYY-MM-DD, kept with `day`. */
  private asOfText: string;
  private closed = false;

  constructor(options: EngineOptions) {
    this.registries = options.compiled;
    this.index = options.index;
    this.day = achievementDay(options.asOf);
    this.asOfText = formatDay(this.day);
    this.changes$ = this.changes.asObservable();
    this.partitionCount = options.partitions ?? 1;
    if (!Number.isInteger(this.partitionCount) || this.partitionCount < 1 || this.partitionCount > 1024) {
      throw new CaregapsError('CG_USAGE', `partitions must be a whole number from 1 to 1024 (got ${this.partitionCount})`);
    }
    this.explainChanges = options.explainChanges === true;
    this.workerThreads = options.workerThreads ?? this.partitionCount > 1;
    if (options.store) {
      this.store = RecordStore.open({ directory: options.store.directory });
      // The store's date is the date the partitions start on.
      if (this.store.asOf !== undefined) this.setDay(achievementDay(this.store.asOf));
      else this.store.setAsOf(this.asOfText);
    }
    this.aggregates = new Aggregates(new CounterLayout(this.registries));
    this.router = this.newRouter();
    for (const org of options.organisations ?? []) this.applyOrganisation(org);
    if (this.store) {
      try {
        this.recovery = this.recover(this.store);
      } catch (error) {
        void this.store.close();
        throw error;
      }
    }
  }

  private newRouter(): Router {
    const init = this.workerThreads ? partitionInit(this.registries, this.index, this.day, this.explainChanges) : undefined;
    const links = Array.from({ length: this.partitionCount }, (): PartitionLink =>
      init ? new WorkerThreadLink(init) : new InThreadLink(new Partition(this.registries, this.index, this.day, this.explainChanges)),
    );
    return new Router(links, this.aggregates, (change) => this.changes.next(change), (record) => this.applyOrganisation(record));
  }

  /** Replays the store's current records (patient by patient) into the record state and the partitions. */
  private recover(store: RecordStore): RecoveryReport {
    const report: RecoveryReport = { patients: 0, records: 0 };
    for (const org of store.organisations()) this.applyOrganisation(org);
    const run: PartitionRecord[] = [];
    const replay = (record: CaregapsRecord) => {
      this.decide(record, run);
      if (run.length >= 4096) {
        this.router.route(run, true);
        run.length = 0;
      }
    };
    for (const stored of store.patients()) {
      report.patients++;
      if (stored.patient) replay(stored.patient);
      for (const event of stored.events) replay(event);
      for (const retraction of stored.retractions) replay(retraction);
      report.records += (stored.patient ? 1 : 0) + stored.events.length + stored.retractions.length;
    }
    this.router.route(run, true);
    this.router.flush();
    this.settled.next();
    return report;
  }

  /**
   * Rebuilds the hot state from the record state, without the feeds: after registries or codesets change (a new
   * QOF year, a new PCD release), or to start from a clean state. Statuses and counts are computed afresh on the
   * current date; `changes$` carries no changes for the rebuild (read the new state with the queries), and
   * `counts$` subscribers get the new counts.
   */
  rebuild(options: { compiled?: readonly CompiledRegistry[]; index?: CodesetIndex } = {}): void {
    this.assertOpen();
    if (options.compiled) this.registries = options.compiled;
    if (options.index) this.index = options.index;
    const organisations = this.aggregates.organisationRecords();
    this.aggregates = new Aggregates(new CounterLayout(this.registries));
    for (const org of organisations) this.aggregates.setOrganisation(org);
    const router = this.newRouter();
    const quiet = new Router(router.links, this.aggregates, () => {}, (record) => this.applyOrganisation(record));
    const run: PartitionRecord[] = [];
    for (const state of this.records$.values()) {
      if (state.patient) run.push(state.patient);
      for (const event of state.events.values()) run.push(event);
      if (run.length >= 4096) {
        quiet.route(run, true);
        run.length = 0;
      }
    }
    quiet.route(run, true);
    quiet.flush();
    this.router.close();
    this.router = router;
    this.settled.next();
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
    return (this.router.all({ method: 'counts', args: [] }) as PartitionCounts[]).reduce((sum, c) => sum + c.patients, 0);
  }

  /** Patients registered on the achievement date (the population's list size). */
  get registeredCount(): number {
    return this.aggregates.registered();
  }

  /** Patients queued for a time-driven re-evaluation. */
  get queuedCount(): number {
    return (this.router.all({ method: 'counts', args: [] }) as PartitionCounts[]).reduce((sum, c) => sum + c.queued, 0);
  }

  /** The number of partitions. */
  get partitions(): number {
    return this.router.links.length;
  }

  /** The hot state's memory over all partitions. */
  memory(): HotStateMemory {
    const out: HotStateMemory = { bytes: 0, patients: 0, relevantEvents: 0 };
    for (const m of this.router.all({ method: 'memory', args: [] }) as ReturnType<Partition['memory']>[]) {
      out.bytes += m.bytes;
      out.patients += m.patients;
      out.relevantEvents += m.events;
    }
    return out;
  }

  // ---- ingesting -----------------------------------------------------------------------------------------------

  /**
   * Validates, stores (when durable: committed before it counts as accepted) and applies every record of a source,
   * in batches: each patient a batch touched is evaluated once, at the end of the batch, so changes are the net
   * change of the batch (an async source without a durable store is applied record by record). Items may be
   * records, unparsed objects, or the results of `readRecords` (whose refused lines are quarantined here too).
   * Resolves when the source ends; rejects, without applying the batch, if the store cannot be written.
   */
  async ingest(source: RecordSource, options: IngestOptions = {}): Promise<IngestSummary> {
    this.assertOpen();
    const bulk = options.bulk === true;
    const summary: IngestSummary = { accepted: 0, quarantined: 0, stale: 0 };
    const source$ = iteratorOf(source);
    // An async source without a store is applied record by record, as it may pause at any record.
    const batchSize = source$.async && !this.store && !bulk ? 1 : (options.batchSize ?? (this.store ? 4096 : 1024));
    const maxDelayMs = options.maxDelayMs ?? 5;
    const batch: CaregapsRecord[] = [];
    const lines: number[] = [];
    const refused: QuarantinedRecord[] = [];
    const routed: PartitionRecord[] = [];
    let acknowledged = 0;
    let line = 0;
    const commit = () => {
      if (batch.length === 0) return;
      // Written and committed first; only what the store took is applied.
      const outcomes = this.store ? this.store.writeSync({ records: batch, quarantined: refused }) : undefined;
      let conflicts = 0;
      for (let i = 0; i < batch.length; i++) {
        const stored = outcomes?.outcomes[i];
        if (stored === 'conflict') {
          this.quarantine.add({ ...outcomes!.quarantined[conflicts++]!, line: lines[i]!, ...(options.file === undefined ? {} : { file: options.file }) });
          summary.quarantined++;
          continue;
        }
        if (stored === 'stale') {
          summary.stale!++;
          continue;
        }
        const applied = this.decide(batch[i]!, routed);
        if (!this.counted(applied, batch[i]!, lines[i]!, options.file, summary, stored)) continue;
        summary.accepted++;
      }
      this.router.route(routed, bulk);
      routed.length = 0;
      acknowledged += batch.length;
      batch.length = 0;
      lines.length = 0;
      refused.length = 0;
      if (!bulk) this.settled.next();
      options.onAcknowledged?.(acknowledged);
    };
    const take = (item: unknown) => {
      line++;
      const record = this.admit(item, line, options.file, refused);
      if (!record) {
        summary.quarantined++;
        return;
      }
      batch.push(record);
      lines.push(line);
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
      if (refused.length > 0 && this.store) this.store.writeSync({ records: [], quarantined: refused });
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
   * Applies one record now and returns whether it was accepted (a refused record is quarantined, a stale one
   * counted nowhere). With a durable store the record is committed first; prefer `ingest` there, which writes in
   * batches.
   */
  apply(record: unknown): boolean {
    this.assertOpen();
    const refused: QuarantinedRecord[] = [];
    const admitted = this.admit(record, 0, undefined, refused); // line 0: not from a file
    if (this.store && refused.length > 0) this.store.writeSync({ records: [], quarantined: refused });
    if (!admitted) return false;
    let stored: Outcome | undefined;
    if (this.store) {
      const written = this.store.writeSync({ records: [admitted] });
      stored = written.outcomes[0]!;
      if (stored === 'conflict') this.quarantine.add(written.quarantined[0]!);
      if (stored === 'conflict' || stored === 'stale') return false;
    }
    const routed: PartitionRecord[] = [];
    const applied = this.decide(admitted, routed);
    if (!this.counted(applied, admitted, 0, undefined, undefined, stored)) return false;
    this.router.route(routed);
    this.settled.next();
    return true;
  }

  /**
   * Applies a validated record to the record state, which decides identity and versions, and adds what the
   * partitions must apply to `routed`: the record, and the removal of any event it replaced or retracted.
   */
  private decide(record: CaregapsRecord, routed: PartitionRecord[]): ApplyResult {
    if (record.kind === 'organisation') {
      routed.push(record);
      return ORGANISATION_APPLIED;
    }
    if (record.kind === 'retract') {
      const applied = this.records$.retract(record);
      for (const removed of applied.removed) routed.push({ kind: 'remove', id: removed.id, source: removed.source, nhsNumber: removed.nhsNumber });
      return applied;
    }
    if (record.kind === 'patient') {
      const applied = this.records$.apply(record);
      if (applied.outcome === 'applied') routed.push(record);
      return applied;
    }
    const applied = this.records$.putEvent(record);
    if (applied.outcome !== 'applied') return applied;
    const held = applied.held;
    if (held !== undefined) routed.push({ kind: 'remove', id: held.id, source: held.source, nhsNumber: held.nhsNumber });
    routed.push(record);
    return applied;
  }

  /**
   * Counts the verdict on one record; false when it was refused (quarantined) or stale. With a durable store, the
   * store's verdict was counted already and the record state agrees with it.
   */
  private counted(applied: ApplyResult, record: CaregapsRecord, line: number, file: string | undefined, summary: IngestSummary | undefined, stored: Outcome | undefined): boolean {
    if (stored !== undefined) return true;
    if (applied.outcome === 'conflict') {
      const refusal: QuarantinedRecord = { ok: false, code: applied.fault!.code, reason: applied.fault!.message, line, text: safeText(record) };
      if (file !== undefined) refusal.file = file;
      if ('id' in record) refusal.recordId = record.id;
      this.quarantine.add(refusal);
      if (summary) summary.quarantined++;
      return false;
    }
    if (applied.outcome === 'stale') {
      if (summary) summary.stale!++;
      return false;
    }
    return true;
  }

  /**
   * A validated record, or `undefined` after quarantining the item (and adding it to `keep`, for the durable
   * store's quarantine). Everything that crosses the API is checked, including the record inside an accepted
   * `readRecords` result: a record that would fail later is never stored.
   */
  private admit(item: unknown, line: number, file: string | undefined, keep: QuarantinedRecord[]): CaregapsRecord | undefined {
    let value = item;
    if (isReadResult(item)) {
      if (typeof item.line === 'number' && Number.isSafeInteger(item.line)) line = item.line;
      if (typeof item.file === 'string') file = item.file;
      if (!item.ok) {
        const refused = quarantinedOf(item, line, file);
        this.quarantine.add(refused);
        keep.push(refused);
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
    keep.push(refused);
    return undefined;
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
    this.store?.setAsOf(formatDay(day));
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
    return this.router.ask(nhsNumber, { method: 'patient', args: [nhsNumber, options.explain !== false] }) as PatientStatus | undefined;
  }

  /**
   * Every patient on every register they are on, as `evaluatePopulation` writes them (DESIGN §3.2): partition by
   * partition, each in the order it first saw its patients (with one partition, the order patients were first seen).
   */
  *results(options: { explain?: boolean } = {}): Generator<PatientResult> {
    // Asked one partition at a time: the answers are lists, and a population's results are large.
    for (const link of this.router.links) {
      link.send({ method: 'results', args: [options.explain === true] });
      yield* link.take() as PatientResult[];
    }
  }

  /**
   * The stored record of one patient: the latest demographics and the live events (present as soon as an event
   * arrives, before the patient record). The engine's own state: read it, never change it.
   */
  record(nhsNumber: string): PatientState | undefined {
    return this.records$.get(nhsNumber);
  }

  /** Every stored patient record, including events still waiting for their patient (read only, as `record`). */
  records(): IterableIterator<PatientState> {
    return this.records$.values();
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
    const asked: PartitionQuery = { registry: r, position, want, ...(practices ? { practices } : {}) };
    for (const nhs of this.router.all({ method: 'patients', args: [asked] }) as string[][]) yield* nhs;
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

  /** Closes the record store (giving up write ownership). Further ingests are refused. */
  close(): void {
    this.closed = true;
    this.router.close();
    void this.store?.close();
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
