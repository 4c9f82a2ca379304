import type { CodesetIndex } from '@caregaps/core';
import { HandleMap } from './handle-map.js';

/** Slots per event chunk; a patient's block never spans chunks (a larger block gets a chunk of its own). */
const CHUNK = 1 << 14;
/** Day numbers of an unended registration are stored as this (Int32), read back as Infinity. */
const NEVER = 0x7fffffff;
/** Record ids remembered by handle (a direct-mapped cache: a patient's recent events, while they arrive together). */
const ID_CACHE = 1024;

/** One chunk of the event arena: parallel typed columns, one slot per event. */
export interface EventChunk {
  /** Interned cluster set of the event's code. */
  set: Int32Array;
  day: Int32Array;
  /** The numeric value (NaN when absent). */
  value: Float64Array;
  /** The event's handle in the partition's record store (its id is read there: `HotState.idOf`). */
  handle: Int32Array;
}

function newChunk(size: number): EventChunk {
  return { set: new Int32Array(size), day: new Int32Array(size), value: new Float64Array(size), handle: new Int32Array(size) };
}

/** Bytes of one event slot (every column of a chunk). */
const SLOT_BYTES = 4 + 4 + 8 + 4;

/** A typed array with room for `need` entries: itself, or a copy 1.5 times larger (at least 64). */
function grown<T extends Int32Array | Float64Array | Uint32Array | Uint8Array>(array: T, need: number, fill?: number): T {
  if (need <= array.length) return array;
  const next = new (array.constructor as new (n: number) => T)(Math.max(need, Math.ceil(array.length * 1.5), 64));
  next.set(array);
  if (fill !== undefined) next.fill(fill, array.length);
  return next;
}

/**
 * Block capacities: 2, 3, 4, 6, 8, 12, 16, … (powers of two and one and a half times them), so a block is at least
 * two thirds full once it has grown. Each capacity is a size class of the free lists.
 */
function nextCapacity(capacity: number): number {
  if (capacity < 2) return 2;
  return (capacity & (capacity - 1)) === 0 ? capacity + (capacity >>> 1) : (capacity / 3) * 4;
}

function sizeClass(capacity: number): number {
  const log = 31 - Math.clz32(capacity);
  return 2 * log + ((capacity & (capacity - 1)) === 0 ? 0 : 1);
}

/** An NHS number (10 ASCII digits) as a number, or -1 when it is not one. */
function nhsKey(nhsNumber: string): number {
  if (nhsNumber.length !== 10) return -1;
  let key = 0;
  for (let i = 0; i < 10; i++) {
    const digit = nhsNumber.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    key = key * 10 + digit;
  }
  return key;
}

/** A 32-bit mix of an NHS number's key (up to 10^10, so two words). */
function nhsHash(key: number): number {
  let h = (key >>> 0) ^ Math.imul((key / 4294967296) | 0, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b);
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A growable stack of integers in a typed array (free lists). */
class IntStack {
  private items = new Int32Array(0);
  length = 0;

  get bytes(): number {
    return this.items.byteLength;
  }

  push(n: number): void {
    this.items = grown(this.items, this.length + 1);
    this.items[this.length++] = n;
  }

  /** The last item pushed, removed (-1 when empty). */
  pop(): number {
    return this.length === 0 ? -1 : this.items[--this.length]!;
  }
}

/** What a patient's demographics are as numbers: what the rules read of a patient record. */
export interface Demographics {
  birthDay: number;
  registeredFrom: number;
  /** First day not registered (Infinity when neither deregistered nor dead). */
  registrationEnd: number;
  practice: string;
}

/** An event reduced to what the rules read. */
export interface HotEvent {
  id: string;
  code: string;
  day: number;
  value: number;
  values: Record<string, number> | undefined;
}

/**
 * Reads the record id of a held event from the record store (`undefined` when the store no longer holds it there):
 * the hot state keeps handles, not ids.
 */
export type EventIdReader = (nhsNumber: string, handle: number) => string | undefined;

/** Bytes the hot state holds, split into what grows with patients and what grows with relevant events. */
export interface HotStateBytes {
  /** Per-patient columns (at their capacity) and the NHS number table. */
  patients: number;
  /** The event arena's chunks, its free lists, named components. */
  events: number;
}

/**
 * A partition's hot state (DESIGN §4): typed arrays only, no JavaScript object or string per patient or per event.
 * Per patient row: the NHS number (found through an open-addressing table over a typed array), demographics and
 * registration as day numbers, a practice number, a bit mask of the clusters the patient has records in (the
 * register gate), and the patient's block in the event arena. Per event (only events whose code is in a cluster
 * some registry reads): the interned cluster set, day, value and the record store's integer handle, kept per patient
 * in date order (then record id); named components, for the few events that have them, by handle. Record ids stay
 * in the store: read there (`EventIdReader`) for explanations and to order records of one day. A block that fills
 * moves to a larger block from a free list or the end of the arena: growing a patient copies that patient's events
 * only, never the arena.
 */
export class HotState {
  readonly words: number;
  private rowCount = 0;
  /** Open addressing (linear probing) over rows: row + 1 per slot, 0 empty; the key is `nhs[row]`. */
  private rowTable = new Int32Array(1024);
  /** The NHS number of each row, as a number (10 digits fit a double exactly). */
  nhs = new Float64Array(0);
  /** 1 once the patient record has arrived (events may come first). */
  hasPatient = new Uint8Array(0);
  birthDay = new Int32Array(0);
  registeredFrom = new Int32Array(0);
  registrationEnd = new Int32Array(0);
  practice = new Int32Array(0);
  /** Per row, `words` 32-bit words: bit c set when the patient has a record in cluster c. */
  clusterMask = new Uint32Array(0);
  private blockChunk = new Int32Array(0);
  private blockStart = new Int32Array(0);
  private blockCount = new Int32Array(0);
  private blockCapacity = new Int32Array(0);
  readonly chunks: EventChunk[] = [];
  /** Next free slot in the last shared chunk. */
  private tail = CHUNK;
  private tailChunk = -1;
  /** Free blocks by size class (see `sizeClass`): packed chunk * CHUNK + start. */
  private readonly free: IntStack[] = [];

  readonly practices: string[] = [];
  private readonly practiceNumber = new Map<string, number>();

  /** Cluster sets: the clusters of a code that some registry reads, interned. */
  private readonly setOfCode = new Map<string, number>();
  setMask = new Uint32Array(0);
  private sets = 0;
  private readonly setNumber = new Map<string, number>();

  /**
   * Named components: names interned, and each list of names an event gives (a schema: systolic and diastolic)
   * interned; a run in `componentStore` is [schema, value, value, ...], in the schema's order.
   */
  readonly componentNames: string[] = [];
  private readonly componentNumber = new Map<string, number>();
  private readonly schemas: Int32Array[] = [];
  private readonly schemaNumber = new Map<string, number>();
  componentStore = new Float64Array(0);
  private componentEnd = 0;
  /** Handle of an event with named components → the start of its run. */
  private readonly componentRun = new HandleMap();
  /** Released runs by their count of values. */
  private readonly freeRuns: IntStack[] = [];
  private relevantEvents = 0;

  private readonly cachedHandle = new Int32Array(ID_CACHE).fill(-1);
  private readonly cachedId: string[] = new Array<string>(ID_CACHE).fill('');

  constructor(
    private readonly index: CodesetIndex,
    /** Clusters that some registry reads: events in no such cluster are not held. */
    private readonly read: ReadonlySet<number>,
    private readonly readId: EventIdReader,
  ) {
    this.words = Math.max(1, Math.ceil(index.clusters.length / 32));
  }

  get patients(): number {
    return this.rowCount;
  }

  get events(): number {
    return this.relevantEvents;
  }

  /** The row of an NHS number, or -1. */
  row(nhsNumber: string): number {
    const key = nhsKey(nhsNumber);
    return key < 0 ? -1 : this.find(key);
  }

  private find(key: number): number {
    const table = this.rowTable;
    const mask = table.length - 1;
    for (let at = nhsHash(key) & mask; ; at = (at + 1) & mask) {
      const entry = table[at]!;
      if (entry === 0) return -1;
      if (this.nhs[entry - 1] === key) return entry - 1;
    }
  }

  private insertRow(key: number, row: number): void {
    const table = this.rowTable;
    const mask = table.length - 1;
    let at = nhsHash(key) & mask;
    while (table[at] !== 0) at = (at + 1) & mask;
    table[at] = row + 1;
  }

  /** The row of an NHS number (10 digits, as records checked by `checkRecord` have), created when missing. */
  rowFor(nhsNumber: string): number {
    const key = nhsKey(nhsNumber);
    if (key < 0) throw new Error(`NHS number "${nhsNumber}" is not 10 digits`);
    const found = this.find(key);
    if (found >= 0) return found;
    const row = this.rowCount++;
    const need = this.rowCount;
    this.nhs = grown(this.nhs, need);
    this.hasPatient = grown(this.hasPatient, need);
    this.birthDay = grown(this.birthDay, need);
    this.registeredFrom = grown(this.registeredFrom, need);
    this.registrationEnd = grown(this.registrationEnd, need);
    this.practice = grown(this.practice, need);
    this.clusterMask = grown(this.clusterMask, need * this.words);
    this.blockChunk = grown(this.blockChunk, need);
    this.blockStart = grown(this.blockStart, need);
    this.blockCount = grown(this.blockCount, need);
    this.blockCapacity = grown(this.blockCapacity, need);
    this.nhs[row] = key;
    this.blockChunk[row] = -1;
    if (4 * need > 3 * this.rowTable.length) {
      // Three quarters full: twice the slots, every row placed again.
      this.rowTable = new Int32Array(this.rowTable.length * 2);
      for (let r = 0; r < need; r++) this.insertRow(this.nhs[r]!, r);
    } else this.insertRow(key, row);
    return row;
  }

  nhsNumber(row: number): string {
    return String(this.nhs[row]!).padStart(10, '0');
  }

  /** Sets a patient's demographics; returns the practice number. */
  setPatient(row: number, d: Demographics): number {
    this.hasPatient[row] = 1;
    this.birthDay[row] = d.birthDay;
    this.registeredFrom[row] = d.registeredFrom;
    this.registrationEnd[row] = d.registrationEnd === Infinity ? NEVER : d.registrationEnd;
    const practice = this.practiceOf(d.practice);
    this.practice[row] = practice;
    return practice;
  }

  end(row: number): number {
    const end = this.registrationEnd[row]!;
    return end === NEVER ? Infinity : end;
  }

  practiceOf(code: string): number {
    let n = this.practiceNumber.get(code);
    if (n === undefined) {
      n = this.practices.push(code) - 1;
      this.practiceNumber.set(code, n);
    }
    return n;
  }

  /** The cluster set of a code (-1 when the code is in no cluster any registry reads). */
  setOf(code: string): number {
    const known = this.setOfCode.get(code);
    if (known !== undefined) return known;
    const clusters = this.index.clustersOf(code).filter((c) => this.read.has(c));
    let set = -1;
    if (clusters.length > 0) {
      const key = clusters.join(',');
      const existing = this.setNumber.get(key);
      if (existing !== undefined) set = existing;
      else {
        set = this.sets++;
        this.setNumber.set(key, set);
        this.setMask = grown(this.setMask, this.sets * this.words);
        for (const c of clusters) this.setMask[set * this.words + (c >>> 5)]! |= 1 << (c & 31);
      }
    }
    this.setOfCode.set(code, set);
    return set;
  }

  /** Whether cluster set `set` contains cluster `c`. */
  setHas(set: number, c: number): boolean {
    return (this.setMask[set * this.words + (c >>> 5)]! & (1 << (c & 31))) !== 0;
  }

  /** Clusters of a set, as a bit mask OR-ed into `into` (per word). */
  private orSet(row: number, set: number): void {
    const w = this.words;
    for (let k = 0; k < w; k++) this.clusterMask[row * w + k]! |= this.setMask[set * w + k]!;
  }

  hasCluster(row: number, c: number): boolean {
    return (this.clusterMask[row * this.words + (c >>> 5)]! & (1 << (c & 31))) !== 0;
  }

  chunkOf(row: number): EventChunk | undefined {
    const c = this.blockChunk[row]!;
    return c < 0 ? undefined : this.chunks[c];
  }

  startOf(row: number): number {
    return this.blockStart[row]!;
  }

  countOf(row: number): number {
    return this.blockCount[row]!;
  }

  /** The record id of a held event of a row, read from the record store (remembered for a while). */
  idOf(row: number, handle: number): string | undefined {
    const at = handle & (ID_CACHE - 1);
    if (this.cachedHandle[at] === handle) return this.cachedId[at];
    const id = this.readId(this.nhsNumber(row), handle);
    if (id !== undefined) this.remember(handle, id);
    return id;
  }

  private remember(handle: number, id: string): void {
    const at = handle & (ID_CACHE - 1);
    this.cachedHandle[at] = handle;
    this.cachedId[at] = id;
  }

  /**
   * Adds an event to a patient's block in date order (then id); returns its cluster set, or -1 when its code is in
   * no cluster any registry reads (then nothing is held). `handle` is the event's handle in the partition's record
   * store; it must not be held (remove it first).
   */
  addEvent(row: number, handle: number, event: HotEvent): number {
    const set = this.setOf(event.code);
    if (set < 0) return -1;
    this.ensureRoom(row);
    const chunk = this.chunks[this.blockChunk[row]!]!;
    const start = this.blockStart[row]!;
    const count = this.blockCount[row]!;
    // Mostly in date order: search from the end. Records of one day are in id order, read from the store.
    let at = count;
    while (at > 0) {
      const prevDay = chunk.day[start + at - 1]!;
      if (prevDay < event.day) break;
      if (prevDay === event.day) {
        const prevId = this.idOf(row, chunk.handle[start + at - 1]!);
        // An id the store no longer holds under this patient belongs to an event moved away in the batch being
        // applied, removed before anything reads the block: its place does not matter, the others' do.
        if (prevId !== undefined && prevId < event.id) break;
      }
      at--;
    }
    if (at < count) {
      const from = start + at;
      const to = start + count;
      chunk.set.copyWithin(from + 1, from, to);
      chunk.day.copyWithin(from + 1, from, to);
      chunk.value.copyWithin(from + 1, from, to);
      chunk.handle.copyWithin(from + 1, from, to);
    }
    const slot = start + at;
    chunk.set[slot] = set;
    chunk.day[slot] = event.day;
    chunk.value[slot] = event.value;
    chunk.handle[slot] = handle;
    if (event.values) this.componentRun.set(handle, this.storeComponents(event.values));
    this.remember(handle, event.id);
    this.blockCount[row] = count + 1;
    this.orSet(row, set);
    this.relevantEvents++;
    return set;
  }

  /** Removes a row's held event by its store handle; returns its cluster set, or -1 when the row does not hold it. */
  removeEvent(row: number, handle: number): number {
    const c = this.blockChunk[row]!;
    if (c < 0) return -1;
    const chunk = this.chunks[c]!;
    const start = this.blockStart[row]!;
    const count = this.blockCount[row]!;
    let at = 0;
    while (at < count && chunk.handle[start + at] !== handle) at++;
    if (at === count) return -1;
    const set = chunk.set[start + at]!;
    const from = start + at + 1;
    const to = start + count;
    chunk.set.copyWithin(from - 1, from, to);
    chunk.day.copyWithin(from - 1, from, to);
    chunk.value.copyWithin(from - 1, from, to);
    chunk.handle.copyWithin(from - 1, from, to);
    this.blockCount[row] = count - 1;
    this.releaseComponents(handle);
    this.relevantEvents--;
    // The mask is rebuilt from what is left (a block is short).
    const w = this.words;
    this.clusterMask.fill(0, row * w, row * w + w);
    for (let i = 0; i < count - 1; i++) this.orSet(row, chunk.set[start + i]!);
    return set;
  }

  /** The value of a named component of the event in a slot (NaN when absent). */
  component(chunk: EventChunk, slot: number, name: number): number {
    const at = this.componentRun.get(chunk.handle[slot]!);
    if (at < 0) return Number.NaN;
    const names = this.schemas[this.componentStore[at]!]!;
    for (let k = 0; k < names.length; k++) if (names[k] === name) return this.componentStore[at + 1 + k]!;
    return Number.NaN;
  }

  componentNumberOf(name: string): number {
    return this.componentNumber.get(name) ?? -1;
  }

  /**
   * Bytes of everything the hot state holds per patient and per event, at capacity (typed arrays, the NHS number
   * table, free lists). Left out: what grows with distinct codes, cluster sets and practices (interning maps), and a
   * fixed cache of 1,024 record ids, the lists of component names.
   */
  bytes(): HotStateBytes {
    const rows = [this.nhs, this.hasPatient, this.birthDay, this.registeredFrom, this.registrationEnd, this.practice, this.clusterMask, this.blockChunk, this.blockStart, this.blockCount, this.blockCapacity, this.rowTable];
    const patients = rows.reduce((sum, a) => sum + a.byteLength, 0);
    let events = this.componentStore.byteLength + this.componentRun.bytes;
    for (const c of this.chunks) events += c.set.length * SLOT_BYTES;
    for (const f of this.free) events += f?.bytes ?? 0;
    for (const f of this.freeRuns) events += f?.bytes ?? 0;
    return { patients, events };
  }

  private storeComponents(values: Record<string, number>): number {
    const names = Object.keys(values);
    const schema = this.schemaOf(names);
    let at = this.freeRuns[names.length]?.pop() ?? -1;
    if (at < 0) {
      at = this.componentEnd;
      this.componentStore = grown(this.componentStore, at + 1 + names.length);
      this.componentEnd = at + 1 + names.length;
    }
    this.componentStore[at] = schema;
    for (let k = 0; k < names.length; k++) this.componentStore[at + 1 + k] = values[names[k]!]!;
    return at;
  }

  /** The number of a list of component names (interned with the names). */
  private schemaOf(names: string[]): number {
    const key = names.join('\u0000');
    let schema = this.schemaNumber.get(key);
    if (schema === undefined) {
      schema = this.schemas.push(Int32Array.from(names, (name) => this.componentNameNumber(name))) - 1;
      this.schemaNumber.set(key, schema);
    }
    return schema;
  }

  private componentNameNumber(name: string): number {
    let n = this.componentNumber.get(name);
    if (n === undefined) {
      n = this.componentNames.push(name) - 1;
      this.componentNumber.set(name, n);
    }
    return n;
  }

  private releaseComponents(handle: number): void {
    const at = this.componentRun.get(handle);
    if (at < 0) return;
    this.componentRun.delete(handle);
    const values = this.schemas[this.componentStore[at]!]!.length;
    (this.freeRuns[values] ??= new IntStack()).push(at);
  }

  /** Makes room for one more event in a patient's block, moving the block to a larger one when full. */
  private ensureRoom(row: number): void {
    const count = this.blockCount[row]!;
    const capacity = this.blockCapacity[row]!;
    if (count < capacity) return;
    const next = nextCapacity(capacity);
    const [chunkNumber, start] = this.allocate(next);
    const to = this.chunks[chunkNumber]!;
    if (capacity > 0) {
      const fromChunk = this.blockChunk[row]!;
      const from = this.chunks[fromChunk]!;
      const s = this.blockStart[row]!;
      to.set.set(from.set.subarray(s, s + count), start);
      to.day.set(from.day.subarray(s, s + count), start);
      to.value.set(from.value.subarray(s, s + count), start);
      to.handle.set(from.handle.subarray(s, s + count), start);
      this.release(fromChunk, s, capacity);
    }
    this.blockChunk[row] = chunkNumber;
    this.blockStart[row] = start;
    this.blockCapacity[row] = next;
  }

  private allocate(size: number): [number, number] {
    if (size > CHUNK) {
      this.chunks.push(newChunk(size));
      return [this.chunks.length - 1, 0];
    }
    const reuse = this.free[sizeClass(size)]?.pop() ?? -1;
    if (reuse >= 0) return [Math.floor(reuse / CHUNK), reuse % CHUNK];
    if (this.tail + size > CHUNK) {
      this.chunks.push(newChunk(CHUNK));
      this.tailChunk = this.chunks.length - 1;
      this.tail = 0;
    }
    const start = this.tail;
    this.tail += size;
    return [this.tailChunk, start];
  }

  private release(chunk: number, start: number, size: number): void {
    if (size > CHUNK) {
      this.chunks[chunk] = newChunk(0); // a chunk of its own: nothing else lives in it
      return;
    }
    (this.free[sizeClass(size)] ??= new IntStack()).push(chunk * CHUNK + start);
  }
}
