import { crc32 } from 'node:zlib';
import { CaregapsError } from '@caregaps/core';

/**
 * Every value the record store writes is framed with a checksum, so damage to a value — or to its key, which the
 * checksum also covers — is found when the value is read, never passed on:
 *
 *   kind (u8) | flags (u8) | [version (f64 LE) when flags has HAS_VERSION] | payload | crc32 (u32 LE)
 *
 * The CRC-32 runs over the key's bytes and then every value byte before it. The kind comes first so that no value
 * starts with a byte lmdb-js reads as its own compression marker (≥ 250).
 */
export const KIND = {
  patient: 1,
  event: 2,
  /** A retraction, kept so it holds whichever of it and its event arrives first. */
  tombstone: 3,
  organisation: 4,
  quarantined: 5,
  /** The store's own bookkeeping (state, owner, format). */
  meta: 6,
} as const;

export const HAS_VERSION = 1;
const CRC_BYTES = 4;

/** A key for lmdb-js: the first `len` bytes of `buf` (see `KEY_ENCODER`). */
export interface KeyBytes {
  buf: Uint8Array;
  len: number;
}

const copy = Buffer.prototype.copy;
const slice = Uint8Array.prototype.slice;

/**
 * lmdb-js key encoding for `KeyBytes`: the key is copied straight into lmdb-js's key buffer, so a key built in a
 * reused buffer costs no allocation; keys read back (ranges) are copies.
 */
export const KEY_ENCODER = {
  writeKey: (key: KeyBytes | Uint8Array, target: Uint8Array, start: number): number => {
    if (key instanceof Uint8Array) {
      // lmdb-js's own range bounds (the first key of a database)
      target.set(key, start);
      return start + key.length;
    }
    const { buf, len } = key;
    // Byte by byte: Buffer#copy of part of a buffer allocates a view per call, and keys are short.
    if (len <= 64) for (let i = 0; i < len; i++) target[start + i] = buf[i]!;
    else copy.call(buf, target, start, 0, len);
    return start + len;
  },
  readKey: (target: Uint8Array, start: number, end: number): Buffer => slice.call(target, start, end) as Buffer,
};

/** A key of its own (not in a `Framer`'s reused buffer): for range bounds and one-off lookups. */
export function keyOf(bytes: Buffer): KeyBytes {
  return { buf: bytes, len: bytes.length };
}

/**
 * Builds one key and its framed value at a time in one reused buffer — the key, then the value right after it, so
 * one CRC-32 call covers both — and hands them to lmdb-js without allocating: the key as `KeyBytes`, the value as
 * the buffer itself with lmdb-js's `start`/`end` range. lmdb-js copies both during a synchronous put, so the buffer
 * is free again when the put returns.
 */
export class Framer {
  /** The reused buffer; `start`/`end` mark the value for lmdb-js. */
  buf: Buffer & { start: number; end: number };
  readonly key: KeyBytes;
  /** Write position while building. */
  at = 0;
  /** `views[n]`: the first n bytes of `buf` (for a CRC-32 without allocating a view per value). */
  private views: Buffer[] = [];

  constructor() {
    this.buf = Framer.allocate(64 * 1024);
    this.key = { buf: this.buf, len: 0 };
  }

  private static allocate(size: number): Buffer & { start: number; end: number } {
    // A buffer of its own (not a slice of Node's pool), so lmdb-js's cached address of its memory is the buffer's.
    const buf = Buffer.from(new ArrayBuffer(size)) as Buffer & { start: number; end: number };
    buf.start = 0;
    buf.end = 0;
    return buf;
  }

  /** Makes room for `more` bytes after `at` (keeping what is written). */
  ensure(more: number): void {
    if (this.at + more <= this.buf.length) return;
    const bigger = Framer.allocate(Math.max(this.buf.length * 2, this.at + more + 1024));
    this.buf.copy(bigger, 0, 0, this.at);
    this.buf = bigger;
    this.key.buf = bigger;
    this.views = [];
  }

  /** Starts a key. */
  beginKey(): void {
    this.at = 0;
  }

  latin1(text: string): void {
    this.ensure(text.length);
    this.at += this.buf.write(text, this.at, 'latin1');
  }

  utf8(text: string): void {
    this.ensure(text.length * 3);
    this.at += this.buf.write(text, this.at, 'utf8');
  }

  u16be(n: number): void {
    this.ensure(2);
    this.buf.writeUInt16BE(n, this.at);
    this.at += 2;
  }

  u32be(n: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(n, this.at);
    this.at += 4;
  }

  u32le(n: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(n, this.at);
    this.at += 4;
  }

  bytes(body: Uint8Array): void {
    this.ensure(body.length);
    this.buf.set(body, this.at);
    this.at += body.length;
  }

  /** Ends the key and starts its value: kind, flags and (when given) the version. */
  beginValue(kind: number, version?: number): void {
    this.key.len = this.at;
    this.ensure(10);
    this.buf[this.at++] = kind;
    if (version === undefined) this.buf[this.at++] = 0;
    else {
      this.buf[this.at++] = HAS_VERSION;
      this.buf.writeDoubleLE(version, this.at);
      this.at += 8;
    }
  }

  /** Ends the value with its CRC-32 (over key and value) and marks it for lmdb-js; returns the buffer to put. */
  endValue(): Buffer {
    this.ensure(CRC_BYTES);
    this.buf.writeUInt32LE(crc32(this.view(this.at)), this.at);
    this.at += CRC_BYTES;
    this.buf.start = this.key.len;
    this.buf.end = this.at;
    return this.buf;
  }

  /** The key built so far (ended), its bytes as a view for messages and checks. */
  endKey(): KeyBytes {
    this.key.len = this.at;
    return this.key;
  }

  keyView(): Buffer {
    return this.view(this.key.len);
  }

  private view(n: number): Buffer {
    let v = this.views[n];
    if (v === undefined) this.views[n] = v = this.buf.subarray(0, n);
    return v;
  }
}

/**
 * What CRC-32 gives over any bytes followed by their own CRC-32 (little-endian): so a value is checked with one call
 * over key and the whole value, without cutting the stored CRC off.
 */
const CRC32_RESIDUE = 0x2144df1c;

/** The stored value's checksum matches its key and bytes. */
export function intact(key: Uint8Array, value: Uint8Array): boolean {
  return value.length >= 2 + CRC_BYTES && crc32(exact(value), crc32(key)) === CRC32_RESIDUE;
}

/**
 * lmdb-js's `getBinaryFast` gives a buffer over its whole read buffer with `length` set to the value's size: native
 * code (CRC-32) would read the whole buffer, so such a value is viewed at its size first.
 */
function exact(value: Uint8Array): Uint8Array {
  return value.byteLength === value.length ? value : asBuffer(value);
}

/** Where a value's payload starts (after kind, flags and any version). */
export function payloadStart(value: Uint8Array): number {
  return value[1]! & HAS_VERSION ? 10 : 2;
}

/** A checked value's version, or `undefined`. */
export function versionOf(value: Uint8Array): number | undefined {
  return value[1]! & HAS_VERSION ? asBuffer(value).readDoubleLE(2) : undefined;
}

/** A checked value's payload as text. */
export function payloadText(value: Uint8Array): string {
  return asBuffer(value).toString('utf8', payloadStart(value), value.length - CRC_BYTES);
}

/** A checked value's payload bytes (a view, valid as long as `value` is). */
export function payload(value: Uint8Array): Buffer {
  return asBuffer(value).subarray(payloadStart(value), value.length - CRC_BYTES);
}

export function asBuffer(value: Uint8Array): Buffer {
  return Buffer.isBuffer(value) && value.byteLength === value.length ? value : Buffer.from(value.buffer, value.byteOffset, value.length);
}

/** The loud failure for a damaged value: a coded error naming the database and key. */
export function damaged(db: string, keyText: string, what = 'fails its checksum'): CaregapsError {
  return new CaregapsError('CG_STORE_DAMAGED', `Record store value ${db}[${keyText}] ${what}: run \`caregaps store verify\` for the full list`);
}
