/**
 * The record store (DESIGN §4): every record as received, on LMDB (the `lmdb` package), one store per partition.
 *
 * API (what the engine's partitions build on):
 * - `RecordStore.open({ directory, partition, readOnly, noSync })` opens `<directory>/partition-<n>.mdb` (created if
 *   missing) and takes write ownership (a lease inside the store, see `owner.ts`; `CG_ENGINE_LOCKED` while another
 *   live process holds it). A directory holding the old log+snapshot format is refused with `CG_STORE_OLD_FORMAT`.
 *   Opening checks the file against LMDB's own page count (truncation), LMDB's last transaction id and every
 *   database's entry count against what the store last committed (`CG_STORE_DAMAGED`). Nothing else in the
 *   directory is read, written or deleted. `noSync: true` (a temporary store, never a durable one) commits without
 *   flushing to disk: a crash of the machine may lose acknowledged batches.
 * - `writeSync(batch)`: one LMDB transaction per batch; returns only after it commits
 *   durably, with one `Outcome` per record and, per event or retraction, its integer handle (`handles`, -1 for
 *   other kinds). Records are decided by identity (source + id; the unnamed source `''` for records without one)
 *   and `version` (DESIGN §3.1 v1.1): see `Outcome`. Give each record's received bytes in `batch.bytes` when you
 *   have them: they are stored as they are (nothing is encoded twice); otherwise the record is stored as JSON.
 *   Conflicts are quarantined in the store, in the same transaction, with validation refusals given in
 *   `batch.quarantined`. NHS numbers must be 10 digits (records checked by `checkRecord` are).
 * - `RecordStore.open({ ..., alongsideWriter: true })`: a reader in the process that writes the store (another
 *   partition's worker thread, the record view), opened before or after the writer; its reads see every transaction
 *   committed before the call. (lmdb-js shares one LMDB environment per file across a process's threads.)
 * - `patient(nhs)`: one patient's current records (as `patients()` gives them), or `undefined`; for the record view.
 *   `eventId(nhs, handle)`: the id of the event a patient holds under a handle (the hot state keeps handles only).
 * - `holder(id, source?)`: the NHS number an identity is held for (a live event or a kept retraction), or
 *   `undefined`; from another partition's `alongsideWriter` handle, the cross-partition identity check.
 *   `holders([{ id, source }])`: the same for many identities, from one snapshot.
 * - `releaseSync([{ id, source, nhsNumber }])`: gives up live event identities in one transaction (a correction moved
 *   them to a patient of another partition); idempotent.
 * - `patients()`: every current record, patient by patient in NHS number order (patient record, live events with
 *   their handles, retractions), parsed, read in one pass over the store's key order. `replay(visit)`: the same records
 *   unparsed, each checked and handed over in place (no Buffer or object per record): the rebuild's read path. `organisations()`,
 *   `quarantined()`, `asOf`/`setAsOf`. A redelivery, correction or retraction of an identity gets its handle back.
 * - `verify()`: reads every value and checks its checksum, every identity against its record and back, and the
 *   counts; reports every damaged key. Reading a damaged value anywhere else throws `CG_STORE_DAMAGED` naming it.
 * - `close()` gives up write ownership.
 *
 * Layout (LMDB databases in one environment; keys are bytes, values framed by `frame.ts`):
 * - `records`: NHS number (10 ASCII digits) → the patient record; NHS number + handle (u32 BE) → an event or a kept
 *   retraction. A patient's records are one key range, the patient record first.
 * - `identities`: id length (u16 BE) + id + source (UTF-8) → kind, handle (u32 LE), NHS number and version: what
 *   deciding a record needs, in one read. A new identity is found by inserting it (LMDB's no-overwrite put), so a
 *   new event costs two puts and no read.
 * - `organisations` code → record; `quarantine` seq (u32 BE) → refusal; `meta` (format, state, owner).
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
import { open, type RootDatabase } from 'lmdb';
import { holdTransaction, type HeldTransaction } from './held-transaction.js';
import { Framer, KEY_ENCODER, KIND, asBuffer, damaged, intact, keyOf, payload, payloadStart, payloadText, versionOf, type KeyBytes } from './frame.js';
import { IN_PLACE_OPTIONS, InPlaceReader, type InPlaceKey, type InPlaceValue } from './in-place.js';
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
   * A reader in the process that writes the store (another partition's thread, the record view); implies `readOnly`.
   * lmdb-js keeps one LMDB environment per file for the whole process and every later open shares it, so a reader
   * opened with LMDB's read-only flag first would keep the writer from opening: this reader opens the environment as
   * the writer does (it still never writes). Its reads (`patient`, `holder`, `holders`) see every batch whose
   * `writeSync` returned before the call, renewing LMDB's snapshot only when this process's writer has committed
   * since (a count in memory the process's handles share). For a writer in another process, open with `readOnly`.
   */
  alongsideWriter?: boolean;
  /**
   * Commit without flushing to disk (LMDB's `noSync`), for a temporary store only (an engine whose state need not
   * outlive the machine): a batch is still committed before `writeSync` returns, and survives the process being
   * killed, but a crash of the machine or its power may lose acknowledged batches. Never for a durable store.
   * Readers ignore it (the environment takes the flags of whoever opens it first in the process).
   */
  noSync?: boolean;
  /**
   * With `noSync` only: writes go into one LMDB transaction kept open across `writeSync` calls, committed by a
   * timer 50 ms after it began (when this thread's event loop runs), once it holds `HELD_RECORDS` records, by
   * `commit()`, before any other write transaction, and at `close` — not once per batch. Reads through this
   * handle see every write at once; other handles (another thread's, or a reader opened beside the writer) see only
   * what is committed, so a thread that reads this store from here uses `RecordStore.writerHere` rather than a
   * reader of its own (opening one waits for LMDB's writer lock, which an open transaction holds: open readers
   * before writing). A write that fails inside the open transaction loses every write since its last commit: the
   * store then refuses every later write (`CG_STORE_WRITE`).
   */
  deferCommits?: boolean;
}

/** A batch to write: records, optionally their received bytes, and refusals to keep in the quarantine. */
export interface Batch {
  records: readonly CaregapsRecord[];
  /** `bytes[i]`: the received UTF-8 JSON of `records[i]`, stored as it is. */
  bytes?: readonly (Uint8Array | undefined)[];
  quarantined?: readonly QuarantinedRecord[];
  /**
   * Indexes of events a declared correction moves here from another partition's store, where their identity is held
   * live: as in one store, where a held identity moves, a retraction of the id in every source kept for the new
   * patient does not suppress them.
   */
  movedIn?: ReadonlySet<number>;
}

export interface WriteResult {
  outcomes: Outcome[];
  /** Per record: the event handle of an event or a retraction, else -1. */
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
  /** `handles[i]`: the store handle of `events[i]` (what `writeSync` gave it). */
  handles: number[];
}

/**
 * One stored record as `replay` hands it over: the same object for every record, its `bytes` a view into lmdb-js's
 * read buffer, valid only until `visit` returns.
 */
export interface ReplayedRecord {
  /** `KIND.patient`, `KIND.event` or `KIND.tombstone` (a kept retraction). */
  kind: number;
  /** The patient's NHS number (one string per patient). */
  nhsNumber: string;
  /** The first record of this patient (a patient's records are one run). */
  first: boolean;
  /** The event's or retraction's handle; -1 for the patient record. */
  handle: number;
  /** The checked value; the record as received (JSON) is `bytes[start, end)`. */
  bytes: Buffer;
  start: number;
  end: number;
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

/** What the store uses of an lmdb-js database opened with `KEY_ENCODER` keys and binary values. */
interface Db {
  getBinary(key: KeyBytes): Buffer | undefined;
  /** A view into a buffer reused by the next read. */
  getBinaryFast(key: KeyBytes): Buffer | undefined;
  putSync(key: KeyBytes, value: Buffer, options?: { noOverwrite: boolean }): boolean;
  removeSync(key: KeyBytes): boolean;
  getRange(options: { start: KeyBytes | Buffer; end?: KeyBytes | Buffer }): Iterable<{ key: Buffer; value: Buffer }>;
  getKeys(options: { start: Buffer; end: Buffer }): Iterable<Buffer>;
  /** lmdb-js: memory shared by every handle on this file in the process (all threads), made by the first to ask. */
  getUserSharedBuffer(key: Buffer, defaultBuffer: ArrayBuffer): ArrayBuffer;
  getStats(): { entryCount: number };
}

/** The records database read in place: keys and values as the shared views of `in-place.ts`. */
interface InPlaceDb {
  getRange(options: { start: KeyBytes | Buffer; end?: KeyBytes | Buffer }): Iterable<{ key: InPlaceKey; value: InPlaceValue }>;
}

/** An identity's value, read back. */
interface Held {
  kind: number;
  handle: number;
  nhsNumber: string;
  version: number | undefined;
}

const DBS = ['records', 'identities', 'organisations', 'quarantine', 'meta'] as const;
type DbName = (typeof DBS)[number];
const FORMAT = 'caregaps-record-store/2';
const OLD_FORMAT = /^(segment-\d{8}\.log|snapshot-\d{8}\.snap)$/;
const UNNAMED = '';
const NHS_BYTES = 10;
const CRC_BYTES = 4;
const RECORD_KEY_BYTES = NHS_BYTES + 4;
/** Greater than any handle suffix of a record key, or any source bytes of an identity key: ends a prefix range. */
const PAST = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff]);
const NO_OVERWRITE = { noOverwrite: true };
/** A range over a whole database: every key is at least one byte, so at least [0] (lmdb-js's own default start is not). */
const EVERY_KEY = { start: Buffer.from([0]) };
const COMMITS_KEY = Buffer.from('commits in this process');
/**
 * Records a deferred-commit store writes into one open transaction before it commits: it bounds LMDB's dirty pages
 * (about two 4 KiB pages per record), and in a loop that never lets the event loop run, one write in this many pays
 * for the commit.
 */
export const HELD_RECORDS = 4096;
/** Longest a deferred-commit store keeps a transaction open while its thread's event loop runs. */
const HELD_MS = 50;
/** The writers open in this thread, by file (see `RecordStore.writerHere`). */
const WRITERS_HERE = new Map<string, RecordStore>();
const META_KEYS = { format: keyOf(Buffer.from('format')), state: keyOf(Buffer.from('state')), owner: keyOf(Buffer.from('owner')) };

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
  private readonly dbs: Record<DbName, Db>;
  private state: StoreState;
  /** Builds every key and value written (and the keys of the lookups deciding them). */
  private readonly f = new Framer();
  private readonly owner: Owner | undefined;
  private closed = false;
  /**
   * Writes committed by this process's writer of this file, counted in memory shared by every handle on the file in
   * the process: a reader beside the writer renews its LMDB snapshot only when the count has moved.
   */
  private readonly commits: Int32Array;
  /** The count when this reader last renewed its snapshot (-1: never). */
  private seenCommits = -1;
  private readonly alongsideWriter: boolean;
  /** The records database opened a second time, to read in place (`in-place.ts`). */
  private readonly recordsInPlace: InPlaceDb;
  private readonly inPlace = new InPlaceReader();
  /** What `replay` and `patients()` hand over per record (one object, refilled). */
  private readonly replayed: ReplayedRecord = { kind: 0, nhsNumber: '', first: false, handle: -1, bytes: Buffer.alloc(0), start: 0, end: 0 };
  private readonly deferCommits: boolean;
  /** The transaction a deferred-commit store writes into, while one is open. */
  private heldTxn: HeldTransaction | undefined;
  /** Records written into `held`, and the state as its transaction began (what a failure goes back to). */
  private heldRecords = 0;
  private stateBeforeHeld: StoreState | undefined;
  /** Why this store refuses to write: a write into its held transaction failed, and that transaction was lost. */
  private failure: CaregapsError | undefined;

  private constructor(
    readonly file: string,
    readonly readOnly: boolean,
    options: { alongsideWriter: boolean; noSync: boolean; deferCommits: boolean },
  ) {
    this.deferCommits = options.deferCommits;
    // lmdb-js gives every later open in the process the first opener's flags: a reader never asks for noSync, so one
    // opened first cannot leave a durable writer unsynced.
    this.env = openEnvironment(file, readOnly && !options.alongsideWriter, options.noSync && !readOnly);
    try {
      this.checkSize();
      const openDb = (name: DbName) => this.env.openDB({ name, encoding: 'binary', keyEncoder: KEY_ENCODER } as never) as unknown as Db;
      // The format is checked before any other database is opened (which, writing, would create them).
      const meta = openDb('meta');
      checkFormat(file, meta.getBinary(META_KEYS.format));
      this.dbs = Object.fromEntries(DBS.map((name) => [name, name === 'meta' ? meta : openDb(name)])) as Record<DbName, Db>;
      this.recordsInPlace = this.env.openDB({ name: 'records', ...IN_PLACE_OPTIONS } as never) as unknown as InPlaceDb;
      this.alongsideWriter = options.alongsideWriter;
      this.commits = new Int32Array(meta.getUserSharedBuffer(COMMITS_KEY, new ArrayBuffer(4)), 0, 1);
      if (readOnly) {
        this.state = this.readStateWhileWritten();
        this.owner = undefined;
      } else {
        this.state = EMPTY_STATE;
        this.owner = this.takeOwnership();
        WRITERS_HERE.set(file, this);
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
    const noSync = options.noSync === true;
    if (options.deferCommits === true && (readOnly || !noSync)) {
      throw new CaregapsError('CG_USAGE', 'deferCommits is for a temporary store written here: give it with noSync, never for a durable store or a reader');
    }
    return new RecordStore(file, readOnly, { alongsideWriter, noSync, deferCommits: options.deferCommits === true });
  }

  /**
   * The writer of one partition's store open in this thread, if any. Reading through it sees what it has written
   * and not yet committed (a deferred-commit store's open transaction), which a reader of its own would not.
   */
  static writerHere(directory: string, partition = 0): RecordStore | undefined {
    return WRITERS_HERE.get(partitionFile(directory, partition));
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

  /** A meta value's text, checked; `undefined` when absent. */
  private readMeta(name: keyof typeof META_KEYS): string | undefined {
    const key = META_KEYS[name];
    const value = this.dbs.meta.getBinary(key);
    if (value === undefined) return undefined;
    if (!intact(key.buf, value)) throw damaged('meta', name);
    return payloadText(value);
  }

  private writeMeta(name: keyof typeof META_KEYS, text: string): void {
    const f = this.f;
    f.beginKey();
    f.latin1(name);
    f.beginValue(KIND.meta);
    f.utf8(text);
    this.dbs.meta.putSync(f.key, f.endValue());
  }

  /** The committed state, checked against LMDB's own counters; `undefined` for a new, empty store. */
  private readState(): StoreState | undefined {
    const format = this.readMeta('format');
    const state = this.readMeta('state');
    if (format === undefined && state === undefined) {
      const empty = Object.values(this.dbs).every((db) => db.getStats().entryCount === 0);
      if (!empty) throw damaged('meta', 'state', 'is missing while the store holds records');
      return undefined;
    }
    if (format === undefined) throw damaged('meta', 'format', 'is missing');
    if (format !== FORMAT) throw oldRecordStore(this.file, format);
    if (state === undefined) throw damaged('meta', 'state', 'is missing');
    const parsed = JSON.parse(state) as StoreState;
    const lastTxn = (this.env.getStats() as { lastTxnId: number }).lastTxnId;
    if (parsed.txn !== lastTxn) {
      throw damaged('meta', 'state', `was written by transaction ${parsed.txn} but LMDB's last is ${lastTxn} (its meta page or state was altered)`);
    }
    for (const name of DBS) {
      const entries = this.dbs[name].getStats().entryCount;
      if (entries !== parsed.counts[name]) throw damaged(name, '*', `holds ${entries} entries, but the store committed ${parsed.counts[name]}`);
    }
    return parsed;
  }

  /** Writes the state (with this transaction's id) as the last write of a transaction. */
  private commitState(state: StoreState): void {
    if (this.dbs.meta.getBinaryFast(META_KEYS.state) === undefined) state.counts.meta++;
    state.txn = this.env.getWriteTxnId();
    this.writeMeta('state', JSON.stringify(state));
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
        this.writeMeta('format', FORMAT);
        this.state.counts.meta = 1;
      } else this.state = found;
      const held = this.readOwner();
      if (held !== undefined && isAlive(held)) {
        throw new CaregapsError('CG_ENGINE_LOCKED', `${this.file} is in use for writing by process ${held.pid}`);
      }
      if (held === undefined) this.state.counts.meta++;
      this.writeMeta('owner', JSON.stringify(mine));
    }, false);
    return mine;
  }

  private readOwner(): Owner | undefined {
    const text = this.readMeta('owner');
    return text === undefined ? undefined : (JSON.parse(text) as Owner);
  }

  /**
   * Runs `body` in one write transaction that also commits the state; the state in memory changes only if it
   * commits. Unless `fenced` is false, the transaction first checks the write lease is still ours.
   */
  private transact<T>(body: () => T, fenced = true): T {
    this.assertWritable();
    this.commit();
    const before = structuredClone(this.state);
    try {
      const result = this.env.transactionSync(() => {
        if (fenced) this.checkLease();
        const result = body();
        this.commitState(this.state);
        return result;
      });
      // Committed: readers beside this writer renew their snapshot at their next read.
      Atomics.add(this.commits, 0, 1);
      return result;
    } catch (error) {
      this.state = before;
      throw this.writeError(error);
    }
  }

  private checkLease(): void {
    if (this.readOwner()?.token !== this.owner?.token) {
      throw new CaregapsError('CG_ENGINE_LOCKED', `${this.file}: another process has taken over writing this store`);
    }
  }

  /**
   * Runs `body` in the held transaction (begun here if none is open), then commits once it holds `HELD_RECORDS`
   * records. A failure drops the held transaction, and with it every write since the last commit: the store goes
   * back to its last committed state and refuses later writes, naming the failure.
   */
  private transactHeld<T>(records: number, body: () => T): T {
    this.assertWritable();
    if (this.heldTxn === undefined) {
      const before = structuredClone(this.state);
      let held: HeldTransaction | undefined;
      try {
        held = holdTransaction(this.env);
        this.checkLease();
      } catch (error) {
        held?.abort();
        throw this.writeError(error);
      }
      this.heldTxn = held;
      this.stateBeforeHeld = before;
      // Committed by a timer, so a caller that returns to the event loop between records (a live feed) never waits
      // for a commit; one that does not commits every HELD_RECORDS records.
      setTimeout(this.commitWhenIdle, HELD_MS).unref();
    }
    let result: T;
    try {
      result = body();
    } catch (error) {
      this.dropHeld(error);
    }
    this.heldRecords += records;
    if (this.heldRecords >= HELD_RECORDS) this.commit();
    return result;
  }

  /**
   * Commits what a deferred-commit store holds in its open transaction (nothing to do when none is open). The
   * engine calls it before anything outside this thread reads the store.
   */
  commit(): void {
    const held = this.heldTxn;
    if (held === undefined) return;
    try {
      this.commitState(this.state);
      held.commit();
    } catch (error) {
      this.dropHeld(error);
    }
    this.heldTxn = undefined;
    this.heldRecords = 0;
    this.stateBeforeHeld = undefined;
    Atomics.add(this.commits, 0, 1);
  }

  private readonly commitWhenIdle = (): void => {
    try {
      if (!this.closed) this.commit();
    } catch {
      // kept in `failure`: the next write reports it
    }
  };

  private dropHeld(error: unknown): never {
    try {
      this.heldTxn?.abort();
    } catch {
      // the transaction is gone either way
    }
    this.heldTxn = undefined;
    this.heldRecords = 0;
    this.state = this.stateBeforeHeld ?? this.state;
    this.stateBeforeHeld = undefined;
    const cause = error instanceof Error ? error.message : String(error);
    this.failure = new CaregapsError(
      'CG_STORE_WRITE',
      `Could not write to the temporary record store ${this.file} (${cause}): the records written since its last commit are lost, so it takes no more; close the engine and load its records into a new one`,
    );
    throw this.failure;
  }

  private writeError(error: unknown): CaregapsError {
    if (error instanceof CaregapsError) return error;
    return new CaregapsError('CG_STORE_WRITE', `Could not commit to the record store ${this.file}: ${(error as Error).message}`);
  }

  private assertOpen(): void {
    if (this.closed) throw new CaregapsError('CG_ENGINE_CLOSED', `The record store ${this.file} is closed`);
  }

  private assertWritable(): void {
    this.assertOpen();
    if (this.readOnly) throw new CaregapsError('CG_USAGE', `The record store ${this.file} is open for reading only`);
    if (this.failure) throw this.failure;
  }

  /** Writes a batch in one transaction; returns once it has committed durably. */
  writeSync(batch: Batch): WriteResult {
    const { records, bytes } = batch;
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      if (record.kind !== 'organisation') checkNhsNumber(record.nhsNumber, i);
    }
    const result: WriteResult = { outcomes: new Array<Outcome>(records.length), handles: new Int32Array(records.length).fill(-1), details: new Map(), quarantined: [] };
    const body = () => {
      for (let i = 0; i < records.length; i++) result.outcomes[i] = this.put(records[i]!, bytes?.[i], i, result, batch.movedIn?.has(i) === true);
      for (const q of batch.quarantined ?? []) this.keepQuarantined(q);
      for (const q of result.quarantined) this.keepQuarantined(q);
    };
    if (this.deferCommits) this.transactHeld(records.length + (batch.quarantined?.length ?? 0), body);
    else this.transact(body);
    return result;
  }

  private put(record: CaregapsRecord, bytes: Uint8Array | undefined, i: number, result: WriteResult, movedIn: boolean): Outcome {
    switch (record.kind) {
      case 'event':
        return this.putEvent(record, bytes, i, result, movedIn);
      case 'retract':
        return this.putRetraction(record, bytes, i, result);
      case 'patient':
        return this.putPatient(record, bytes);
      case 'organisation': {
        const f = this.f;
        f.beginKey();
        f.utf8(record.code);
        if (this.dbs.organisations.getBinaryFast(f.endKey()) === undefined) this.state.counts.organisations++;
        f.beginValue(KIND.organisation);
        this.body(record, bytes);
        this.dbs.organisations.putSync(f.key, f.endValue());
        return 'stored';
      }
    }
  }

  /** Writes a record's body into the value being built: its received bytes, or its JSON (encoded once, in place). */
  private body(record: CaregapsRecord, bytes: Uint8Array | undefined): void {
    if (bytes !== undefined) this.f.bytes(bytes);
    else this.f.utf8(JSON.stringify(record));
  }

  /** Builds an identity's key in the framer. */
  private identityKey(id: string, source: string): KeyBytes {
    const f = this.f;
    f.beginKey();
    f.u16be(0);
    const from = f.at;
    f.utf8(id);
    f.buf.writeUInt16BE(f.at - from, from - 2);
    f.utf8(source);
    return f.endKey();
  }

  /** Builds an identity's value (after its key) in the framer; returns the value to put. */
  private identityValue(kind: number, handle: number, nhsNumber: string, version: number | undefined): Buffer {
    const f = this.f;
    f.beginValue(kind, version);
    f.u32le(handle);
    f.latin1(nhsNumber);
    return f.endValue();
  }

  /** Reads the identity whose key the framer holds; `undefined` when none. */
  private heldAtKey(id: string, source: string): Held | undefined {
    const value = this.dbs.identities.getBinaryFast(this.f.key); // read at once: the buffer is reused by the next read
    if (value === undefined) return undefined;
    if (!intact(this.f.keyView(), value)) throw damaged('identities', identityText(id, source));
    return decodeHeld(value);
  }

  /** The held value of an identity, checked; `undefined` when none. */
  private held(id: string, source: string): Held | undefined {
    this.identityKey(id, source);
    return this.heldAtKey(id, source);
  }

  private putIdentity(id: string, source: string, kind: number, handle: number, nhsNumber: string, version: number | undefined): void {
    this.identityKey(id, source);
    this.dbs.identities.putSync(this.f.key, this.identityValue(kind, handle, nhsNumber, version));
  }

  /** Puts an event or kept retraction under its patient and handle. */
  private putRecord(nhsNumber: string, handle: number, kind: number, record: CaregapsRecord, bytes: Uint8Array | undefined): void {
    const f = this.f;
    f.beginKey();
    f.latin1(nhsNumber);
    f.u32be(handle);
    f.beginValue(kind);
    this.body(record, bytes);
    this.dbs.records.putSync(f.key, f.endValue());
  }

  private removeRecord(nhsNumber: string, handle: number): void {
    const f = this.f;
    f.beginKey();
    f.latin1(nhsNumber);
    f.u32be(handle);
    if (this.dbs.records.removeSync(f.endKey())) this.state.counts.records--;
  }

  private putEvent(event: EventRecord, bytes: Uint8Array | undefined, i: number, result: WriteResult, movedIn: boolean): Outcome {
    const source = event.source ?? UNNAMED;
    const { nhsNumber } = event;
    let held: Held | undefined;
    if (source !== UNNAMED && this.state.wildcards > 0 && !movedIn) {
      // A retraction without source may hold this id: only for an identity not held itself.
      held = this.held(event.id, source);
      if (held === undefined) {
        const wildcard = this.held(event.id, UNNAMED);
        if (wildcard?.kind === KIND.tombstone && (wildcard.nhsNumber === nhsNumber || wildcard.nhsNumber === event.correctsNhsNumber)) return 'suppressed';
        this.identityKey(event.id, source);
      }
    } else this.identityKey(event.id, source);
    if (held === undefined) {
      // Inserting the identity finds out whether it is new: one B-tree descent instead of a read and a write.
      const handle = this.state.nextHandle;
      if (this.dbs.identities.putSync(this.f.key, this.identityValue(KIND.event, handle, nhsNumber, event.version), NO_OVERWRITE)) {
        this.state.nextHandle++;
        this.state.counts.identities++;
        this.state.counts.records++;
        result.handles[i] = handle;
        this.putRecord(nhsNumber, handle, KIND.event, event, bytes);
        return 'stored';
      }
      this.f.at = this.f.key.len; // the key is still in the framer
      held = this.heldAtKey(event.id, source)!;
    }
    result.handles[i] = held.handle;
    if (held.kind === KIND.tombstone) {
      return held.nhsNumber === nhsNumber || held.nhsNumber === event.correctsNhsNumber ? 'suppressed' : this.conflict(event, held.nhsNumber, result);
    }
    const holder = held.nhsNumber;
    if (holder !== nhsNumber && holder !== event.correctsNhsNumber) return this.conflict(event, holder, result);
    if (event.version !== undefined && held.version !== undefined && event.version < held.version) return 'stale';
    const outcome = holder === nhsNumber ? 'replaced' : 'moved';
    if (outcome === 'moved') {
      this.removeRecord(holder, held.handle);
      this.state.counts.records++;
      result.details.set(i, { from: holder });
    }
    if (outcome === 'moved' || event.version !== held.version) this.putIdentity(event.id, source, KIND.event, held.handle, nhsNumber, event.version);
    this.putRecord(nhsNumber, held.handle, KIND.event, event, bytes);
    return outcome;
  }

  private putRetraction(record: RetractRecord, bytes: Uint8Array | undefined, i: number, result: WriteResult): Outcome {
    const source = record.source ?? UNNAMED;
    const removed: number[] = [];
    // Without a source, the id's live events in every source, for this patient only.
    const sources = record.source === undefined ? this.sourcesOf(record.id) : [source];
    for (const s of sources) {
      const held = this.held(record.id, s);
      if (held?.kind !== KIND.event || held.nhsNumber !== record.nhsNumber) continue;
      removed.push(held.handle);
      if (s !== source) this.putTombstone(record.id, s, { ...record, source: s }, undefined, held.handle, record.nhsNumber, false);
    }
    const own = this.held(record.id, source);
    if (own !== undefined) result.handles[i] = own.handle;
    if (own !== undefined && own.nhsNumber !== record.nhsNumber) {
      if (removed.length === 0) return this.conflict(record, own.nhsNumber, result);
      result.details.set(i, { removed });
      return 'retracted';
    }
    if (own?.kind === KIND.tombstone && removed.length === 0) return 'suppressed';
    const handle = own?.handle ?? this.state.nextHandle++;
    result.handles[i] = handle;
    this.putTombstone(record.id, source, record, bytes, handle, record.nhsNumber, own === undefined);
    if (record.source === undefined && own?.kind !== KIND.tombstone) this.state.wildcards++;
    if (removed.length === 0) return 'kept';
    result.details.set(i, { removed });
    return 'retracted';
  }

  /** The sources holding an id (live or retracted). */
  private sourcesOf(id: string): string[] {
    const prefix = this.identityKey(id, UNNAMED);
    const start = Buffer.from(prefix.buf.subarray(0, prefix.len));
    const sources: string[] = [];
    for (const key of this.dbs.identities.getKeys({ start, end: Buffer.concat([start, PAST]) })) {
      sources.push(decodeIdentityKey(key).source);
    }
    return sources;
  }

  private putTombstone(id: string, source: string, record: RetractRecord, bytes: Uint8Array | undefined, handle: number, nhsNumber: string, isNew: boolean): void {
    this.putIdentity(id, source, KIND.tombstone, handle, nhsNumber, undefined);
    this.putRecord(nhsNumber, handle, KIND.tombstone, record, bytes);
    if (isNew) {
      this.state.counts.identities++;
      this.state.counts.records++;
    }
  }

  private putPatient(record: PatientRecord, bytes: Uint8Array | undefined): Outcome {
    const f = this.f;
    f.beginKey();
    f.latin1(record.nhsNumber);
    const value = this.dbs.records.getBinaryFast(f.endKey());
    if (value !== undefined) {
      if (!intact(f.keyView(), value)) throw damaged('records', record.nhsNumber);
      const version = versionOf(value);
      if (record.version !== undefined && version !== undefined && record.version < version) return 'stale';
    } else this.state.counts.records++;
    f.beginValue(KIND.patient, record.version);
    this.body(record, bytes);
    this.dbs.records.putSync(f.key, f.endValue());
    return value === undefined ? 'stored' : 'replaced';
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

  private keepQuarantined(item: QuarantinedRecord): void {
    const f = this.f;
    f.beginKey();
    f.u32be(this.state.nextQuarantine++);
    f.beginValue(KIND.quarantined);
    f.utf8(JSON.stringify(item));
    this.dbs.quarantine.putSync(f.key, f.endValue());
    this.state.counts.quarantine++;
  }

  /**
   * Gives up event identities held live for the NHS numbers named (a declared correction moved them to a patient in
   * another partition's store), in one transaction: the identity and its event go, as if never held here. Returns
   * each identity's handle, or -1 when it was not held live for that NHS number (nothing changes: releasing is
   * idempotent, so a correction redelivered after a crash releases what the first delivery could not).
   */
  releaseSync(identities: readonly { id: string; source: string | undefined; nhsNumber: string }[]): Int32Array {
    const handles = new Int32Array(identities.length).fill(-1);
    this.transact(() => {
      identities.forEach(({ id, source, nhsNumber }, i) => {
        const held = this.held(id, source ?? UNNAMED);
        if (held?.kind !== KIND.event || held.nhsNumber !== nhsNumber) return;
        this.identityKey(id, source ?? UNNAMED);
        if (this.dbs.identities.removeSync(this.f.key)) this.state.counts.identities--;
        this.removeRecord(nhsNumber, held.handle);
        handles[i] = held.handle;
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

  /** Entries in each of the store's databases (`records`: patient records, events and kept retractions). */
  get counts(): Readonly<Record<DbName, number>> {
    return this.state.counts;
  }

  /** Every current record, patient by patient in NHS number order (the replay source). */
  patients(): Generator<StoredPatient> {
    this.assertOpen();
    return guarded(this.file, () => this.readPatients());
  }

  private *readPatients(start?: Buffer, end?: Buffer): Generator<StoredPatient> {
    let stored: StoredPatient | undefined;
    for (const { key, value } of this.recordsInPlace.getRange(start === undefined ? EVERY_KEY : { start, end: end! })) {
      // Everything is taken from the views before yielding: a read while this generator waits reuses them.
      const { kind, handle, bytes, start: from, end: to } = this.checked(key, value);
      const record = JSON.parse(bytes.toString('utf8', from, to)) as CaregapsRecord;
      if (stored === undefined || !samePatient(key, stored.nhsNumber)) {
        const nhsNumber = nhsNumberOf(key);
        if (stored !== undefined) yield stored;
        stored = { nhsNumber, patient: undefined, events: [], retractions: [], handles: [] };
      }
      if (kind === KIND.patient) stored.patient = record as PatientRecord;
      else if (kind === KIND.event) {
        stored.events.push(record as EventRecord);
        stored.handles.push(handle);
      } else stored.retractions.push(record as RetractRecord);
    }
    if (stored !== undefined) yield stored;
  }

  /**
   * Every current record in the store's key order — patient by patient in NHS number order; a patient's record,
   * then their events and kept retractions by handle — each checked against its checksum (a damaged value throws
   * `CG_STORE_DAMAGED` naming its key, whatever its kind), handed to `visit` unparsed and in place: no Buffer,
   * string or object per record. The rebuild's read path; `patients()` gives the same records parsed. `visit` must
   * not read this store (its reads would reuse the views).
   */
  replay(visit: (record: ReplayedRecord) => void): void {
    this.assertOpen();
    // A deferred-commit store commits what it holds first: the replay reads committed state, in a read transaction of its own.
    this.commit();
    const r = this.replayed;
    r.nhsNumber = '';
    const entries = guardedCall(this.file, () => this.recordsInPlace.getRange(EVERY_KEY)[Symbol.iterator]());
    let done = false;
    try {
      for (;;) {
        // Only reading is guarded: a failure of `visit` is its own, not damage to the store.
        let entry: IteratorResult<{ key: InPlaceKey; value: InPlaceValue }>;
        try {
          entry = entries.next();
        } catch (error) {
          throw readFailure(this.file, error);
        }
        if (entry.done) break;
        const { key, value } = entry.value;
        this.checked(key, value);
        r.first = !samePatient(key, r.nhsNumber);
        if (r.first) r.nhsNumber = nhsNumberOf(key);
        visit(r);
      }
      done = true;
    } finally {
      if (!done) entries.return?.();
    }
  }

  /** Checks one record read in place and describes it in `replayed`; a damaged value or key throws, naming it. */
  private checked(key: InPlaceKey, value: InPlaceValue): ReplayedRecord {
    const r = this.replayed;
    if (!this.inPlace.intact(key, value)) throw damaged('records', recordText(this.inPlace.keyView(key)));
    const length = key.end - key.start;
    const bytes = value.bytes;
    const kind = bytes[0]!;
    if (length === NHS_BYTES && kind === KIND.patient) r.handle = -1;
    else if (length === RECORD_KEY_BYTES && (kind === KIND.event || kind === KIND.tombstone)) r.handle = key.bytes.readUInt32BE(key.start + NHS_BYTES);
    else throw damaged('records', recordText(this.inPlace.keyView(key)), `holds a value of kind ${kind} under a key of ${length} bytes`);
    r.kind = kind;
    r.bytes = bytes;
    r.start = payloadStart(bytes);
    r.end = value.size - CRC_BYTES;
    return r;
  }

  /**
   * One patient's current records (patient record, live events, retractions kept), as `patients()` gives them;
   * `undefined` when the store holds nothing for this NHS number. The record view reads here.
   */
  patient(nhsNumber: string): StoredPatient | undefined {
    this.assertOpen();
    this.freshRead();
    const start = Buffer.from(nhsNumber, 'latin1');
    if (start.length !== NHS_BYTES) return undefined;
    return guardedCall(this.file, () => {
      for (const stored of this.readPatients(start, Buffer.concat([start, PAST]))) return stored;
      return undefined;
    });
  }

  /**
   * The record id of the live event a patient holds under a handle, or `undefined` when the store holds no event
   * there (a move or release took it). The hot state keeps handles, not ids: explanations and the order of one
   * day's records read the id here.
   */
  eventId(nhsNumber: string, handle: number): string | undefined {
    this.assertOpen();
    this.freshRead();
    if (nhsNumber.length !== NHS_BYTES) return undefined;
    return guardedCall(this.file, () => {
      const f = this.f;
      f.beginKey();
      f.latin1(nhsNumber);
      f.u32be(handle);
      const value = this.dbs.records.getBinaryFast(f.endKey()); // read at once: the buffer is reused by the next read
      if (value === undefined || value[0] !== KIND.event) return undefined;
      if (!intact(f.keyView(), value)) throw damaged('records', `${nhsNumber} | ${handle}`);
      return (JSON.parse(payloadText(value)) as EventRecord).id;
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
    return guardedCall(this.file, () => this.held(id, source ?? UNNAMED)?.nhsNumber);
  }

  /**
   * `holder` for many identities at once, all read from one snapshot (the latest commit when called): a partition
   * checks a batch's new identities against another partition's store with one fresh read transaction.
   */
  holders(identities: readonly { id: string; source?: string }[]): (string | undefined)[] {
    this.assertOpen();
    this.freshRead();
    return guardedCall(this.file, () => identities.map(({ id, source }) => this.held(id, source ?? UNNAMED)?.nhsNumber));
  }

  /** A reader's next read starts a new LMDB read transaction, so it sees what the writer committed since. */
  private freshRead(): void {
    if (!this.readOnly) return;
    if (this.alongsideWriter) {
      // Nothing committed in this process since the last renewal: the snapshot is current (no renewal per read).
      const commits = Atomics.load(this.commits, 0);
      if (commits === this.seenCommits) return;
      this.seenCommits = commits;
    }
    this.env.resetReadTxn();
  }

  organisations(): OrganisationRecord[] {
    this.assertOpen();
    return [...guarded(this.file, () => this.readValues('organisations', (k) => k.toString('utf8')))] as OrganisationRecord[];
  }

  quarantined(): Generator<QuarantinedRecord> {
    this.assertOpen();
    return guarded(this.file, () => this.readValues('quarantine', (k) => String(k.readUInt32BE(0)))) as Generator<QuarantinedRecord>;
  }

  private *readValues(name: 'organisations' | 'quarantine', text: (key: Buffer) => string): Generator<unknown> {
    for (const { key, value } of this.dbs[name].getRange(EVERY_KEY)) {
      if (!intact(key, value)) throw damaged(name, text(key));
      yield JSON.parse(payloadText(value));
    }
  }

  /**
   * Reads every value and checks its checksum; every identity against the record it names (same patient, kind, id
   * and source) and every event record against an identity (by handle); and every database's count. Reports every
   * damage found.
   */
  verify(): VerifyReport {
    this.assertOpen();
    const report: VerifyReport = { checked: 0, damage: [] };
    const note = (db: string, key: string, problem: string) => report.damage.push({ db, key, problem });
    const scan = (name: DbName, text: (key: Buffer) => string, check: (key: Buffer, value: Buffer) => void = () => undefined) => {
      let entries = 0;
      try {
        for (const { key, value } of this.dbs[name].getRange(EVERY_KEY)) {
          entries++;
          report.checked++;
          const k = key;
          if (!intact(k, value)) note(name, text(k), 'fails its checksum');
          else check(k, value);
        }
      } catch (error) {
        note(name, '*', `cannot be read: ${(error as Error).message}`);
      }
      if (entries !== this.state.counts[name]) note(name, '*', `holds ${entries} entries, but the store committed ${this.state.counts[name]}`);
    };
    /** Handles named by identities (a bit each), to find records no identity names. */
    const named = new Uint32Array(Math.ceil((this.state.nextHandle + 1) / 32));
    const isNamed = (handle: number) => ((named[handle >>> 5] ?? 0) & (1 << (handle & 31))) !== 0;
    const f = this.f;
    scan('identities', (k) => identityTextOf(k), (k, value) => {
      const held = decodeHeld(value);
      const { id, source } = decodeIdentityKey(k);
      const text = identityText(id, source);
      if (held.handle >= this.state.nextHandle || isNamed(held.handle)) {
        note('identities', text, `names handle ${held.handle}, which is past the last or named twice`);
        return;
      }
      named[held.handle >>> 5] = (named[held.handle >>> 5] ?? 0) | (1 << (held.handle & 31));
      f.beginKey();
      f.latin1(held.nhsNumber);
      f.u32be(held.handle);
      const record = this.dbs.records.getBinaryFast(f.endKey());
      if (record === undefined) return note('identities', text, `names record ${held.nhsNumber} | ${held.handle}, which the store does not hold`);
      if (!intact(f.keyView(), record)) return; // reported where the records are scanned
      const body = JSON.parse(payloadText(record)) as { id?: unknown; source?: unknown };
      if (record[0] !== held.kind || body.id !== id || (body.source ?? UNNAMED) !== source) {
        note('identities', text, `names record ${held.nhsNumber} | ${held.handle}, which holds another record`);
      }
    });
    scan('records', recordText, (k, value) => {
      if (k.length !== RECORD_KEY_BYTES) {
        if (k.length !== NHS_BYTES || value[0] !== KIND.patient) note('records', recordText(k), 'is neither a patient record nor an event');
        return;
      }
      const handle = k.readUInt32BE(NHS_BYTES);
      if (!isNamed(handle)) note('records', recordText(k), 'is named by no identity');
    });
    scan('organisations', (k) => k.toString('utf8'));
    scan('quarantine', (k) => String(k.readUInt32BE(0)));
    scan('meta', (k) => k.toString('latin1'));
    return report;
  }

  /** Gives up write ownership and closes the store. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (WRITERS_HERE.get(this.file) === this) WRITERS_HERE.delete(this.file);
    if (this.owner !== undefined) {
      try {
        this.transact(() => {
          if (this.dbs.meta.removeSync(META_KEYS.owner)) this.state.counts.meta--;
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

/** Keys are built from NHS numbers as 10 bytes: anything else would be misfiled, so it is refused. */
function checkNhsNumber(nhsNumber: string, i: number): void {
  let ok = nhsNumber.length === NHS_BYTES;
  for (let c = 0; ok && c < NHS_BYTES; c++) {
    const code = nhsNumber.charCodeAt(c);
    ok = code >= 48 && code <= 57;
  }
  if (!ok) throw new CaregapsError('CG_USAGE', `Record ${i} of the batch has NHS number "${nhsNumber}", not 10 digits: check records with checkRecord before storing them`);
}

function decodeHeld(value: Uint8Array): Held {
  const bytes = asBuffer(value);
  const p = payload(bytes);
  return { kind: bytes[0]!, handle: p.readUInt32LE(0), nhsNumber: p.toString('latin1', 4, 4 + NHS_BYTES), version: versionOf(bytes) };
}

function decodeIdentityKey(key: Buffer): { id: string; source: string } {
  const idBytes = key.readUInt16BE(0);
  return { id: key.toString('utf8', 2, 2 + idBytes), source: key.toString('utf8', 2 + idBytes) };
}

function identityText(id: string, source: string): string {
  return `${id} | ${source}`;
}

function identityTextOf(key: Buffer): string {
  if (key.length < 2 || key.readUInt16BE(0) > key.length - 2) return `(bytes ${key.toString('hex')})`;
  const { id, source } = decodeIdentityKey(key);
  return identityText(id, source);
}

/** Whether a record key (read in place) is of this NHS number: compared as bytes, no string per record. */
function samePatient(key: InPlaceKey, nhsNumber: string): boolean {
  if (nhsNumber.length !== NHS_BYTES) return false;
  const { bytes, start } = key;
  for (let i = 0; i < NHS_BYTES; i++) if (bytes[start + i] !== nhsNumber.charCodeAt(i)) return false;
  return true;
}

function nhsNumberOf(key: InPlaceKey): string {
  return key.bytes.toString('latin1', key.start, key.start + NHS_BYTES);
}

function recordText(key: Buffer): string {
  const nhsNumber = key.toString('latin1', 0, Math.min(NHS_BYTES, key.length));
  return key.length === RECORD_KEY_BYTES ? `${nhsNumber} | ${key.readUInt32BE(NHS_BYTES)}` : nhsNumber;
}

/** A store of another format is refused, named; the first record store format (its values framed differently) too. */
function checkFormat(file: string, value: Buffer | undefined): void {
  if (value === undefined) return;
  if (intact(META_KEYS.format.buf, value)) {
    const format = payloadText(value);
    if (format !== FORMAT) throw oldRecordStore(file, format);
  } else if (value.toString('utf8', 28) === 'caregaps-record-store/1') throw oldRecordStore(file, 'caregaps-record-store/1');
  else throw damaged('meta', 'format');
}

function oldRecordStore(file: string, format: string): CaregapsError {
  return new CaregapsError(
    'CG_STORE_OLD_FORMAT',
    `${file} is a record store of format ${format}, not ${FORMAT} (a development format that was never released): rebuild it by ingesting its records again into a new directory`,
  );
}

/**
 * lmdb-js shares one LMDB environment per file across the process: a writer opening a file that a reader in this
 * process opened with LMDB's read-only flag fails inside lmdb-js, and is told why.
 */
function openEnvironment(file: string, lmdbReadOnly: boolean, noSync: boolean): RootDatabase {
  try {
    return open({ path: file, maxDbs: DBS.length, overlappingSync: false, readOnly: lmdbReadOnly, noSync, noMemInit: true });
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
    throw readFailure(file, error);
  }
}

/** A failure to read: a coded error as it is, anything else (LMDB on a damaged page) as CG_STORE_DAMAGED. */
function readFailure(file: string, error: unknown): Error {
  if (error instanceof CaregapsError) return error;
  return new CaregapsError('CG_STORE_DAMAGED', `Record store ${file} could not be read: ${(error as Error).message ?? String(error)}`);
}

/** Runs a read, turning LMDB's errors on a damaged page into CG_STORE_DAMAGED (never an uncoded failure). */
function* guarded<T>(file: string, read: () => Generator<T>): Generator<T> {
  try {
    yield* read();
  } catch (error) {
    throw readFailure(file, error);
  }
}
