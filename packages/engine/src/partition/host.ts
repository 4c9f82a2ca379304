import {
  CaregapsError,
  ERRORS,
  checkRecord,
  formatDay,
  parseDay,
  type CaregapsRecord,
  type CodesetIndex,
  type CompiledRegistry,
  type EventRecord,
  type OrganisationRecord,
  type PatientRecord,
  type PatientResult,
  type QuarantinedRecord,
  type RetractRecord,
} from '@caregaps/core';
import { RecordStore, type Outcome, type StoredPatient, type WriteResult } from '../store/record-store.js';
import type { PatientStatus } from '../types.js';
import { KIND } from '../store/frame.js';
import { CodeTable, EventCodeScan } from './event-code.js';
import { LineParser, isReadResult, quarantinedOf, safeText, type LineBatch } from './lines.js';
import { Partition, type PartitionMemory, type PartitionQuery, type PartitionReport } from './partition.js';
import { partitionOf } from './route.js';

/** How to open one partition (everything is plain data except the compiled registries and the index). */
export interface PartitionHostOptions {
  /** Compiled registries (each transport compiles its own: compiled rules are closures). */
  registries: readonly CompiledRegistry[];
  /** The codeset index the registries were compiled against. */
  index: CodesetIndex;
  /** The achievement date (day number) for a store that has none yet; a store that has one keeps its own. */
  day: number;
  /** Attach an explanation to every change. */
  explainChanges?: boolean;
  /** Directory of the partitions' record stores; this partition's is `<directory>/partition-<partition>.mdb`. */
  directory: string;
  /** This partition's number, from 0. */
  partition: number;
  /** How many partitions share the directory (NHS number → partition, see `partitionOf`). */
  partitions: number;
  /** fsync every commit (default true); false for a store that need not outlive the process. */
  durable?: boolean;
  /**
   * Called every 65,536 records a replay reads (at opening and in `rebuild`), so whoever waits on a long replay can
   * tell the partition is working: a worker thread adds to a progress word its engine watches.
   */
  progress?: () => void;
  /**
   * With `durable: false`, for partitions that all run in one thread: keep the store's write transaction open across
   * batches (`RecordStore`'s `deferCommits`) instead of committing each. Siblings read it through its writer, which
   * sees what is not yet committed, so only partitions sharing a thread may defer.
   */
  deferCommits?: boolean;
}

/** A batch of parsed values for a partition: records, `readRecords` results, or anything (validated here). */
export interface RecordBatch {
  items: readonly unknown[];
  /** Line number of each item (0: not from a file). */
  lines?: readonly number[];
  /** File name for quarantine reports. */
  file?: string;
  /**
   * false when more of the same batch follows (a later round): refusals found here without a store lookup wait to
   * be kept with the batch's last call, so a round of refusals alone commits nothing. Default true.
   */
  last?: boolean;
}

/**
 * The event identity a declared correction moved here from another partition: that partition must give it up
 * (`PartitionHost.release`).
 */
export interface Release {
  partition: number;
  id: string;
  source: string | undefined;
  nhsNumber: string;
}

/** What applying a batch did: counts, refusals (already kept in the store), and what the router must pass on. */
export interface BatchReport extends PartitionReport {
  accepted: number;
  quarantined: number;
  stale: number;
  /** Every record refused (validation, identity conflict), with file, line and record id: kept in the store too. */
  refused: QuarantinedRecord[];
  /** Organisation records stored (the organisation hierarchy lives with whoever merges the counts). */
  organisations: OrganisationRecord[];
  /** NHS numbers of the patient records stored (not stale), in order: `Engine.writes$` tells them. */
  patients: string[];
  /** Identities moved here by declared corrections from other partitions, to release there. */
  releases: Release[];
}

/** What opening a partition found in its store. */
export interface PartitionRecovery {
  asOf: string | undefined;
  patients: number;
  records: number;
  /** Events replayed that no registry reads (a code in no cluster read, or another code system): counted, not held. */
  eventsNotHeld: number;
  organisations: OrganisationRecord[];
}

/** A record on its way to the store, with where it came from. */
interface Pending {
  record: CaregapsRecord;
  bytes: Uint8Array | undefined;
  line: number;
  /** The file it came from, for quarantine reports. */
  file: string | undefined;
  /** An event whose identity a declared correction moves here from another partition (`Batch.movedIn`). */
  movedIn?: true;
  /** Part of a record already counted (a retraction split by source). */
  counted?: true;
}

/**
 * One durable partition of the population (DESIGN §4, §7), independent of its transport: a worker thread
 * (`transport/worker-thread.ts`), the calling thread, or a JetStream consumer (`@caregaps/nats`) hosts it the same
 * way. It owns `<directory>/partition-<n>.mdb` (a `RecordStore`) and the hot state of its patients (`Partition`).
 *
 * - `PartitionHost.open(options)` opens (or creates) the store and replays it into the hot state (`recovery`).
 * - `applyRecords(batch)` / `applyLines(batch)`: validates (and for lines parses) each record, decides identity
 *   across partitions (below), writes the batch to the store in one transaction, and only then applies the store's
 *   outcomes to the hot state. Returns a `BatchReport`: counts, refusals, changes and per-practice count deltas,
 *   organisation records, and identities to release elsewhere. When it returns, the batch is committed.
 *   `hold`: evaluate the touched patients at `flush` instead (a first load).
 * - `release(identities)`: gives up identities a declared correction moved to another partition.
 * - `advance(day)`, `recompute()`, `rebuild(registries, index)`: time, a full re-evaluation, a replay from the store.
 * - Queries: `patient`, `record` (the stored records of one patient), `results`, `patients`, `counts`, `memory`.
 * - `close()`.
 *
 * Identity across partitions (DESIGN §3.1): a partition's store decides identity and versions for the identities it
 * holds. An identity it does not hold may be held by another partition's store (for another NHS number, which
 * hashes elsewhere): before writing, the host asks its siblings' stores (read-only, LMDB readers beside their
 * writers) and refuses the record as `CG_RECORD_ID_CONFLICT`, unless it is a declared correction
 * (`correctsNhsNumber` naming the holder), which moves the identity here: stored here, then released there. The
 * check sees what the siblings had committed when it ran, so a caller must not send records of one identity to two
 * partitions in one round (the engine's router orders them into rounds).
 */
export class PartitionHost {
  readonly recovery: PartitionRecovery;
  private readonly store: RecordStore;
  private partition: Partition;
  private registries: readonly CompiledRegistry[];
  private index: CodesetIndex;
  private day: number;
  /** Refusals of this batch waiting to be kept in the store with its last call (see `RecordBatch.last`). */
  private refusalsToKeep: QuarantinedRecord[] = [];
  /** Other partitions' stores, opened for reading on first need (they may open after this one). */
  private siblings: (RecordStore | undefined)[] | undefined;
  private closed = false;

  private constructor(private readonly options: PartitionHostOptions) {
    this.registries = options.registries;
    this.index = options.index;
    const noSync = options.durable === false;
    this.store = RecordStore.open({ directory: options.directory, partition: options.partition, noSync, deferCommits: noSync && options.deferCommits === true });
    try {
      const asOf = this.store.asOf;
      if (asOf === undefined) this.store.setAsOf(formatDay(options.day));
      this.day = asOf === undefined ? options.day : parseDay(asOf)!;
      this.partition = this.newPartition();
      const replayed = this.replay(this.partition);
      this.recovery = { asOf: this.store.asOf, ...replayed, organisations: this.store.organisations() };
    } catch (error) {
      void this.store.close();
      throw error;
    }
  }

  /** A partition over this host's registries, reading held events' ids from this host's store. */
  private newPartition(): Partition {
    return new Partition(this.registries, this.index, this.day, this.options.explainChanges === true, (nhsNumber, handle) => this.store.eventId(nhsNumber, handle));
  }

  static open(options: PartitionHostOptions): PartitionHost {
    return new PartitionHost(options);
  }

  /** The achievement date, YYYY-MM-DD. */
  get asOf(): string {
    return formatDay(this.day);
  }

  /**
   * Replays the store's current records into a partition's hot state (evaluated, and counted, at its next `flush`).
   * Read in place and unparsed: an event whose code (found by `EventCodeScan`) is in no cluster any registry reads
   * is counted and skipped; patient records and the other events are parsed (an event the scan is unsure of too).
   */
  private replay(partition: Partition): { patients: number; records: number; eventsNotHeld: number } {
    let patients = 0;
    let records = 0;
    let eventsNotHeld = 0;
    /** The patient's row is still to make (the patient record, first in key order, makes it). */
    let rowToMake = false;
    const scan = new EventCodeScan();
    const sets = new CodeTable((code) => partition.clusterSetOf(code));
    this.store.replay((r) => {
      if ((++records & 0xffff) === 0) this.options.progress?.();
      if (r.first) {
        patients++;
        rowToMake = true;
      }
      if (r.kind === KIND.patient) {
        partition.putPatient(JSON.parse(r.bytes.toString('utf8', r.start, r.end)) as PatientRecord);
        rowToMake = false;
      } else if (r.kind === KIND.event) {
        if (scan.scan(r.bytes, r.start, r.end) && sets.get(r.bytes, scan.codeStart, scan.codeEnd) < 0) {
          eventsNotHeld++;
          if (rowToMake) partition.holdRow(r.nhsNumber);
        } else if (!partition.replayEvent(JSON.parse(r.bytes.toString('utf8', r.start, r.end)) as EventRecord, r.handle)) eventsNotHeld++;
        rowToMake = false;
      }
    });
    return { patients, records, eventsNotHeld };
  }

  // ---- applying ------------------------------------------------------------------------------------------------

  /** Validates, decides, stores (committed) and applies parsed values; see the class comment. */
  applyRecords(batch: RecordBatch, hold = false): BatchReport {
    this.assertOpen();
    const report = emptyReport();
    const pending: Pending[] = [];
    batch.items.forEach((item, i) => {
      const admitted = this.admit(item, batch.lines?.[i] ?? 0, batch.file, report);
      if (admitted) pending.push({ record: admitted.record, bytes: undefined, line: admitted.line, file: admitted.file });
    });
    return this.commit(pending, hold, report, batch.last !== false);
  }

  /**
   * Parses NDJSON lines (their bytes are stored as received), then as `applyRecords`. Each line must be a record: a
   * line shaped like a `readRecords` result is refused as one (it is not record format v1), and a line the sender
   * marked as a refusal (`LineBatch.refusals`) is kept as refused.
   */
  applyLines(batch: LineBatch, hold = false): BatchReport {
    this.assertOpen();
    const report = emptyReport();
    const pending: Pending[] = [];
    const parser = new LineParser(batch);
    const count = batch.lines.length;
    for (let i = 0; i < count; i++) {
      const parsed = parser.parse(i);
      if (!parsed.ok) {
        this.refuse(report, parsed);
        continue;
      }
      const admitted = this.admit(parsed.value, parsed.line, parser.fileOf(i), report, parsed.text);
      if (admitted) pending.push({ record: admitted.record, bytes: parsed.bytes, line: parsed.line, file: admitted.file });
    }
    return this.commit(pending, hold, report, batch.last !== false);
  }

  /**
   * A validated record, or `undefined` after refusing it. A `readRecords` result is taken as read (a refused one is
   * kept as refused), unless the item is a parsed line (`text` given), which must be a record itself. A record
   * routed here must be this partition's (its NHS number hashes here).
   */
  private admit(item: unknown, line: number, file: string | undefined, report: BatchReport, text?: string): { record: CaregapsRecord; line: number; file: string | undefined } | undefined {
    let value = item;
    if (text === undefined && isReadResult(item)) {
      if (typeof item.line === 'number' && Number.isSafeInteger(item.line)) line = item.line;
      if (typeof item.file === 'string') file = item.file;
      if (!item.ok) {
        this.refuse(report, quarantinedOf(item, line, file));
        return undefined;
      }
      value = item.record;
    }
    const fault = checkRecord(value);
    // Where a refusal was found (built only for a refusal: most records are accepted).
    const at = () => {
      const id = (value as { id?: unknown } | null)?.id;
      return { line, ...(file === undefined ? {} : { file }), ...(typeof id === 'string' ? { recordId: id } : {}) };
    };
    if (fault) {
      this.refuse(report, { ok: false, code: fault.code, reason: fault.message, text: text ?? safeText(value), ...at() });
      return undefined;
    }
    const record = value as CaregapsRecord;
    const owner = record.kind === 'organisation' ? 0 : partitionOf(record.nhsNumber, this.options.partitions);
    if (owner !== this.options.partition) {
      // Only a line whose NHS number the router's byte scan read differently from JSON (a repeated or escaped key).
      this.refuse(report, {
        ok: false,
        code: 'CG_RECORD_SCHEMA',
        reason: 'nhsNumber is given more than once, or with escaped characters in its name: give it once, as "nhsNumber"',
        text: text ?? safeText(value),
        ...at(),
      });
      return undefined;
    }
    return { record, line, file };
  }

  private refuse(report: BatchReport, refusal: QuarantinedRecord): void {
    report.refused.push(refusal);
    report.quarantined++;
  }

  /**
   * Decides identity across partitions, writes what is left in one transaction (more only when a record's verdict
   * needs this batch's earlier records committed first), applies the outcomes and reports.
   */
  private commit(pending: Pending[], hold: boolean, report: BatchReport, last: boolean): BatchReport {
    try {
      return this.commitRounds(pending, hold, report, last);
    } catch (error) {
      this.refusalsToKeep.length = 0; // the batch fails whole: it is not acknowledged, so it will be sent again
      throw error;
    }
  }

  private commitRounds(pending: Pending[], hold: boolean, report: BatchReport, last: boolean): BatchReport {
    const toKeep = this.refusalsToKeep;
    toKeep.push(...report.refused);
    let run: Pending[] = [];
    const write = () => {
      if (run.length === 0 && (toKeep.length === 0 || !last)) return;
      const movedIn = run.some((p) => p.movedIn) ? new Set(run.flatMap((p, i) => (p.movedIn ? [i] : []))) : undefined;
      const written = this.store.writeSync({ records: run.map((p) => p.record), bytes: run.map((p) => p.bytes), quarantined: toKeep, ...(movedIn ? { movedIn } : {}) });
      this.applyOutcomes(run, written, report);
      run = [];
      toKeep.length = 0;
    };
    // Siblings' holdings of the whole batch, read at once: nothing this call does changes them.
    const holders = this.options.partitions > 1 ? this.siblingHolders(pending) : undefined;
    for (let k = 0; k < pending.length; k++) {
      const p = pending[k]!;
      const r = p.record;
      // Records of this batch not yet written that share the identity are committed first, when a verdict needs it.
      const flush = () => {
        if (run.some((q) => sharesIdentity(q.record, r))) write();
      };
      const verdict = holders === undefined ? undefined : this.acrossPartitions(p, holders[k], flush);
      if (verdict === undefined) run.push(p);
      else if (verdict === 'stale') report.stale++;
      else if (verdict === 'suppressed') report.accepted++;
      else if (Array.isArray(verdict)) run.push(...verdict);
      else {
        const refusal = conflictOf(r as EventRecord | RetractRecord, verdict.heldFor, p.line, p.file);
        toKeep.push(refusal);
        this.refuse(report, refusal);
      }
    }
    write();
    Object.assign(report, this.partition.endBatch(hold));
    return report;
  }

  /**
   * Per record of a batch, which other partition's store holds its identity and for whom (`undefined`: none, or not
   * an event or retraction), each sibling asked once for the whole batch, from one snapshot.
   */
  private siblingHolders(pending: readonly Pending[]): ({ partition: number; nhsNumber: string } | undefined)[] {
    const out = new Array<{ partition: number; nhsNumber: string } | undefined>(pending.length);
    let asked: number[] = [];
    const identities: { id: string; source?: string }[] = [];
    pending.forEach((p, k) => {
      if (p.record.kind !== 'event' && p.record.kind !== 'retract') return;
      asked.push(k);
      identities.push(p.record);
    });
    for (let s = 0; s < this.options.partitions && asked.length > 0; s++) {
      if (s === this.options.partition) continue;
      const found = this.sibling(s).holders(asked.length === identities.length ? identities : asked.map((k) => pending[k]!.record as EventRecord | RetractRecord));
      const left: number[] = [];
      asked.forEach((k, j) => {
        const nhsNumber = found[j];
        if (nhsNumber === undefined) left.push(k);
        else out[k] = { partition: s, nhsNumber };
      });
      asked = left;
    }
    return out;
  }

  /**
   * The verdict on an event or retraction whose identity another partition's store may hold: `undefined` to write
   * it here as it is (the store decides), records to write instead, or a verdict reached here. `holder`: the
   * sibling holding its identity (`siblingHolders`). `flush` commits this batch's records not yet written that share
   * the identity, so this store's own holding is seen.
   */
  private acrossPartitions(p: Pending, holder: { partition: number; nhsNumber: string } | undefined, flush: () => void): undefined | 'stale' | 'suppressed' | Pending[] | { heldFor: string } {
    const record = p.record;
    if (record.kind !== 'event' && record.kind !== 'retract') return undefined;
    if (holder === undefined) return this.retractedWhereItWas(record, flush) ? 'suppressed' : undefined;
    // This store's own holding (by an earlier record) decides: commit what is pending and look.
    flush();
    if (this.store.holder(record.id, record.source) !== undefined) return undefined;
    if (record.kind === 'event') {
      if (record.correctsNhsNumber !== holder.nhsNumber) return { heldFor: holder.nhsNumber };
      const there = this.sibling(holder.partition).patient(holder.nhsNumber);
      const at = there?.events.findIndex((e) => e.id === record.id && (e.source ?? '') === (record.source ?? '')) ?? -1;
      if (at < 0) return 'suppressed'; // a retraction holds it: the correction of a retracted event changes nothing
      const held = there!.events[at]!;
      if (record.version !== undefined && held.version !== undefined && record.version < held.version) return 'stale';
      return [{ ...p, movedIn: true }]; // stored here; released there after the commit (see applyOutcomes)
    }
    // A retraction: another patient's identity is never removed. Without a source, it still retracts this
    // patient's events of that id in other sources, which live here.
    if (record.source !== undefined) return { heldFor: holder.nhsNumber };
    const own = this.store.patient(record.nhsNumber)?.events.filter((e) => e.id === record.id && e.source !== undefined) ?? [];
    if (own.length === 0) return { heldFor: holder.nhsNumber };
    return own.map((e, k): Pending => ({
      record: { kind: 'retract', id: record.id, nhsNumber: record.nhsNumber, source: e.source! },
      bytes: undefined,
      line: p.line,
      file: p.file,
      ...(k > 0 ? { counted: true as const } : {}),
    }));
  }

  /**
   * Whether a declared correction of a source's event names a patient in another partition whose retraction of
   * the id in every source is kept there (and no store holds the identity itself): as one store would, the
   * correction of a retracted event changes nothing.
   */
  private retractedWhereItWas(record: CaregapsRecord, flush: () => void): boolean {
    if (record.kind !== 'event' || record.source === undefined || record.correctsNhsNumber === undefined) return false;
    const from = partitionOf(record.correctsNhsNumber, this.options.partitions);
    if (from === this.options.partition) return false;
    const retracted = this.sibling(from).patient(record.correctsNhsNumber)?.retractions.some((r) => r.id === record.id && r.source === undefined);
    if (!retracted) return false;
    flush();
    return this.store.holder(record.id, record.source) === undefined;
  }

  /**
   * Another partition's store: its writer when that runs in this thread (which sees what it has not yet committed),
   * else a reader beside it.
   */
  private sibling(s: number): RecordStore {
    this.siblings ??= [];
    return (this.siblings[s] ??= RecordStore.writerHere(this.options.directory, s) ?? RecordStore.open({ directory: this.options.directory, partition: s, alongsideWriter: true }));
  }

  /** Applies a committed transaction's outcomes to the hot state and the report. */
  private applyOutcomes(run: readonly Pending[], written: WriteResult, report: BatchReport): void {
    let conflicts = 0;
    run.forEach((p, i) => {
      const outcome: Outcome = written.outcomes[i]!;
      const record = p.record;
      if (outcome === 'conflict') {
        const refusal = { ...written.quarantined[conflicts++]!, line: p.line, ...(p.file === undefined ? {} : { file: p.file }) };
        this.refuse(report, refusal);
        return;
      }
      if (outcome === 'stale') {
        report.stale++;
        return;
      }
      if (!p.counted) report.accepted++;
      switch (record.kind) {
        case 'patient':
          this.partition.putPatient(record);
          report.patients.push(record.nhsNumber);
          return;
        case 'organisation':
          report.organisations.push(record);
          return;
        case 'event':
          if (outcome === 'suppressed') return;
          // What the handle held until now is taken out first: this patient's (a replacement) or another's (a move).
          this.partition.putEvent(record, written.handles[i]!, outcome === 'stored' ? undefined : outcome === 'moved' ? written.details.get(i)!.from : record.nhsNumber);
          if (record.correctsNhsNumber !== undefined) {
            const from = partitionOf(record.correctsNhsNumber, this.options.partitions);
            if (from !== this.options.partition) report.releases.push({ partition: from, id: record.id, source: record.source, nhsNumber: record.correctsNhsNumber });
          }
          return;
        case 'retract':
          for (const handle of written.details.get(i)?.removed ?? []) this.partition.removeEvent(record.nhsNumber, handle);
          return;
      }
    });
  }

  /** Gives up identities moved to other partitions by declared corrections (idempotent; committed on return). */
  release(identities: readonly Release[]): PartitionReport {
    this.assertOpen();
    const handles = this.store.releaseSync(identities);
    handles.forEach((handle, i) => handle >= 0 && this.partition.removeEvent(identities[i]!.nhsNumber, handle));
    return this.partition.endBatch();
  }

  /** Evaluates the patients held by `apply…(…, true)` (and, after opening, the replayed ones). */
  flush(): PartitionReport {
    return this.partition.flush();
  }

  // ---- time and rebuilding ---------------------------------------------------------------------------------------

  /** Moves the achievement date (kept in the store, so a restart resumes on it). */
  advance(day: number): PartitionReport {
    this.assertOpen();
    if (day !== this.day) this.store.setAsOf(formatDay(day));
    this.day = day;
    return this.partition.advance(day);
  }

  recompute(): PartitionReport {
    return this.partition.recompute();
  }

  /**
   * Rebuilds the hot state from the store with (optionally) new registries and codesets, on the current date.
   * Returns the counts of the new state as deltas against nothing: the caller starts its aggregates afresh.
   */
  rebuild(registries?: readonly CompiledRegistry[], index?: CodesetIndex): PartitionReport {
    this.assertOpen();
    if (registries) this.registries = registries;
    if (index) this.index = index;
    const partition = this.newPartition();
    this.replay(partition);
    this.partition = partition;
    return partition.flush();
  }

  // ---- queries ---------------------------------------------------------------------------------------------------

  patient(nhsNumber: string, explain: boolean): PatientStatus | undefined {
    return this.partition.patient(nhsNumber, explain);
  }

  /** One patient's stored records (the record view), read from the store. */
  record(nhsNumber: string): StoredPatient | undefined {
    this.assertOpen();
    return this.store.patient(nhsNumber);
  }

  /** The stored records of up to `limit` patients from hot-state row `from` on; `next` is -1 after the last. */
  records(from: number, limit: number): { records: StoredPatient[]; next: number } {
    this.assertOpen();
    const rows = this.partition.rows;
    const records: StoredPatient[] = [];
    const end = Math.min(rows, from + limit);
    for (let row = from; row < end; row++) {
      const stored = this.store.patient(this.partition.nhsNumberOf(row));
      if (stored) records.push(stored);
    }
    return { records, next: end < rows ? end : -1 };
  }

  results(explain: boolean): PatientResult[] {
    return this.partition.results(explain);
  }

  patients(query: PartitionQuery): string[] {
    return this.partition.patients(query);
  }

  /** Patients whose patient record has arrived, and patients queued for a time-driven re-evaluation. */
  counts(): { patients: number; queued: number } {
    return { patients: this.partition.patientCount, queued: this.partition.queuedCount };
  }

  memory(): PartitionMemory {
    return this.partition.memory();
  }

  /** Every record the store keeps in quarantine (refusals are kept there in the same transaction as their batch). */
  quarantined(): QuarantinedRecord[] {
    return [...this.store.quarantined()];
  }

  /** Closes the store (giving up write ownership) and the readers of the siblings' stores. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const own = this.store.close(); // gives up the write lease before its first await
    for (const sibling of this.siblings ?? []) if (sibling && sibling.readOnly) await sibling.close(); // a writer is its own host's
    await own;
  }

  private assertOpen(): void {
    if (this.closed) throw new CaregapsError('CG_ENGINE_CLOSED', `Partition ${this.options.partition} is closed`);
  }
}

/** Whether a record of a batch touches the identity of a later one (a retraction without source: the id in any source). */
function sharesIdentity(earlier: CaregapsRecord, record: CaregapsRecord): boolean {
  if ((earlier.kind !== 'event' && earlier.kind !== 'retract') || (record.kind !== 'event' && record.kind !== 'retract')) return false;
  if (earlier.id !== record.id) return false;
  return record.kind === 'retract' && record.source === undefined ? true : (earlier.source ?? '') === (record.source ?? '');
}

function emptyReport(): BatchReport {
  return { accepted: 0, quarantined: 0, stale: 0, refused: [], organisations: [], patients: [], releases: [], changes: [], deltas: [] };
}

function conflictOf(record: EventRecord | RetractRecord, heldFor: string, line: number, file: string | undefined): QuarantinedRecord {
  const named = record.source === undefined ? 'the unnamed source' : `source ${record.source}`;
  return {
    ok: false,
    code: 'CG_RECORD_ID_CONFLICT',
    reason: `id ${record.id} of ${named} is held for NHS number ${heldFor}, not ${record.nhsNumber}; declare a move with correctsNhsNumber`,
    line,
    ...(file === undefined ? {} : { file }),
    recordId: record.id,
    text: safeText(record),
  };
}
