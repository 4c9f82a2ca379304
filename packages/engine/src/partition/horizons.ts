/**
 * A min-priority queue of patient rows keyed by horizon day (a binary heap over parallel typed arrays). Deletion is
 * lazy: rescheduling a row pushes a new entry and the old one is skipped when it surfaces, because the row's queued
 * day no longer matches it. The heap is rebuilt when stale entries outnumber live ones.
 */
export class HorizonQueue {
  /** Day numbers and Infinity, exact in 32-bit floats (days are integers far below 2^24). */
  private days = new Float32Array(64);
  private items = new Int32Array(64);
  /** Entries in the heap, live and stale. */
  private length = 0;
  /** Per row, the day it is queued under (Infinity when not queued). */
  private queued = new Float32Array(0);
  private live = 0;

  get size(): number {
    return this.live;
  }

  /** Bytes held: the heap and the per-row queued days, at capacity. */
  get bytes(): number {
    return this.days.byteLength + this.items.byteLength + this.queued.byteLength;
  }

  /** Queues row `item` for `day` (Infinity unqueues it). Replaces any earlier scheduling of the same item. */
  schedule(item: number, day: number): void {
    if (item >= this.queued.length) {
      const queued = new Float32Array(Math.max(64, item + 1, Math.ceil(this.queued.length * 1.5))).fill(Infinity);
      queued.set(this.queued);
      this.queued = queued;
    }
    if (this.queued[item] === day) return;
    if (this.queued[item] !== Infinity) this.live--;
    this.queued[item] = day;
    if (day === Infinity) return;
    this.live++;
    this.push(day, item);
    if (this.length > 64 && this.length > 2 * this.live) this.compact();
  }

  /** The earliest queued day (Infinity when empty), skipping stale entries. */
  peekDay(): number {
    this.dropStale();
    return this.length ? this.days[0]! : Infinity;
  }

  /** Removes and returns every item queued on or before `day`, earliest first. Each leaves the queue. */
  takeUntil(day: number): number[] {
    const due: number[] = [];
    for (;;) {
      this.dropStale();
      if (this.length === 0 || this.days[0]! > day) return due;
      const item = this.pop();
      this.queued[item] = Infinity;
      this.live--;
      due.push(item);
    }
  }

  /** Empties the queue (every item is marked unqueued). */
  clear(): void {
    this.queued.fill(Infinity);
    this.length = 0;
    this.live = 0;
  }

  private dropStale(): void {
    while (this.length && this.queued[this.items[0]!] !== this.days[0]) this.pop();
  }

  private compact(): void {
    const { days, items } = this;
    let kept = 0;
    for (let i = 0; i < this.length; i++) {
      if (this.queued[items[i]!] === days[i]) {
        days[kept] = days[i]!;
        items[kept++] = items[i]!;
      }
    }
    this.length = kept;
    for (let i = (kept >>> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  private push(day: number, item: number): void {
    if (this.length === this.days.length) {
      const capacity = Math.ceil(this.length * 1.5);
      const days = new Float32Array(capacity);
      days.set(this.days);
      this.days = days;
      const items = new Int32Array(capacity);
      items.set(this.items);
      this.items = items;
    }
    const days = this.days;
    const items = this.items;
    let i = this.length++;
    while (i > 0) {
      const parent = (i - 1) >>> 1;
      if (days[parent]! <= day) break;
      days[i] = days[parent]!;
      items[i] = items[parent]!;
      i = parent;
    }
    days[i] = day;
    items[i] = item;
  }

  private pop(): number {
    const top = this.items[0]!;
    const last = --this.length;
    if (last > 0) {
      this.days[0] = this.days[last]!;
      this.items[0] = this.items[last]!;
      this.siftDown(0);
    }
    return top;
  }

  private siftDown(start: number): void {
    const days = this.days;
    const items = this.items;
    const n = this.length;
    const day = days[start]!;
    const item = items[start]!;
    let i = start;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && days[child + 1]! < days[child]!) child++;
      if (days[child]! >= day) break;
      days[i] = days[child]!;
      items[i] = items[child]!;
      i = child;
    }
    days[i] = day;
    items[i] = item;
  }
}
