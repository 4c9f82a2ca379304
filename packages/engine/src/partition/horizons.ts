/**
 * A min-priority queue of patient rows keyed by horizon day (a binary heap over parallel arrays). Deletion is lazy:
 * rescheduling a row pushes a new entry and the old one is skipped when it surfaces, because the row's queued day
 * no longer matches it. The heap is rebuilt when stale entries outnumber live ones.
 */
export class HorizonQueue {
  private days: number[] = [];
  private items: number[] = [];
  /** Per row, the day it is queued under (Infinity when not queued). */
  private queued = new Float64Array(0);
  private live = 0;

  get size(): number {
    return this.live;
  }

  /** Queues row `item` for `day` (Infinity unqueues it). Replaces any earlier scheduling of the same item. */
  schedule(item: number, day: number): void {
    if (item >= this.queued.length) {
      const queued = new Float64Array(Math.max(64, (item + 1) * 2)).fill(Infinity);
      queued.set(this.queued);
      this.queued = queued;
    }
    if (this.queued[item] === day) return;
    if (this.queued[item] !== Infinity) this.live--;
    this.queued[item] = day;
    if (day === Infinity) return;
    this.live++;
    this.push(day, item);
    if (this.days.length > 64 && this.days.length > 2 * this.live) this.compact();
  }

  /** The earliest queued day (Infinity when empty), skipping stale entries. */
  peekDay(): number {
    this.dropStale();
    return this.days.length ? this.days[0]! : Infinity;
  }

  /** Removes and returns every item queued on or before `day`, earliest first. Each leaves the queue. */
  takeUntil(day: number): number[] {
    const due: number[] = [];
    for (;;) {
      this.dropStale();
      if (this.days.length === 0 || this.days[0]! > day) return due;
      const item = this.pop();
      this.queued[item] = Infinity;
      this.live--;
      due.push(item);
    }
  }

  /** Empties the queue (every item is marked unqueued). */
  clear(): void {
    this.queued.fill(Infinity);
    this.days = [];
    this.items = [];
    this.live = 0;
  }

  private dropStale(): void {
    while (this.days.length && this.queued[this.items[0]!] !== this.days[0]) this.pop();
  }

  private compact(): void {
    const days: number[] = [];
    const items: number[] = [];
    for (let i = 0; i < this.items.length; i++) {
      if (this.queued[this.items[i]!] === this.days[i]) {
        days.push(this.days[i]!);
        items.push(this.items[i]!);
      }
    }
    this.days = days;
    this.items = items;
    for (let i = (days.length >>> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  private push(day: number, item: number): void {
    const days = this.days;
    const items = this.items;
    let i = days.length;
    days.push(day);
    items.push(item);
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
    const lastDay = this.days.pop()!;
    const lastItem = this.items.pop()!;
    if (this.days.length) {
      this.days[0] = lastDay;
      this.items[0] = lastItem;
      this.siftDown(0);
    }
    return top;
  }

  private siftDown(start: number): void {
    const days = this.days;
    const items = this.items;
    const n = days.length;
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
