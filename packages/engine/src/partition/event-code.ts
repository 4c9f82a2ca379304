/**
 * An event's code and its cluster set read from the event's stored bytes (JSON as received) without parsing it,
 * so that a rebuild parses only the events some registry reads (DESIGN §4: most of a GP feed is in no cluster).
 *
 * `EventCodeScan.scan` is certain only where it cannot be fooled; anywhere else it says so and the caller parses:
 * - with no backslash in the bytes, no string holds an escape or a quote: each string runs from a quote to the next,
 *   and a string `"code"` followed by `:` is a key named `code` (a value is followed by `,`, `}` or `]`);
 * - that key must occur exactly once (a second one, repeated or in a nested object, could be what `JSON.parse`
 *   keeps), with a string value;
 * - a `system` key, when there is one, must occur once with the value `"snomed"` (absent means SNOMED); any other
 *   system is left to the parse.
 * Whitespace and key order do not matter. Stored records are valid JSON (they were parsed when received).
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const CODE = Buffer.from('"code"');
const SYSTEM = Buffer.from('"system"');
const SNOMED = Buffer.from('"snomed"');

export class EventCodeScan {
  /** After a certain scan: the code's bytes are `[codeStart, codeEnd)` of the scanned bytes. */
  codeStart = 0;
  codeEnd = 0;

  /** Finds the code of the event whose JSON is `bytes[start, end)`; false when only a parse can be sure. */
  scan(bytes: Uint8Array, start: number, end: number): boolean {
    let codes = 0;
    let systems = 0;
    let i = start;
    while (i < end) {
      const c = bytes[i]!;
      if (c === BACKSLASH) return false;
      if (c !== QUOTE) {
        i++;
        continue;
      }
      // A string: its closing quote is the next quote (there are no escapes).
      let close = i + 1;
      while (close < end && bytes[close] !== QUOTE) if (bytes[close++] === BACKSLASH) return false;
      if (close >= end) return false;
      const length = close - i + 1;
      const value = length === CODE.length || length === SYSTEM.length ? valueAfterKey(bytes, close + 1, end) : -1;
      if (value >= 0 && matches(bytes, i, end, CODE)) {
        if (++codes > 1 || bytes[value] !== QUOTE) return false;
        let valueEnd = value + 1;
        while (valueEnd < end && bytes[valueEnd] !== QUOTE) if (bytes[valueEnd++] === BACKSLASH) return false;
        if (valueEnd >= end) return false;
        this.codeStart = value + 1;
        this.codeEnd = valueEnd;
        i = valueEnd + 1;
      } else if (value >= 0 && matches(bytes, i, end, SYSTEM)) {
        if (++systems > 1 || !matches(bytes, value, end, SNOMED)) return false;
        i = value + SNOMED.length;
      } else i = close + 1;
    }
    return codes === 1;
  }
}

/** Whether `bytes` holds `word` at `at` (before `end`). */
function matches(bytes: Uint8Array, at: number, end: number, word: Uint8Array): boolean {
  if (at + word.length > end) return false;
  for (let k = 1; k < word.length; k++) if (bytes[at + k] !== word[k]) return false;
  return bytes[at] === word[0];
}

/** After a string ending just before `at`: where its value starts when it is a key (`:` after spaces), else -1. */
function valueAfterKey(bytes: Uint8Array, at: number, end: number): number {
  let i = at;
  while (i < end && isSpace(bytes[i]!)) i++;
  if (bytes[i] !== COLON) return -1;
  i++;
  while (i < end && isSpace(bytes[i]!)) i++;
  return i < end ? i : -1;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/**
 * Codes by their bytes → a number the caller gives (its cluster set), found without making a string per lookup:
 * open addressing over typed arrays, keyed by FNV-1a of the bytes. A code not seen before is resolved once, as a
 * string, by `resolve`.
 */
export class CodeTable {
  private slots = new Int32Array(1024).fill(-1);
  private hashes = new Int32Array(256);
  private starts = new Int32Array(256);
  private lengths = new Int32Array(256);
  private values = new Int32Array(256);
  private pool = new Uint8Array(4096);
  private poolEnd = 0;
  private count = 0;

  constructor(private readonly resolve: (code: string) => number) {}

  /** The value of the code `bytes[start, end)`. */
  get(bytes: Uint8Array, start: number, end: number): number {
    let hash = 0x811c9dc5;
    for (let i = start; i < end; i++) hash = Math.imul(hash ^ bytes[i]!, 0x01000193);
    hash |= 0; // as Int32Array keeps it (also with no bytes)
    const mask = this.slots.length - 1;
    const length = end - start;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const entry = this.slots[slot]!;
      if (entry < 0) return this.add(slot, hash, bytes, start, end);
      if (this.hashes[entry] !== hash || this.lengths[entry] !== length) continue;
      const at = this.starts[entry]!;
      let same = true;
      for (let k = 0; same && k < length; k++) same = this.pool[at + k] === bytes[start + k];
      if (same) return this.values[entry]!;
    }
  }

  private add(slot: number, hash: number, bytes: Uint8Array, start: number, end: number): number {
    const code = Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('utf8');
    const value = this.resolve(code);
    const entry = this.count++;
    if (entry === this.hashes.length) {
      this.hashes = grow(this.hashes);
      this.starts = grow(this.starts);
      this.lengths = grow(this.lengths);
      this.values = grow(this.values);
    }
    const length = end - start;
    if (this.poolEnd + length > this.pool.length) {
      const pool = new Uint8Array(Math.max(this.pool.length * 2, this.poolEnd + length));
      pool.set(this.pool);
      this.pool = pool;
    }
    this.pool.set(bytes.subarray(start, end), this.poolEnd);
    this.hashes[entry] = hash;
    this.starts[entry] = this.poolEnd;
    this.lengths[entry] = length;
    this.values[entry] = value;
    this.poolEnd += length;
    this.slots[slot] = entry;
    if (this.count * 2 > this.slots.length) this.rehash();
    return value;
  }

  private rehash(): void {
    this.slots = new Int32Array(this.slots.length * 2).fill(-1);
    const mask = this.slots.length - 1;
    for (let entry = 0; entry < this.count; entry++) {
      let slot = this.hashes[entry]! & mask;
      while (this.slots[slot]! >= 0) slot = (slot + 1) & mask;
      this.slots[slot] = entry;
    }
  }
}

function grow(array: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const next = new Int32Array(array.length * 2);
  next.set(array);
  return next;
}
