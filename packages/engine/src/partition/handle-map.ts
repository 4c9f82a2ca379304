/**
 * Store handles → integers (the hot state: events with named components → their runs): an open-addressing hash
 * table over two typed arrays (linear probing, backward-shift deletion, at most three quarters full), sized to the
 * entries held rather than to every handle the store has given out.
 */
export class HandleMap {
  /** handle + 1 per slot (0: empty). */
  private keys = new Int32Array(1024);
  private values = new Int32Array(1024);
  private count = 0;

  get bytes(): number {
    return this.keys.byteLength + this.values.byteLength;
  }

  /** The integer held for a handle, or -1. */
  get(handle: number): number {
    const keys = this.keys;
    const mask = keys.length - 1;
    for (let at = hash(handle) & mask; ; at = (at + 1) & mask) {
      const k = keys[at]!;
      if (k === 0) return -1;
      if (k === handle + 1) return this.values[at]!;
    }
  }

  set(handle: number, value: number): void {
    if (4 * (this.count + 1) > 3 * this.keys.length) this.grow();
    const keys = this.keys;
    const mask = keys.length - 1;
    for (let at = hash(handle) & mask; ; at = (at + 1) & mask) {
      const k = keys[at]!;
      if (k === 0 || k === handle + 1) {
        if (k === 0) this.count++;
        keys[at] = handle + 1;
        this.values[at] = value;
        return;
      }
    }
  }

  delete(handle: number): void {
    const keys = this.keys;
    const mask = keys.length - 1;
    let at = hash(handle) & mask;
    while (keys[at] !== handle + 1) {
      if (keys[at] === 0) return;
      at = (at + 1) & mask;
    }
    this.count--;
    // Shift back the entries after it that would no longer be found across the hole.
    for (let next = (at + 1) & mask; keys[next] !== 0; next = (next + 1) & mask) {
      const home = hash(keys[next]! - 1) & mask;
      if ((next > at && (home <= at || home > next)) || (next < at && home <= at && home > next)) {
        keys[at] = keys[next]!;
        this.values[at] = this.values[next]!;
        at = next;
      }
    }
    keys[at] = 0;
  }

  private grow(): void {
    const { keys, values } = this;
    this.keys = new Int32Array(keys.length * 2);
    this.values = new Int32Array(keys.length * 2);
    this.count = 0;
    for (let i = 0; i < keys.length; i++) if (keys[i] !== 0) this.set(keys[i]! - 1, values[i]!);
  }
}

/** A 32-bit integer mix (handles are sequential; linear probing wants them spread). */
function hash(handle: number): number {
  let h = Math.imul(handle ^ (handle >>> 16), 0x45d9f3b);
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b);
  return (h ^ (h >>> 16)) >>> 0;
}
