import type { CodesetIndex } from '@caregaps/core';

/** Slots per event chunk; a patient's block never spans chunks (a larger block gets a chunk of its own). */
const CHUNK = 1 << 16;
/** Day numbers of an unended registration are stored as this (Int32), read back as Infinity. */
const NEVER = 0x7fffffff;

/** One chunk of the event arena: parallel typed columns, one slot per event. */
export interface EventChunk {
  /** Interned cluster set of the event's code. */
  set: Int32Array;
  day: Int32Array;
  /** The numeric value (NaN when absent). */
  value: Float64Array;
  /** The event's local number in the hot state (see `HotState.idOf`). */
  local: Int32Array;
  /** Start of the event's named components in the component store (-1: none). */
  components: Int32Array;
}

function newChunk(size: number): EventChunk {
  return { set: new Int32Array(size), day: new Int32Array(size), value: new Float64Array(size), local: new Int32Array(size), components: new Int32Array(size) };
}

/** Doubles a typed array's capacity (or more, to fit `need`), keeping its contents. */
function grown<T extends Int32Array | Float64Array | Uint32Array | Uint8Array>(array: T, need: number, fill?: number): T {
  if (need <= array.length) return array;
  const next = new (array.constructor as new (n: number) => T)(Math.max(need, array.length * 2, 64));
  next.set(array);
  if (fill !== undefined) next.fill(fill, array.length);
  return next;
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
 * A partition's hot state (DESIGN §4): typed arrays only. Per patient row: demographics and registration as day
 * numbers, a practice number, a bit mask of the clusters the patient has records in (the register gate), and the
 * patient's block in the event arena. Per event (only events whose code is in a cluster some registry reads): the
 * interned cluster set, day, value, named components and the record store's integer handle, kept per patient in date order (then
 * id). A block that fills moves to a block twice its size from a free list or the end of the arena: growing a
 * patient copies that patient's events only, never the arena.
 */
export class HotState {
  readonly words: number;
  private rowCount = 0;
  private readonly rowOf = new Map<string, number>();
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
  /** Free blocks by size class (log2 of capacity): packed chunk * CHUNK + start. */
  private readonly free: number[][] = [];

  readonly practices: string[] = [];
  private readonly practiceNumber = new Map<string, number>();

  /** Cluster sets: the clusters of a code that some registry reads, interned. */
  private readonly setOfCode = new Map<string, number>();
  setMask = new Uint32Array(0);
  private sets = 0;
  private readonly setNumber = new Map<string, number>();

  /**
   * Held events by the record store's integer handle (one per event identity in the partition's store): `localOf`
   * maps a store handle to a local slot number + 1 (0: not held), so lookups are typed-array reads, not string keys.
   * Local numbers are dense over held events only: `idOf[local]` gives the record id (explanations, and the order of
   * records on one day), `localRow[local]` the patient row.
   */
  private localOf = new Int32Array(0);
  readonly idOf: string[] = [];
  private localRow = new Int32Array(0);
  private readonly freeLocals: number[] = [];

  /** Named components: names interned; a run in `componentStore` is [count, name, value, name, value, ...]. */
  readonly componentNames: string[] = [];
  private readonly componentNumber = new Map<string, number>();
  componentStore = new Float64Array(0);
  private componentEnd = 0;
  private relevantEvents = 0;

  constructor(
    private readonly index: CodesetIndex,
    /** Clusters that some registry reads: events in no such cluster are not held. */
    private readonly read: ReadonlySet<number>,
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
    return this.rowOf.get(nhsNumber) ?? -1;
  }

  /** The row of an NHS number, created (with no patient record yet) when missing. */
  rowFor(nhsNumber: string): number {
    const found = this.rowOf.get(nhsNumber);
    if (found !== undefined) return found;
    const row = this.rowCount++;
    this.rowOf.set(nhsNumber, row);
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
    this.nhs[row] = Number(nhsNumber);
    this.blockChunk[row] = -1;
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

  /**
   * Adds an event to a patient's block in date order (then id); returns its cluster set, or -1 when its code is in
   * no cluster any registry reads (then nothing is held). `handle` is the event's handle in the partition's record
   * store; it must not be held (remove it first).
   */
  addEvent(row: number, handle: number, event: HotEvent): number {
    const set = this.setOf(event.code);
    if (set < 0) return -1;
    const local = this.localFor(handle, event.id, row);
    this.ensureRoom(row);
    const chunk = this.chunks[this.blockChunk[row]!]!;
    const start = this.blockStart[row]!;
    const count = this.blockCount[row]!;
    // Mostly in date order: search from the end.
    let at = count;
    while (at > 0) {
      const prevDay = chunk.day[start + at - 1]!;
      if (prevDay < event.day || (prevDay === event.day && this.idOf[chunk.local[start + at - 1]!]! < event.id)) break;
      at--;
    }
    for (let i = count; i > at; i--) this.copySlot(chunk, start + i - 1, start + i);
    const slot = start + at;
    chunk.set[slot] = set;
    chunk.day[slot] = event.day;
    chunk.value[slot] = event.value;
    chunk.local[slot] = local;
    chunk.components[slot] = event.values ? this.storeComponents(event.values) : -1;
    this.blockCount[row] = count + 1;
    this.orSet(row, set);
    this.relevantEvents++;
    return set;
  }

  /** Removes a held event by its store handle; returns its row and cluster set, or `undefined` when it was not held. */
  removeEvent(handle: number): { row: number; set: number } | undefined {
    const local = (this.localOf[handle] ?? 0) - 1;
    if (local < 0) return undefined;
    const row = this.localRow[local]!;
    const chunk = this.chunks[this.blockChunk[row]!]!;
    const start = this.blockStart[row]!;
    const count = this.blockCount[row]!;
    let at = 0;
    while (at < count && chunk.local[start + at] !== local) at++;
    const set = chunk.set[start + at]!;
    for (let i = at + 1; i < count; i++) this.copySlot(chunk, start + i, start + i - 1);
    this.blockCount[row] = count - 1;
    this.localOf[handle] = 0;
    this.localRow[local] = -1;
    this.idOf[local] = '';
    this.freeLocals.push(local);
    this.relevantEvents--;
    // The mask is rebuilt from what is left (a block is short).
    const w = this.words;
    this.clusterMask.fill(0, row * w, row * w + w);
    for (let i = 0; i < count - 1; i++) this.orSet(row, chunk.set[start + i]!);
    return { row, set };
  }

  /** The value of a named component of the event in a slot (NaN when absent). */
  component(chunk: EventChunk, slot: number, name: number): number {
    const at = chunk.components[slot]!;
    if (at < 0) return Number.NaN;
    const store = this.componentStore;
    const n = store[at]!;
    for (let k = 0; k < n; k++) if (store[at + 1 + 2 * k] === name) return store[at + 2 + 2 * k]!;
    return Number.NaN;
  }

  componentNumberOf(name: string): number {
    return this.componentNumber.get(name) ?? -1;
  }

  /** Bytes held by the typed arrays (the hot state's own memory, without Map and string overheads). */
  bytes(): { perPatient: number; events: number; total: number } {
    const rows = [this.nhs, this.hasPatient, this.birthDay, this.registeredFrom, this.registrationEnd, this.practice, this.clusterMask, this.blockChunk, this.blockStart, this.blockCount, this.blockCapacity];
    const patientBytes = rows.reduce((sum, a) => sum + a.byteLength, 0);
    let eventBytes = this.componentStore.byteLength + this.localOf.byteLength + this.localRow.byteLength;
    for (const c of this.chunks) eventBytes += c.set.byteLength + c.day.byteLength + c.value.byteLength + c.local.byteLength + c.components.byteLength;
    return { perPatient: patientBytes, events: eventBytes, total: patientBytes + eventBytes };
  }

  private localFor(handle: number, id: string, row: number): number {
    const local = this.freeLocals.length > 0 ? this.freeLocals.pop()! : this.idOf.length;
    if (local === this.idOf.length) this.idOf.push(id);
    else this.idOf[local] = id;
    this.localOf = grown(this.localOf, handle + 1);
    this.localOf[handle] = local + 1;
    this.localRow = grown(this.localRow, local + 1);
    this.localRow[local] = row;
    return local;
  }

  private storeComponents(values: Record<string, number>): number {
    const names = Object.keys(values);
    const at = this.componentEnd;
    this.componentStore = grown(this.componentStore, at + 1 + 2 * names.length);
    this.componentStore[at] = names.length;
    names.forEach((name, k) => {
      let n = this.componentNumber.get(name);
      if (n === undefined) {
        n = this.componentNames.push(name) - 1;
        this.componentNumber.set(name, n);
      }
      this.componentStore[at + 1 + 2 * k] = n;
      this.componentStore[at + 2 + 2 * k] = values[name]!;
    });
    this.componentEnd = at + 1 + 2 * names.length;
    return at;
  }

  private copySlot(chunk: EventChunk, from: number, to: number): void {
    chunk.set[to] = chunk.set[from]!;
    chunk.day[to] = chunk.day[from]!;
    chunk.value[to] = chunk.value[from]!;
    chunk.local[to] = chunk.local[from]!;
    chunk.components[to] = chunk.components[from]!;
  }

  /** Makes room for one more event in a patient's block, moving the block to one twice its size when full. */
  private ensureRoom(row: number): void {
    const count = this.blockCount[row]!;
    const capacity = this.blockCapacity[row]!;
    if (count < capacity) return;
    const next = capacity === 0 ? 2 : capacity * 2;
    const [chunkNumber, start] = this.allocate(next);
    const to = this.chunks[chunkNumber]!;
    if (capacity > 0) {
      const fromChunk = this.blockChunk[row]!;
      const from = this.chunks[fromChunk]!;
      const s = this.blockStart[row]!;
      to.set.set(from.set.subarray(s, s + count), start);
      to.day.set(from.day.subarray(s, s + count), start);
      to.value.set(from.value.subarray(s, s + count), start);
      to.local.set(from.local.subarray(s, s + count), start);
      to.components.set(from.components.subarray(s, s + count), start);
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
    const sizeClass = Math.log2(size);
    const reuse = this.free[sizeClass]?.pop();
    if (reuse !== undefined) return [Math.floor(reuse / CHUNK), reuse % CHUNK];
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
    const sizeClass = Math.log2(size);
    (this.free[sizeClass] ??= []).push(chunk * CHUNK + start);
  }
}
