/**
 * The record store (DESIGN §4): every record as received, on LMDB (the `lmdb` package), one store per partition.
 *
 * API (what the engine's partitions build on):
 * - `RecordStore.open({ directory, partition, readOnly })` opens `<directory>/partition-<n>.mdb` (created if
 *   missing) and takes write ownership (a lease inside the store, see `owner.ts`; `CG_ENGINE_LOCKED` while another
 *   live process holds it). A directory holding the old log+snapshot format is refused with `CG_STORE_OLD_FORMAT`.
 *   Opening checks the file against LMDB's own page count (truncation), LMDB's last transaction id and every
 *   database's entry count against what the store last committed (`CG_STORE_DAMAGED`). Nothing else in the
 *   directory is read, written or deleted.
 * - `writeSync(batch)`: one LMDB transaction per batch; returns only after it commits
 *   durably, with one `Outcome` per record and, per event or retraction, its integer handle (`handles`, -1 for
 *   other kinds). Records are decided by identity (source + id; the unnamed source `''` for records without one)
 *   and `version` (DESIGN §3.1 v1.1): see `Outcome`. Give each record's received bytes in `batch.bytes` when you
 *   have them: they are stored as they are (nothing is encoded twice); otherwise the record is stored as JSON.
 *   Conflicts are quarantined in the store, in the same transaction, with validation refusals given in
 *   `batch.quarantined`.
 * - `RecordStore.open({ ..., alongsideWriter: true })`: a reader in the process that writes the store (another
 *   partition's worker thread, the record view), opened before or after the writer; its reads see every transaction
 *   committed before the call. (lmdb-js shares one LMDB environment per file across a process's threads.)
 * - `patient(nhs)`: one patient's current records (as `patients()` gives them), or `undefined`; for the record view.
 * - `holder(id, source?)`: the NHS number an identity is held for (a live event or a kept retraction), or
 *   `undefined`; from another partition's `alongsideWriter` handle, the cross-partition identity check.
 * - `patients()`: every current record, patient by patient (patient record, live events, retractions); the replay
 *   source for a rebuild. `organisations()`, `quarantined()`, `asOf`/`setAsOf`. An event's handle is kept in its value:
 *   a redelivery, correction or retraction of the same identity gets the same handle back.
 * - `verify()`: reads every value and checks its checksum, the indexes against the events, and the counts; reports
 *   every damaged key. Reading a damaged value anywhere else throws `CG_STORE_DAMAGED` naming the key.
 * - `close()` gives up write ownership.
 *
 * Layout (LMDB databases in one environment): `events` [id, source] → event or tombstone; `patients` nhs →
 * patient record (or a placeholder while only events have arrived); `byPatient` [nhs, id, source] → key checksum;
 * `organisations` code → record; `quarantine` seq → refusal; `meta`.
 */
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  CaregapsError,
  type CaregapsRecord,
  type EventRecord,
  type OrganisationRecord,
  type PatientRecord,
  type QuarantinedRecord,
  type RetractRecord,
} from '@caregaps/core';
import { open, type Database, type Key, type RootDatabase } from 'lmdb';
import { KIND, bodyText, damaged, frame, header, intact, keyCheck, keyCheckHolds, type Header } from './frame.js';
import { isAlive, ownerOfThisProcess, type Owner } from './owner.js';

/**
 * What writing one record did. `stored`: new; `replaced`: a held record of the same identity and patient replaced;
 * `moved`: a declared correction (`correctsNhsNumber`) moved the event from another patient; `retracted`: a
 * retraction removed live events (`removed`); `kept`: a retraction with nothing live to remove, kept so it holds
 * whichever arrives first; `suppressed`: an event whose identity is retracted, or a repeated retraction (nothing
 * changes); `stale`: an older `version` than the held one, not applied; `conflict`: the identity is held for
 * another NHS number, quarantined (`CG_RECORD_ID_CONFLICT`).
 */
export type Outcome = 'stored' | 'replaced' | 'moved' | 'retracted' | 'kept' | 'suppressed' | 'stale' | 'conflict';

export interface RecordStoreOptions {
  /** The store's directory (created if missing); each partition is a file in it. */
  directory: string;
  /** The partition number: `<directory>/partition-<n>.mdb`. Default 0. */
  partition?: number;
  /** Open for reading only (verify, inspection): no write ownership is taken. */
  readOnly?: boolean;
  /**
   * Commits are flushed to disk before `writeSync` returns (default true). `false` skips LMDB's fsync: for a store
   * that need not outlive the process (an in-memory engine's private scratch store).
   */
  durable?: boolean;
  /**
   * A reader in the process that writes the store (another partition's thread, the record view); implies `readOnly`.
   * lmdb-js keeps one LMDB environment per file for the whole process and every later open shares it, so a reader
   * opened with LMDB's read-only flag first would keep the writer from opening: this reader opens the environment as
   * the writer does (it still never writes). Its reads (`patient`, `holder`) see every transaction committed before
   * the call.
   */
  alongsideWriter?: boolean;
}

/** A batch to write: records, optionally their received bytes, and refusals to keep in the quarantine. */
export interface Batch {
  records: readonly CaregapsRecord[];
  /** `bytes[i]`: the received UTF-8 JSON of `records[i]`, stored as it is. */
  bytes?: readonly (Uint8Array | undefined)[];
  quarantined?: readonly QuarantinedRecord[];
}

export interface WriteResult {
  outcomes: Outcome[];
  /** Per record: the event handle of an event or a retraction with a source, else -1. */
  handles: Int32Array;
  /** Per `moved` record: the NHS number the event was held for. Per `retracted` record: the handles removed. */
  details: Map<number, { from?: string; removed?: number[] }>;
  /** The conflicts, as quarantined (also kept in the store). */
  quarantined: QuarantinedRecord[];
}

/** One patient's current records, as replayed. */
export interface StoredPatient {
  nhsNumber: string;
  patient: PatientRecord | undefined;
  events: EventRecord[];
  /** Retractions kept for this patient (their events are not live). */
  retractions: RetractRecord[];
  /** `handles[i]`: the store handle of `events[i]`. */
  handles: number[];
}

/** A damaged value or structure found by `verify` (or at open). */
export interface Damage {
  db: string;
  key: string;
  problem: string;
}

export interface VerifyReport {
  /** Values read and checked. */
  checked: number;
  damage: Damage[];
}

interface StoreState {
  txn: number;
  asOf: string | undefined;
  nextHandle: number;
  nextQuarantine: number;
  /** Retractions without source kept: while 0, events skip looking for one. */
  wildcards: number;
  counts: Record<DbName, number>;
}

const DBS = ['events', 'patients', 'byPatient', 'organisations', 'quarantine', 'meta'] as const;
type DbName = (typeof DBS)[number];
const FORMAT = 'caregaps-record-store/1';
const OLD_FORMAT = /^(segment-\d{8}\.log|snapshot-\d{8}\.snap)$/;
const UNNAMED = '';
/** The greatest string key part (ordered-binary): the end of a key-prefix range. */
const LAST = '\u{10FFFF}';

const eventText = (id: string, source: string) => `e\u0000${id}\u0000${source}`;
const patientText = (nhs: string) => `p\u0000${nhs}`;
const indexText = (nhs: string, id: string, source: string) => `i\u0000${nhs}\u0000${id}\u0000${source}`;
const orgText = (code: string) => `o\u0000${code}`;
const quarantineText = (seq: number) => `q\u0000${seq}`;
const metaText = (name: string) => `m\u0000${name}`;

/** The file of one partition's store. */
export function partitionFile(directory: string, partition = 0): string {
  return join(directory, `partition-${partition}.mdb`);
}

/** Whether a directory holds a store in the old log+snapshot format. */
export function isOldFormat(directory: string): boolean {
  return existsSync(directory) && readdirSync(directory).some((f) => OLD_FORMAT.test(f));
}

export class RecordStore {
  private readonly env: RootDatabase;
  private readonly dbs: Record<DbName, Database<Buffer, Key>>;
  private state: StoreState;
  /** The NHS number of the last event indexed in this transaction (known to be in `patients`). */
  private lastIndexed = '';
  private readonly owner: Owner | undefined;
  private closed = false;

  private constructor(
    readonly file: string,
    readonly readOnly: boolean,
    alongsideWriter: boolean,
    durable: boolean,
  ) {
    this.env = openEnvironment(file, readOnly && !alongsideWriter, durable);
    try {
      this.checkSize();
      this.dbs = Object.fromEntries(
        DBS.map((name) => [name, this.env.openDB({ name, encoding: 'binary', keyEncoding: name === 'quarantine' ? 'uint32' : 'ordered-binary' })]),
      ) as Record<DbName, Database<Buffer, Key>>;
      if (readOnly) {
        this.state = this.readStateWhileWritten();
        this.owner = undefined;
      } else {
        this.state = EMPTY_STATE;
        this.owner = this.takeOwnership();
      }
    } catch (error) {
      void this.env.close();
      throw wrap(error, file);
    }
  }

  /** Opens (creating if missing) one partition's store. */
  static open(options: RecordStoreOptions): RecordStore {
    const { directory } = options;
    if (isOldFormat(directory)) {
      throw new CaregapsError(
        'CG_STORE_OLD_FORMAT',
        `${directory} holds an engine store in the old log+snapshot format: run \`caregaps store migrate ${directory} <new directory>\` and open the new directory`,
      );
    }
    const file = partitionFile(directory, options.partition);
    const alongsideWriter = options.alongsideWriter === true;
    const readOnly = options.readOnly === true || alongsideWriter;
    if (readOnly) {
      // A reader never creates a store (LMDB would write a new, empty one into an empty file).
      if (!existsSync(file) || statSync(file).size === 0) throw new CaregapsError('CG_INPUT', `${file}: no record store here`);
    } else mkdirSync(directory, { recursive: true });
    return new RecordStore(file, readOnly, alongsideWriter, options.durable !== false);
  }

  /**
   * LMDB maps the file and would fault reading a page past its end: a truncated file is refused before that. Another
   * process may be committing as we look (the page count can move before the file's size does), so a short file is
   * damage only if it stays short.
   */
  private checkSize(): void {
    for (let attempt = 0; ; attempt++) {
      const stats = this.env.getStats() as { pageSize: number; lastPageNumber: number };
      const needed = (stats.lastPageNumber + 1) * stats.pageSize;
      const size = statSync(this.file).size;
      if (size >= needed) return;
      if (attempt === 3) throw damaged('file', this.file, `is ${size} bytes, but LMDB's last page ends at byte ${needed} (truncated)`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    }
  }

  /**
   * Reading only, a writer may commit between reading the state and LMDB's counters: a mismatch is damage only if
   * it holds on a fresh read.
   */
  private readStateWhileWritten(): StoreState {
    for (let attempt = 0; ; attempt++) {
      try {
        return this.readState() ?? { ...structuredClone(EMPTY_STATE) };
      } catch (error) {
        if (attempt >= 4 || !(error instanceof CaregapsError) || error.code !== 'CG_STORE_DAMAGED') throw error;
        this.env.resetReadTxn();
      }
    }
  }

  /** The committed state, checked against LMDB's own counters; `undefined` for a new, empty store. */
  private readState(): StoreState | undefined {
    const format = this.dbs.meta.getBinary('format');
    const state = this.dbs.meta.getBinary('state');
    if (format === undefined && state === undefined) {
      const empty = Object.values(this.dbs).every((db) => (db.getStats() as { entryCount: number }).entryCount === 0);
      if (!empty) throw damaged('meta', metaText('state'), 'is missing while the store holds records');
      return undefined;
    }
    if (format === undefined || !intact(metaText('format'), format)) throw damaged('meta', metaText('format'));
    if (bodyText(format) !== FORMAT) throw new CaregapsError('CG_STORE_OLD_FORMAT', `${this.file} is a record store of format ${bodyText(format)}, not ${FORMAT}`);
    if (state === undefined || !intact(metaText('state'), state)) throw damaged('meta', metaText('state'));
    const parsed = JSON.parse(bodyText(state)) as StoreState;
    const lastTxn = (this.env.getStats() as { lastTxnId: number }).lastTxnId;
    if (parsed.txn !== lastTxn) {
      throw damaged('meta', metaText('state'), `was written by transaction ${parsed.txn} but LMDB's last is ${lastTxn} (its meta page or state was altered)`);
    }
    for (const name of DBS) {
      const entries = (this.dbs[name].getStats() as { entryCount: number }).entryCount;
      if (entries !== parsed.counts[name]) throw damaged(name, '*', `holds ${entries} entries, but the store committed ${parsed.counts[name]}`);
    }
    return parsed;
  }

  /** Writes the state (with this transaction's id) as the last write of a transaction. */
  private commitState(state: StoreState): void {
    const hadState = this.dbs.meta.getBinary('state') !== undefined;
    if (!hadState) state.counts.meta++;
    state.txn = this.env.getWriteTxnId();
    this.dbs.meta.putSync('state', frame(metaText('state'), KIND.meta, JSON.stringify(state)));
  }

  /**
   * Checks the store and takes the write lease in one write transaction: no other process can commit in between,
   * so LMDB's counters and the committed state are compared at one point in time.
   */
  private takeOwnership(): Owner {
    const mine = ownerOfThisProcess();
    this.transact(() => {
      const found = this.readState();
      if (found === undefined) {
        this.state = structuredClone(EMPTY_STATE);
        this.dbs.meta.putSync('format', frame(metaText('format'), KIND.meta, FORMAT));
        this.state.counts.meta = 1;
      } else this.state = found;
      const held = this.readOwner();
      if (held !== undefined && isAlive(held)) {
        throw new CaregapsError('CG_ENGINE_LOCKED', `${this.file} is in use for writing by process ${held.pid}`);
      }
      if (held === undefined) this.state.counts.meta++;
      this.dbs.meta.putSync('owner', frame(metaText('owner'), KIND.meta, JSON.stringify(mine)));
    }, false);
    return mine;
  }

  private readOwner(): Owner | undefined {
    const value = this.dbs.meta.getBinary('owner');
    if (value === undefined) return undefined;
    if (!intact(metaText('owner'), value)) throw damaged('meta', metaText('owner'));
    return JSON.parse(bodyText(value)) as Owner;
  }

  /**
   * Runs `body` in one write transaction that also commits the state; the state in memory changes only if it
   * commits. Unless `fenced` is false, the transaction first checks the write lease is still ours.
   */
  private transact<T>(body: () => T, fenced = true): T {
    this.assertWritable();
    this.lastIndexed = '';
    const before = structuredClone(this.state);
    try {
      return this.env.transactionSync(() => {
        if (fenced && this.readOwner()?.token !== this.owner?.token) {
          throw new CaregapsError('CG_ENGINE_LOCKED', `${this.file}: another process has taken over writing this store`);
        }
        const result = body();
        this.commitState(this.state);
        return result;
      });
    } catch (error) {
      this.state = before;
      if (error instanceof CaregapsError) throw error;
      throw new CaregapsError('CG_STORE_WRITE', `Could not commit to the record store ${this.file}: ${(error as Error).message}`);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new CaregapsError('CG_ENGINE_CLOSED', `The record store ${this.file} is closed`);
  }

  private assertWritable(): void {
    this.assertOpen();
    if (this.readOnly) throw new CaregapsError('CG_USAGE', `The record store ${this.file} is open for reading only`);
  }

  /** Writes a batch in one transaction; returns once it has committed durably. */
  writeSync(batch: Batch): WriteResult {
    const result: WriteResult = { outcomes: [], handles: new Int32Array(batch.records.length).fill(-1), details: new Map(), quarantined: [] };
    this.transact(() => {
      const { records, bytes } = batch;
      for (let i = 0; i < records.length; i++) result.outcomes.push(this.put(records[i]!, bytes?.[i], i, result));
      for (const q of batch.quarantined ?? []) this.keepQuarantined(q);
      for (const q of result.quarantined) this.keepQuarantined(q);
    });
    return result;
  }

  private put(record: CaregapsRecord, bytes: Uint8Array | undefined, i: number, result: WriteResult): Outcome {
    switch (record.kind) {
      case 'event':
        return this.putEvent(record, bytes, i, result);
      case 'retract':
        return this.putRetraction(record, bytes, i, result);
      case 'patient':
        return this.putPatient(record, bytes);
      case 'organisation': {
        const text = orgText(record.code);
        if (this.dbs.organisations.getBinary(record.code) === undefined) this.state.counts.organisations++;
        this.dbs.organisations.putSync(record.code, frame(text, KIND.organisation, bytes ?? JSON.stringify(record)));
        return 'stored';
      }
    }
  }

  /** The held value of an event identity, checked; `undefined` when none. */
  private held(id: string, source: string): { head: Header; value: Buffer } | undefined {
    const value = this.dbs.events.getBinaryFast([id, source]); // read at once: the buffer is reused by the next read
    if (value === undefined) return undefined;
    if (!intact(eventText(id, source), value)) throw damaged('events', eventText(id, source));
    return { head: header(value), value };
  }

  private putEvent(event: EventRecord, bytes: Uint8Array | undefined, i: number, result: WriteResult): Outcome {
    const source = event.source ?? UNNAMED;
    const held = this.held(event.id, source);
    if (held !== undefined) result.handles[i] = held.head.handle;
    if (held?.head.kind === KIND.tombstone) {
      return held.head.nhsNumber === event.nhsNumber || held.head.nhsNumber === event.correctsNhsNumber ? 'suppressed' : this.conflict(event, held.head.nhsNumber, result);
    }
    if (held === undefined && source !== UNNAMED && this.state.wildcards > 0) {
      const wildcard = this.held(event.id, UNNAMED);
      if (wildcard?.head.kind === KIND.tombstone && (wildcard.head.nhsNumber === event.nhsNumber || wildcard.head.nhsNumber === event.correctsNhsNumber)) return 'suppressed';
    }
    let outcome: Outcome = 'stored';
    if (held !== undefined) {
      const holder = held.head.nhsNumber;
      if (holder !== event.nhsNumber && holder !== event.correctsNhsNumber) return this.conflict(event, holder, result);
      if (event.version !== undefined && held.head.version !== undefined && event.version < held.head.version) return 'stale';
      outcome = holder === event.nhsNumber ? 'replaced' : 'moved';
      if (outcome === 'moved') {
        this.unindex(holder, event.id, source);
        result.details.set(i, { from: holder });
      }
    }
    const handle = held?.head.handle ?? this.newHandle();
    result.handles[i] = handle;
    this.dbs.events.putSync([event.id, source], frame(eventText(event.id, source), KIND.event, bytes ?? JSON.stringify(event), handle, event.version, event.nhsNumber));
    if (outcome !== 'replaced') this.index(event.nhsNumber, event.id, source);
    return outcome;
  }

  private putRetraction(record: RetractRecord, bytes: Uint8Array | undefined, i: number, result: WriteResult): Outcome {
    const source = record.source ?? UNNAMED;
    const removed: number[] = [];
    // Without a source, the id's live events in every source, for this patient only.
    const sources = record.source === undefined ? [...this.dbs.events.getKeys({ start: [record.id], end: [record.id, LAST] })].map((k) => (k as [string, string])[1]) : [source];
    for (const s of sources) {
      const held = this.held(record.id, s);
      if (held?.head.kind !== KIND.event || held.head.nhsNumber !== record.nhsNumber) continue;
      removed.push(held.head.handle);
      if (s !== source) this.putTombstone(record.id, s, JSON.stringify({ ...record, source: s }), held.head.handle, record.nhsNumber, false);
    }
    const own = this.held(record.id, source);
    if (own !== undefined) result.handles[i] = own.head.handle;
    if (own !== undefined && own.head.nhsNumber !== record.nhsNumber) {
      if (removed.length === 0) return this.conflict(record, own.head.nhsNumber, result);
      result.details.set(i, { removed });
      return 'retracted';
    }
    if (own?.head.kind === KIND.tombstone && removed.length === 0) return 'suppressed';
    const handle = own?.head.handle ?? this.newHandle();
    result.handles[i] = handle;
    this.putTombstone(record.id, source, bytes ?? JSON.stringify(record), handle, record.nhsNumber, own === undefined);
    if (record.source === undefined && own?.head.kind !== KIND.tombstone) this.state.wildcards++;
    if (removed.length === 0) return 'kept';
    result.details.set(i, { removed });
    return 'retracted';
  }

  private putTombstone(id: string, source: string, body: Uint8Array | string, handle: number, nhsNumber: string, isNew: boolean): void {
    this.dbs.events.putSync([id, source], frame(eventText(id, source), KIND.tombstone, body, handle, undefined, nhsNumber));
    if (isNew) this.index(nhsNumber, id, source);
  }

  private putPatient(record: PatientRecord, bytes: Uint8Array | undefined): Outcome {
    const value = this.dbs.patients.getBinary(record.nhsNumber);
    let head: Header | undefined;
    if (value !== undefined) {
      if (!intact(patientText(record.nhsNumber), value)) throw damaged('patients', patientText(record.nhsNumber));
      head = header(value);
      if (record.version !== undefined && head.version !== undefined && record.version < head.version) return 'stale';
    } else this.state.counts.patients++;
    this.dbs.patients.putSync(record.nhsNumber, frame(patientText(record.nhsNumber), KIND.patient, bytes ?? JSON.stringify(record), 0, record.version, record.nhsNumber));
    return head?.kind === KIND.patient ? 'replaced' : 'stored';
  }

  private conflict(record: EventRecord | RetractRecord, heldFor: string, result: WriteResult): Outcome {
    const named = record.source === undefined ? 'the unnamed source' : `source ${record.source}`;
    result.quarantined.push({
      ok: false,
      code: 'CG_RECORD_ID_CONFLICT',
      reason: `id ${record.id} of ${named} is held for NHS number ${heldFor}, not ${record.nhsNumber}; declare a move with correctsNhsNumber`,
      line: 0,
      recordId: record.id,
      text: JSON.stringify(record).slice(0, 1024),
    });
    return 'conflict';
  }

  /** A handle for a new event identity (and counts the new entry of `events`). */
  private newHandle(): number {
    this.state.counts.events++;
    return this.state.nextHandle++;
  }

  private index(nhsNumber: string, id: string, source: string): void {
    // A feed sends a patient's records together: the last NHS number indexed is known to be in `patients`.
    if (nhsNumber !== this.lastIndexed && this.dbs.patients.getBinary(nhsNumber) === undefined) {
      this.dbs.patients.putSync(nhsNumber, frame(patientText(nhsNumber), KIND.placeholder, '', 0, undefined, nhsNumber));
      this.state.counts.patients++;
    }
    this.lastIndexed = nhsNumber;
    this.dbs.byPatient.putSync([nhsNumber, id, source], keyCheck(indexText(nhsNumber, id, source)));
    this.state.counts.byPatient++;
  }

  private unindex(nhsNumber: string, id: string, source: string): void {
    if (this.dbs.byPatient.removeSync([nhsNumber, id, source])) this.state.counts.byPatient--;
  }

  private keepQuarantined(item: QuarantinedRecord): void {
    const seq = this.state.nextQuarantine++;
    this.dbs.quarantine.putSync(seq as never, frame(quarantineText(seq), KIND.quarantined, JSON.stringify(item)));
    this.state.counts.quarantine++;
  }

  /**
   * Gives up event identities held live for the NHS numbers named (a declared correction moved them to a patient in
   * another partition's store), in one transaction: the event and its index entry go, as if never held here. Returns
   * each identity's handle, or -1 when it was not held live for that NHS number (nothing changes: releasing is
   * idempotent, so a correction redelivered after a crash releases what the first delivery could not).
   */
  releaseSync(identities: readonly { id: string; source: string | undefined; nhsNumber: string }[]): Int32Array {
    const handles = new Int32Array(identities.length).fill(-1);
    this.transact(() => {
      identities.forEach(({ id, source, nhsNumber }, i) => {
        const s = source ?? UNNAMED;
        const held = this.held(id, s);
        if (held?.head.kind !== KIND.event || held.head.nhsNumber !== nhsNumber) return;
        this.dbs.events.removeSync([id, s]);
        this.state.counts.events--;
        this.unindex(nhsNumber, id, s);
        handles[i] = held.head.handle;
      });
    });
    return handles;
  }

  /** The achievement date the store was last at. */
  get asOf(): string | undefined {
    return this.state.asOf;
  }

  /** Records the achievement date (durably: returns after its transaction commits). */
  setAsOf(asOf: string): void {
    this.transact(() => {
      this.state.asOf = asOf;
    });
  }

  /** Records in the store: event identities (live or retracted) and patients. */
  get counts(): Readonly<Record<DbName, number>> {
    return this.state.counts;
  }

  /** Every current record, patient by patient in NHS number order (the replay source). */
  patients(): Generator<StoredPatient> {
    return guarded(this.file, () => this.readPatients());
  }

  private *readPatients(): Generator<StoredPatient> {
    for (const { key, value } of this.dbs.patients.getRange()) yield this.readPatient(key as string, value);
  }

  /**
   * One patient's current records (patient record, live events, retractions kept), as `patients()` gives them;
   * `undefined` when the store holds nothing for this NHS number. The record view reads here.
   */
  patient(nhsNumber: string): StoredPatient | undefined {
    this.assertOpen();
    this.freshRead();
    return guardedCall(this.file, () => {
      const value = this.dbs.patients.getBinary(nhsNumber);
      return value === undefined ? undefined : this.readPatient(nhsNumber, value);
    });
  }

  /**
   * The NHS number an identity (source + id; `source` omitted for the unnamed source) is held for — a live event or
   * a kept retraction — or `undefined` when the store holds neither. Usable from another partition's handle
   * (`alongsideWriter`) to check an identity across partitions: it sees every transaction committed before the call
   * (a write still in progress on another thread is not seen until it commits).
   */
  holder(id: string, source?: string): string | undefined {
    this.assertOpen();
    this.freshRead();
    return guardedCall(this.file, () => this.held(id, source ?? UNNAMED)?.head.nhsNumber);
  }

  /** A reader's next read starts a new LMDB read transaction, so it sees what the writer committed since. */
  private freshRead(): void {
    if (this.readOnly) this.env.resetReadTxn();
  }

  private readPatient(nhsNumber: string, value: Buffer): StoredPatient {
    if (!intact(patientText(nhsNumber), value)) throw damaged('patients', patientText(nhsNumber));
    const patient = header(value).kind === KIND.patient ? (JSON.parse(bodyText(value)) as PatientRecord) : undefined;
    const stored: StoredPatient = { nhsNumber, patient, events: [], retractions: [], handles: [] };
    for (const { key: ik, value: iv } of this.dbs.byPatient.getRange({ start: [nhsNumber], end: [nhsNumber, LAST] })) {
      const [, id, source] = ik as [string, string, string];
      if (!keyCheckHolds(indexText(nhsNumber, id, source), iv)) throw damaged('byPatient', indexText(nhsNumber, id, source));
      const held = this.held(id, source);
      if (held === undefined || held.head.nhsNumber !== nhsNumber) throw damaged('byPatient', indexText(nhsNumber, id, source), 'names an event the store does not hold for this patient');
      const record = JSON.parse(bodyText(held.value)) as EventRecord | RetractRecord;
      if (held.head.kind === KIND.event) {
        stored.events.push(record as EventRecord);
        stored.handles.push(held.head.handle);
      }
      else stored.retractions.push(record as RetractRecord);
    }
    return stored;
  }

  organisations(): OrganisationRecord[] {
    return [...guarded(this.file, () => this.readOrganisations())];
  }

  private *readOrganisations(): Generator<OrganisationRecord> {
    for (const { key, value } of this.dbs.organisations.getRange()) {
      if (!intact(orgText(key as string), value)) throw damaged('organisations', orgText(key as string));
      yield JSON.parse(bodyText(value)) as OrganisationRecord;
    }
  }

  quarantined(): Generator<QuarantinedRecord> {
    return guarded(this.file, () => this.readQuarantined());
  }

  private *readQuarantined(): Generator<QuarantinedRecord> {
    for (const { key, value } of this.dbs.quarantine.getRange()) {
      if (!intact(quarantineText(key as number), value)) throw damaged('quarantine', quarantineText(key as number));
      yield JSON.parse(bodyText(value)) as QuarantinedRecord;
    }
  }

  /** Reads every value and index entry, checks checksums, cross-references and counts; reports every damage. */
  verify(): VerifyReport {
    const report: VerifyReport = { checked: 0, damage: [] };
    const note = (db: string, key: string, problem: string) => report.damage.push({ db, key: key.replaceAll('\u0000', ' | '), problem });
    /** Event identities whose value is damaged: their index and handle entries cannot be checked against it. */
    const unreadable = new Set<string>();
    const scan = (name: DbName, text: (key: unknown) => string, check: (key: unknown, value: Buffer) => void = () => undefined) => {
      let entries = 0;
      try {
        for (const { key, value } of this.dbs[name].getRange()) {
          entries++;
          report.checked++;
          const kt = text(key);
          const ok = name === 'byPatient' ? keyCheckHolds(kt, value) : intact(kt, value);
          if (!ok) {
            note(name, kt, 'fails its checksum');
            if (name === 'events') unreadable.add(kt);
          } else check(key, value);
        }
      } catch (error) {
        note(name, '*', `cannot be read: ${(error as Error).message}`);
      }
      if (entries !== this.state.counts[name]) note(name, '*', `holds ${entries} entries, but the store committed ${this.state.counts[name]}`);
    };
    const indexed = new Set<string>();
    scan('byPatient', (k) => indexText(...(k as [string, string, string])), (k) => {
      const [nhs, id, source] = k as [string, string, string];
      indexed.add(indexText(nhs, id, source));
    });
    scan('events', (k) => eventText(...(k as [string, string])), (k, value) => {
      const [id, source] = k as [string, string];
      const head = header(value);
      if (!indexed.delete(indexText(head.nhsNumber, id, source))) note('byPatient', indexText(head.nhsNumber, id, source), 'is missing for a held event');
    });
    for (const left of indexed) {
      const [, , id, source] = left.split('\u0000') as [string, string, string, string];
      if (!unreadable.has(eventText(id, source))) note('byPatient', left, 'names an event the store does not hold for this patient');
    }
    scan('patients', (k) => patientText(k as string));
    scan('organisations', (k) => orgText(k as string));
    scan('quarantine', (k) => quarantineText(k as number));
    scan('meta', (k) => metaText(k as string));
    return report;
  }

  /** Gives up write ownership and closes the store. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.owner !== undefined) {
      try {
        this.transact(() => {
          if (this.dbs.meta.removeSync('owner')) this.state.counts.meta--;
        });
      } catch {
        // another process took the store over: the lease is theirs now
      }
    }
    this.closed = true;
    await this.env.close();
  }
}

const EMPTY_STATE: StoreState = {
  txn: 0,
  asOf: undefined,
  nextHandle: 0,
  nextQuarantine: 0,
  wildcards: 0,
  counts: Object.fromEntries(DBS.map((n) => [n, 0])) as Record<DbName, number>,
};

/**
 * lmdb-js shares one LMDB environment per file across the process: a writer opening a file that a reader in this
 * process opened with LMDB's read-only flag fails inside lmdb-js, and is told why.
 */
function openEnvironment(file: string, lmdbReadOnly: boolean, durable: boolean): RootDatabase {
  try {
    return open({ path: file, maxDbs: DBS.length, overlappingSync: false, readOnly: lmdbReadOnly, noSync: !durable });
  } catch (error) {
    const message = (error as Error).message ?? String(error);
    if (!lmdbReadOnly && /No transaction to renew/.test(message)) {
      throw new CaregapsError(
        'CG_USAGE',
        `${file} is open for reading only in this process, so it cannot be opened for writing here: open readers beside a writer with \`alongsideWriter: true\``,
      );
    }
    throw wrap(error, file);
  }
}

/** LMDB's own reports of a damaged file (its error names, or lmdb-js's for a value it cannot decode). */
const LMDB_DAMAGE = /MDB_(CORRUPTED|PAGE_NOTFOUND|INVALID|VERSION_MISMATCH|BAD_VALSIZE|BAD_TXN|PANIC)|Invalid argument|out of range/i;

/** LMDB's errors on a damaged file become CG_STORE_DAMAGED; any other failure to open says so with its cause. */
function wrap(error: unknown, file: string): Error {
  if (error instanceof CaregapsError) return error;
  const message = (error as Error).message ?? String(error);
  if (LMDB_DAMAGE.test(message)) return new CaregapsError('CG_STORE_DAMAGED', `Record store ${file} is damaged: ${message}`);
  return new CaregapsError('CG_INPUT', `Record store ${file} cannot be opened: ${message}`);
}

/** Runs one read, turning LMDB's errors on a damaged page into CG_STORE_DAMAGED. */
function guardedCall<T>(file: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof CaregapsError) throw error;
    throw new CaregapsError('CG_STORE_DAMAGED', `Record store ${file} could not be read: ${(error as Error).message ?? String(error)}`);
  }
}

/** Runs a read, turning LMDB's errors on a damaged page into CG_STORE_DAMAGED (never an uncoded failure). */
function* guarded<T>(file: string, read: () => Generator<T>): Generator<T> {
  try {
    yield* read();
  } catch (error) {
    if (error instanceof CaregapsError) throw error;
    throw new CaregapsError('CG_STORE_DAMAGED', `Record store ${file} could not be read: ${(error as Error).message ?? String(error)}`);
  }
}
