import { createReadStream, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CaregapsError,
  Quarantine,
  achievementDay,
  eventKey,
  formatDay,
  type CodesetIndex,
  type CompiledRegistry,
  type IndicatorStatus,
  type OrganisationRecord,
  type PatientResult,
  type PatientState,
  type QuarantinedRecord,
} from '@caregaps/core';
import { Subject, distinctUntilChanged, map, startWith, type Observable } from 'rxjs';
import { Aggregates, CounterLayout, type OrganisationNode, type RegistryCounts } from './aggregates.js';
import { PartitionHost, type PartitionHostOptions, type PartitionRecovery } from './partition/host.js';
import type { PartitionQuery, PartitionReport } from './partition/partition.js';
import { RecordLines } from './encode.js';
import { LineSender } from './line-sender.js';
import { LineSplitter, identityHashOfStrings, scanRoute, type ChunkLines } from './ndjson.js';
import { RoutedBatch, Router, identityHash, partitionOf, type RoutedSummary } from './router.js';
import { iteratorOf, type RecordSource } from './source.js';
import type { StoredPatient } from './store/record-store.js';
import { InThreadLink, definitionsOf, type PartitionCall, type PartitionLink } from './transport/link.js';
import { WorkerThreadLink } from './transport/worker-thread.js';
import type { Change, PatientStatus, RecordWrite } from './types.js';

/** The durable record store (DESIGN §4): every record as received, on LMDB, one store per partition. */
export interface StoreOptions {
  /**
   * Directory of the store (created if missing). Each partition writes `partition-<n>.mdb` and its lock file there;
   * nothing else in the directory is read, written or deleted.
   */
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
  /**
   * Keep the records in a durable store in this directory, which a restart recovers from. Without it the engine
   * keeps the same stores in a private temporary directory, without fsync, and removes them at `close`.
   */
  store?: StoreOptions;
  /**
   * Partitions of the population (by a hash of the NHS number), each with its own record store, hot state, statuses
   * and horizons. Default: the partitions a durable store was written with; else, on worker threads, one per core
   * (`os.availableParallelism()`); else one. A durable store keeps its partition count: opening it with another is
   * refused.
   */
  partitions?: number;
  /**
   * Run each partition on its own worker thread. Default: true for an engine with a durable store or more than one
   * partition asked for; false for an in-memory engine otherwise, whose one partition then runs in the calling
   * thread — no call crosses a thread, so a single `apply` costs microseconds, but ingest and recompute use one core
   * (see docs/embedding.md, "Where partitions run"). The API is the same either way.
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
  /** Most records written and committed together (default 16,384). */
  batchSize?: number;
  /** Longest a record waits for its batch to fill before it is written anyway (default 5 ms). */
  maxDelayMs?: number;
  /** Called after each batch is committed in every partition and applied, with the number of records acknowledged so far. */
  onAcknowledged?: (acknowledged: number) => void;
}

/** Options of `ingestFile` and `ingestNdjson`. */
export interface NdjsonIngestOptions extends Omit<IngestOptions, 'maxDelayMs'> {
  /** Longest accepted line in bytes (default 1 MiB). Longer lines are quarantined, not buffered without limit. */
  maxLineBytes?: number;
}

export interface IngestSummary {
  /** Records accepted, stored (committed) and applied. */
  accepted: number;
  /** Records refused by validation or by the engine, kept in `engine.quarantine` and in the store. */
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
  /** Of those, events no registry reads (a code in no cluster read, or another code system): counted, not held in memory. */
  eventsNotHeld: number;
}

const STATUS_CODE: Record<IndicatorStatus, number> = { met: 1, gap: 2, excepted: 3, 'not-applicable': 4 };
const PARTITION_FILE = /^partition-(\d+)\.mdb$/;

/**
 * How much memory the partitions' hot state holds, and for how many patients and relevant events: everything that
 * grows with patients or events (typed arrays at capacity, the NHS number tables, statuses, horizons and their queue,
 * free lists), counted by the engine. What grows with distinct codes and practices (interning) is left out.
 */
export interface HotStateMemory {
  /** `patientBytes` + `eventBytes`. */
  bytes: number;
  /** What is held per patient: demographics, registration, cluster masks, block positions, statuses, horizons. */
  patientBytes: number;
  /** What is held per relevant event: the event arena (cluster set, day, value, store handle), named components. */
  eventBytes: number;
  /** Rows: NHS numbers seen, with or without their patient record. */
  patients: number;
  /** Events whose code is in a cluster some registry reads (the only events held in memory). */
  relevantEvents: number;
}

/**
 * The incremental engine (DESIGN §4), the public facade. Records are routed by NHS number to partitions (worker
 * threads by default), each of which validates them, commits them to its own LMDB record store (which decides
 * identity and versions) and keeps its patients' hot state in typed arrays; each record touches only the registries
 * that read the clusters of its code, for that patient. Time moves with `advanceTo`, which re-evaluates only the
 * patients whose horizon has passed. Every change is emitted on `changes$` and counted by practice, PCN, borough and
 * ICB. This thread holds only the organisations and the counts. At any time its statuses and counts equal a batch
 * evaluation of the same records on the same date.
 */
export class Engine {
  /** Records refused, with reasons and counts (this session's; every partition's store keeps them all). */
  readonly quarantine = new Quarantine();
  /** Changes of register membership and indicator status, as they happen. */
  readonly changes$: Observable<Change>;
  /**
   * Every patient and organisation record accepted through `apply`, `ingest`, `ingestFile` or `ingestNdjson`, once
   * its batch has committed (in batch order; a stale version is not told). Registration, demographics and opt-outs
   * change only this way, and `changes$` does not tell them: follow this to keep anything read from patient records
   * current (the access layer's index does).
   */
  readonly writes$: Observable<RecordWrite>;
  /** What a restart found in the durable store (`undefined` for an in-memory engine). */
  readonly recovery: RecoveryReport | undefined;

  private registries: readonly CompiledRegistry[];
  private index: CodesetIndex;
  private aggregates: Aggregates;
  private readonly router: Router;
  private readonly partitionCount: number;
  private readonly changes = new Subject<Change>();
  private readonly writes = new Subject<RecordWrite>();
  private readonly settled = new Subject<void>();
  /** The private directory of an in-memory engine's stores, removed at close. */
  private readonly scratch: string | undefined;
  private readonly durable: boolean;
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
    this.writes$ = this.writes.asObservable();
    this.durable = options.store !== undefined;
    const written = options.store ? writtenPartitions(options.store.directory) : 0;
    const workerThreads = options.workerThreads ?? (this.durable || (options.partitions ?? written) > 1);
    this.partitionCount = partitionsFor(options, written, workerThreads);
    this.scratch = options.store ? undefined : scratchDirectory();
    const directory = options.store?.directory ?? this.scratch!;
    this.aggregates = new Aggregates(new CounterLayout(this.registries));
    const links: PartitionLink[] = [];
    try {
      for (let partition = 0; partition < this.partitionCount; partition++) {
        const hostOptions: Omit<PartitionHostOptions, 'registries' | 'index'> = {
          day: this.day,
          explainChanges: options.explainChanges === true,
          directory,
          partition,
          partitions: this.partitionCount,
          durable: this.durable,
          // Partitions in this thread read each other's stores through their writers, which see uncommitted writes.
          deferCommits: !this.durable && !workerThreads,
        };
        links.push(
          workerThreads
            ? new WorkerThreadLink({ options: hostOptions, rules: definitionsOf(this.registries, this.index) })
            : new InThreadLink(PartitionHost.open({ ...hostOptions, registries: this.registries, index: this.index })),
        );
      }
      this.router = new Router(links, this.aggregates, (change) => this.changes.next(change), (record) => this.applyOrganisation(record), (refusal) => this.quarantine.add(refusal), (write) => this.writes.next(write));
      const recoveries = this.router.all(() => ({ method: 'recovery', args: [] })) as PartitionRecovery[];
      for (const org of options.organisations ?? []) this.applyOrganisation(org);
      for (const org of recoveries.flatMap((r) => r.organisations)) this.applyOrganisation(org);
      // Replayed state is evaluated now; its changes are not news (nobody has subscribed yet).
      this.router.flush();
      const asOf = recoveries[0]!.asOf;
      if (asOf !== undefined) {
        this.setDay(achievementDay(asOf));
        // A crash while the date moved can leave partitions on different dates: they follow partition 0.
        if (recoveries.some((r) => r.asOf !== asOf)) this.router.advance(this.day);
      }
      if (options.store) {
        this.recovery = recoveries.reduce(
          (sum, r) => ({ patients: sum.patients + r.patients, records: sum.records + r.records, eventsNotHeld: sum.eventsNotHeld + r.eventsNotHeld }),
          { patients: 0, records: 0, eventsNotHeld: 0 },
        );
      }
    } catch (error) {
      this.shutDown(links);
      throw error;
    }
  }

  /**
   * Rebuilds the hot state from the record stores, without the feeds, each partition replaying its own store: after
   * registries or codesets change (a new QOF year, a new PCD release), or to start from a clean state. Statuses and
   * counts are computed afresh on the current date; `changes$` carries no changes for the rebuild (read the new
   * state with the queries), and `counts$` subscribers get the new counts.
   */
  rebuild(options: { compiled?: readonly CompiledRegistry[]; index?: CodesetIndex } = {}): void {
    this.assertOpen();
    if (options.compiled) this.registries = options.compiled;
    if (options.index) this.index = options.index;
    const organisations = this.aggregates.organisationRecords();
    this.aggregates.reset(new CounterLayout(this.registries));
    for (const org of organisations) this.aggregates.setOrganisation(org);
    const rules = options.compiled || options.index ? { compiled: this.registries, index: this.index } : undefined;
    for (const report of this.router.all(() => ({ method: 'rebuild', args: [rules] })) as PartitionReport[]) {
      for (const delta of report.deltas) this.aggregates.addDelta(delta.practice, delta.delta);
    }
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
    return this.partitionCounts().reduce((sum, c) => sum + c.patients, 0);
  }

  /** Patients registered on the achievement date (the population's list size). */
  get registeredCount(): number {
    return this.aggregates.registered();
  }

  /** Patients queued for a time-driven re-evaluation. */
  get queuedCount(): number {
    return this.partitionCounts().reduce((sum, c) => sum + c.queued, 0);
  }

  private partitionCounts(): { patients: number; queued: number }[] {
    this.assertOpen();
    return this.router.all(() => ({ method: 'counts', args: [] })) as { patients: number; queued: number }[];
  }

  /** The number of partitions. */
  get partitions(): number {
    return this.partitionCount;
  }

  /** The hot state's memory over all partitions. */
  memory(): HotStateMemory {
    this.assertOpen();
    const out: HotStateMemory = { bytes: 0, patientBytes: 0, eventBytes: 0, patients: 0, relevantEvents: 0 };
    for (const m of this.router.all(() => ({ method: 'memory', args: [] })) as ReturnType<PartitionHost['memory']>[]) {
      out.bytes += m.bytes;
      out.patientBytes += m.patientBytes;
      out.eventBytes += m.eventBytes;
      out.patients += m.patients;
      out.relevantEvents += m.events;
    }
    return out;
  }

  // ---- ingesting -----------------------------------------------------------------------------------------------

  /**
   * Stores and applies every record of a source, in batches: each batch goes to the partitions that own its
   * patients, which validate it, commit it to their stores and apply it; it is acknowledged (`onAcknowledged`) once
   * every partition has committed. Each patient a batch touched is evaluated once, at the end of the batch, so
   * changes are the net change of the batch (an async source into an in-memory engine is applied record by record).
   * Items may be records, unparsed objects, or the results of `readRecords` (whose refused lines are quarantined
   * too). Each item is taken as its JSON text, encoded once on this thread into one buffer per batch that the
   * partitions parse and store as it is; an item with no JSON form is quarantined. For NDJSON files prefer
   * `ingestFile`, which never parses a line on this thread. Resolves when the source ends; rejects, without
   * acknowledging the batch, if a store cannot be written.
   */
  async ingest(source: RecordSource, options: IngestOptions = {}): Promise<IngestSummary> {
    this.assertOpen();
    const bulk = options.bulk === true;
    const source$ = iteratorOf(source);
    // An async source into an in-memory engine is applied record by record, as it may pause at any record.
    const batchSize = source$.async && !this.durable && !bulk ? 1 : Math.max(1, options.batchSize ?? 16_384);
    const maxDelayMs = options.maxDelayMs ?? 5;
    const sender = this.lineSender(bulk, options.onAcknowledged);
    // Each batch is encoded once, here, as the NDJSON lines the partitions parse and store (`RecordLines`).
    const encoded = new RecordLines();
    const routed = new RoutedBatch();
    let line = 0;
    // A synchronous source leaves each batch in flight while the next is encoded; an async one may pause at any
    // record, so its batch is committed before the next item is awaited.
    const wait = source$.async !== undefined;
    const commit = () => {
      if (encoded.size === 0) return;
      const { chunk, file } = encoded.chunk();
      sender.send(chunk, 0, encoded.size, routed, file ?? options.file, bulk, wait);
      encoded.clear();
      routed.clear();
    };
    const take = (item: unknown) => {
      line++;
      encoded.add(item, line, options.file);
      const { partition, identity, patient } = routeOf(item, this.partitionCount);
      routed.add(partition, identity, patient);
      if (encoded.size >= batchSize) commit();
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
          if (encoded.size > 0) deadline ??= new Promise((resolve) => setTimeout(() => resolve('due'), maxDelayMs).unref());
          const r = encoded.size > 0 ? await Promise.race([pending, deadline!]) : await pending;
          if (r === 'due') {
            deadline = undefined;
            commit();
            continue;
          }
          pending = undefined;
          if (r.done) break;
          take(r.value);
          if (encoded.size === 0) deadline = undefined;
        }
      }
      commit();
      sender.settle();
    } finally {
      sender.abandon();
      if (bulk) {
        // Also when the source failed: what was applied is evaluated.
        this.router.flush();
        this.settled.next();
      }
    }
    return sender.summary;
  }

  /** A sender of line batches for one ingest call, acknowledging as `IngestOptions.onAcknowledged` says. */
  private lineSender(bulk: boolean, onAcknowledged: ((acknowledged: number) => void) | undefined): LineSender {
    return new LineSender(this.router, this.partitionCount, { accepted: 0, quarantined: 0, stale: 0 }, (acknowledged) => {
      if (!bulk) this.settled.next();
      onAcknowledged?.(acknowledged);
    });
  }

  /**
   * Ingests an NDJSON file of record format v1 (DESIGN §3.1): `ingestNdjson` over the file's bytes, with the path as
   * the file name in quarantine reports (unless `options.file` names it otherwise).
   */
  async ingestFile(path: string, options: NdjsonIngestOptions = {}): Promise<IngestSummary> {
    return this.ingestNdjson(fileChunks(path), { file: path, ...options });
  }

  /**
   * Ingests NDJSON (record format v1) from byte (or text) chunks: a socket, a decompressor, a file stream. This thread
   * only cuts the lines and finds each line's NHS number (and event identity) by scanning its bytes; the lines go
   * to their partitions as bytes, where they are parsed, validated and stored as received (nothing is encoded
   * twice). A line this thread cannot scan (an unusual layout, an escaped id) is parsed here to route it; a line that
   * is not JSON goes to a partition to be quarantined. Every refusal names the file, line (and for bad JSON the
   * column) and record id. A chunk's lines are committed before the next chunk's, in batches of `batchSize`, and
   * acknowledged as `ingest` acknowledges.
   */
  async ingestNdjson(chunks: AsyncIterable<Uint8Array | string>, options: NdjsonIngestOptions = {}): Promise<IngestSummary> {
    this.assertOpen();
    const bulk = options.bulk === true;
    const batchSize = Math.max(1, options.batchSize ?? 16_384);
    const splitter = new LineSplitter(options.maxLineBytes);
    const routed = new RoutedBatch();
    const sender = this.lineSender(bulk, options.onAcknowledged);
    const send = (chunk: ChunkLines) => {
      for (let from = 0; from < chunk.starts.length; from += batchSize) {
        const to = Math.min(chunk.starts.length, from + batchSize);
        routed.clear();
        for (let i = from; i < to; i++) {
          const route = this.partitionCount === 1 ? SINGLE : (scanRoute(chunk.bytes, chunk.starts[i]!, chunk.ends[i]!, this.partitionCount) ?? parsedRoute(chunk, i, this.partitionCount));
          routed.add(route.partition, route.identity, route.patient);
        }
        sender.send(chunk, from, to, routed, options.file, bulk, false);
      }
    };
    try {
      for await (const chunk of chunks) send(splitter.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk));
      send(splitter.push(new Uint8Array(0), true));
      sender.settle();
    } finally {
      // Whatever is still in flight is taken, so the partitions are free for the next call.
      sender.abandon();
      if (bulk) {
        this.router.flush();
        this.settled.next();
      }
    }
    return sender.summary;
  }

  /** Sends one batch of parsed values to the partitions, in as many rounds as its identities need. */
  private routeRecords(items: readonly unknown[], lines: readonly number[], routed: RoutedBatch, file: string | undefined, hold: boolean, summary: RoutedSummary): void {
    const { round, count, last } = routed.rounds(this.partitionCount);
    const parts = this.partitionCount;
    const batches = Array.from({ length: count * parts }, () => ({ items: [] as unknown[], lines: [] as number[] }));
    for (let i = 0; i < items.length; i++) {
      const b = batches[round[i]! * parts + routed.partition[i]!]!;
      b.items.push(items[i]);
      b.lines.push(lines[i]!);
    }
    for (let r = 0; r < count; r++) {
      this.router.round((p) => {
        const b = batches[r * parts + p]!;
        return b.items.length === 0 ? undefined : { method: 'applyRecords', args: [{ ...b, ...(file === undefined ? {} : { file }), last: last[p] === r }, hold] };
      }, summary);
    }
  }

  /**
   * Applies one record now and returns whether it was accepted (a refused record is quarantined, a stale one
   * counted nowhere). It is committed to its partition's store first; prefer `ingest`, which writes in batches.
   */
  apply(record: unknown): boolean {
    this.assertOpen();
    const summary: RoutedSummary = { accepted: 0, quarantined: 0, stale: 0 };
    const { partition } = routeOf(record, this.partitionCount);
    // One record is one round (rounds only order records of one batch); line 0: not from a file.
    const call: PartitionCall = { method: 'applyRecords', args: [{ items: [record], lines: [0] }, false] };
    this.router.round((p) => (p === partition ? call : undefined), summary);
    this.settled.next();
    return summary.accepted === 1;
  }

  private applyOrganisation(record: OrganisationRecord): void {
    const refusal = this.aggregates.setOrganisation(record);
    if (refusal) {
      this.quarantine.add({ ok: false, code: 'CG_ENGINE_ORGANISATION_CYCLE', reason: refusal, line: 0, recordId: record.code, text: JSON.stringify(record).slice(0, 1024) });
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
    this.setDay(day);
    this.router.advance(day);
    this.settled.next();
  }

  /** Re-evaluates every patient in every registry on the current date. */
  recomputeAll(): void {
    this.assertOpen();
    this.router.recompute();
    this.settled.next();
  }

  // ---- queries -------------------------------------------------------------------------------------------------

  /** A patient's registration and statuses in every registry, with explanations unless `explain` is false. */
  patient(nhsNumber: string, options: { explain?: boolean } = {}): PatientStatus | undefined {
    this.assertOpen();
    return this.router.ask(partitionOf(nhsNumber, this.partitionCount), { method: 'patient', args: [nhsNumber, options.explain !== false] }) as PatientStatus | undefined;
  }

  /**
   * Every patient on every register they are on, as `evaluatePopulation` writes them (DESIGN §3.2): partition by
   * partition, each in the order it first saw its patients (with one partition, the order patients were first seen).
   */
  *results(options: { explain?: boolean } = {}): Generator<PatientResult> {
    this.assertOpen();
    // Asked one partition at a time: the answers are lists, and a population's results are large.
    for (let p = 0; p < this.partitionCount; p++) yield* this.router.ask(p, { method: 'results', args: [options.explain === true] }) as PatientResult[];
  }

  /**
   * The stored record of one patient, read from its partition's record store: the latest demographics (absent while
   * only events have arrived) and the live events by identity. A copy: changing it changes nothing.
   */
  record(nhsNumber: string): PatientState | undefined {
    this.assertOpen();
    const stored = this.router.ask(partitionOf(nhsNumber, this.partitionCount), { method: 'record', args: [nhsNumber] }) as StoredPatient | undefined;
    return stored && stateOf(stored);
  }

  /** Every patient's stored record (as `record`), partition by partition, read from the stores a page at a time. */
  *records(): Generator<PatientState> {
    this.assertOpen();
    for (let p = 0; p < this.partitionCount; p++) {
      for (let from = 0; ; ) {
        const page = this.router.ask(p, { method: 'records', args: [from, 1024] }) as { records: StoredPatient[]; next: number };
        for (const stored of page.records) yield stateOf(stored);
        if (page.next < 0) break;
        from = page.next;
      }
    }
  }

  /** NHS numbers of the patients on a register, or in one status of one of its indicators. */
  *patients(query: PopulationQuery): Generator<string> {
    this.assertOpen();
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
    for (const nhs of this.router.all(() => ({ method: 'patients', args: [asked] })) as string[][]) yield* nhs;
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

  /** Every refusal the stores keep (from every session, unlike `quarantine`), partition by partition. */
  storedQuarantine(): QuarantinedRecord[] {
    this.assertOpen();
    return (this.router.all(() => ({ method: 'quarantined', args: [] })) as QuarantinedRecord[][]).flat();
  }

  // ---- closing -------------------------------------------------------------------------------------------------

  /**
   * Closes every partition (its store gives up write ownership) and stops their threads; an in-memory engine's
   * private directory is removed. Further calls are refused.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.shutDown(this.router.links);
    this.changes.complete();
    this.writes.complete();
    this.settled.complete();
  }

  private shutDown(links: readonly PartitionLink[]): void {
    for (const link of links) {
      try {
        link.send({ method: 'close', args: [] });
        link.take();
      } catch {
        // a partition that failed to open has nothing to close
      }
      link.end();
    }
    if (this.scratch) {
      rmSync(this.scratch, { recursive: true, force: true });
      SCRATCH.delete(this.scratch);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new CaregapsError('CG_ENGINE_CLOSED', 'The engine is closed');
  }
}

/** In-memory engines' private directories not yet removed: removed when the process exits, if `close` never ran. */
const SCRATCH = new Set<string>();
let removesScratchAtExit = false;

function scratchDirectory(): string {
  if (!removesScratchAtExit) {
    removesScratchAtExit = true;
    process.once('exit', () => SCRATCH.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
  }
  const dir = mkdtempSync(join(tmpdir(), 'caregaps-engine-'));
  SCRATCH.add(dir);
  return dir;
}

const SINGLE = { partition: 0, identity: -1, patient: undefined };

/** The route of a line the byte scan could not read: parsed here (a line that is not JSON goes to partition 0). */
function parsedRoute(chunk: ChunkLines, i: number, partitions: number): { partition: number; identity: number; patient: unknown } {
  let value: { kind?: unknown; nhsNumber?: unknown; id?: unknown; source?: unknown } | null;
  try {
    value = JSON.parse(Buffer.from(chunk.bytes.buffer, chunk.bytes.byteOffset + chunk.starts[i]!, chunk.ends[i]! - chunk.starts[i]!).toString('utf8')) as typeof value;
  } catch {
    return SINGLE;
  }
  if (typeof value !== 'object' || value === null || typeof value.nhsNumber !== 'string') return SINGLE;
  const nhs = value.nhsNumber;
  const eventLike = (value.kind === 'event' || value.kind === 'retract') && typeof value.id === 'string';
  return {
    partition: partitionOf(nhs, partitions),
    identity: eventLike ? identityHashOfStrings(value.id as string) : -1,
    patient: /^\d{10}$/.test(nhs) ? Number(nhs) : nhs,
  };
}

/** A file's bytes in chunks of 1 MiB; an unreadable file is a CG_INPUT error that names it. */
async function* fileChunks(path: string): AsyncGenerator<Uint8Array> {
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) yield chunk as Uint8Array;
  } catch (error) {
    if (typeof (error as NodeJS.ErrnoException).code === 'string') throw new CaregapsError('CG_INPUT', `Cannot read ${path}: ${(error as Error).message}`);
    throw error;
  }
}

/** A stored patient as the record view gives it. */
function stateOf(stored: StoredPatient): PatientState {
  return { nhsNumber: stored.nhsNumber, patient: stored.patient, events: new Map(stored.events.map((e) => [eventKey(e.source, e.id), e])) };
}

/** The partition, identity hash and patient of an item, read without validating it (the partition validates). */
function routeOf(item: unknown, partitions: number): { partition: number; identity: number; patient: string | undefined } {
  if (partitions === 1) return { partition: 0, identity: -1, patient: undefined };
  let value = item as { ok?: unknown; record?: unknown; kind?: unknown; nhsNumber?: unknown; id?: unknown; source?: unknown } | null;
  if (typeof value === 'object' && value !== null && typeof value.ok === 'boolean' && !('kind' in value)) value = value.ok ? (value.record as typeof value) : null;
  if (typeof value !== 'object' || value === null || typeof value.nhsNumber !== 'string') return { partition: 0, identity: -1, patient: undefined };
  const partition = partitionOf(value.nhsNumber, partitions);
  const eventLike = (value.kind === 'event' || value.kind === 'retract') && typeof value.id === 'string';
  return { partition, identity: eventLike ? identityHash(value.id as string) : -1, patient: value.nhsNumber };
}

/**
 * The partition count: as asked, else as the durable store was written, else one per core on worker threads (one
 * partition in the calling thread: more there would only add work).
 */
function partitionsFor(options: EngineOptions, written: number, workerThreads: boolean): number {
  const asked = options.partitions;
  if (asked !== undefined && (!Number.isInteger(asked) || asked < 1 || asked > 1024)) {
    throw new CaregapsError('CG_USAGE', `partitions must be a whole number from 1 to 1024 (got ${asked})`);
  }
  if (written > 0 && asked !== undefined && asked !== written) {
    throw new CaregapsError(
      'CG_USAGE',
      `the store in ${options.store!.directory} was written with ${written} partitions: open it with partitions: ${written} (or leave partitions out), or ingest its records into a new store`,
    );
  }
  return written > 0 ? written : (asked ?? (workerThreads ? Math.min(1024, availableParallelism()) : 1));
}

/** How many partitions a store directory holds (0 for a new one). */
function writtenPartitions(directory: string): number {
  let files: string[];
  try {
    files = readdirSync(directory);
  } catch {
    return 0;
  }
  const numbers = files.map((f) => PARTITION_FILE.exec(f)?.[1]).filter((n): n is string => n !== undefined).map(Number);
  return numbers.length === 0 ? 0 : Math.max(...numbers) + 1;
}
