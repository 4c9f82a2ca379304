import { KEY_ENCODER, intact } from './frame.js';

/**
 * Reading keys and values where lmdb-js reads them, for passes over many records (a rebuild reads every one).
 * Through a database opened with `IN_PLACE_OPTIONS`, a range gives each key and value as a view into lmdb-js's own
 * read buffers (`InPlaceKey`, `InPlaceValue`: the same two objects for every entry, valid until the next read)
 * instead of a new Buffer per key and per value. `InPlaceReader` checks a value's checksum over exact views it
 * keeps per length, so a pass allocates nothing per value.
 */

/** The current key: `bytes[start, end)` (lmdb-js's key buffer). */
export interface InPlaceKey {
  bytes: Buffer;
  start: number;
  end: number;
}

/** The current value: `bytes[0, size)` (lmdb-js's read buffer, or for a large value a buffer of its own). */
export interface InPlaceValue {
  bytes: Buffer;
  size: number;
}

const key: InPlaceKey = { bytes: Buffer.alloc(0), start: 0, end: 0 };
const value: InPlaceValue = { bytes: Buffer.alloc(0), size: 0 };

/**
 * lmdb-js database options: keys written as `KEY_ENCODER` writes them (range bounds), read back as the shared
 * `InPlaceKey`; values handed to a decoder that says it copies (`needsStableBuffer` unset), so lmdb-js passes its
 * read buffer itself, and the decoder keeps it as the shared `InPlaceValue`. For reading only.
 */
export const IN_PLACE_OPTIONS = {
  encoding: 'binary',
  keyEncoder: {
    writeKey: KEY_ENCODER.writeKey,
    readKey: (target: Buffer, start: number, end: number): InPlaceKey => {
      key.bytes = target;
      key.start = start;
      key.end = end;
      return key;
    },
  },
  encoder: {
    decode: (bytes: Buffer, size: number): InPlaceValue => {
      value.bytes = bytes;
      value.size = size;
      return value;
    },
  },
} as const;

/** Checks values read in place against their checksums, over exact views kept per length (none made per value). */
export class InPlaceReader {
  private keyBuffer: Buffer | undefined;
  private keyStart = -1;
  private keyViews: Buffer[] = [];
  private valueBuffer: Buffer | undefined;
  private valueViews: Buffer[] = [];

  /** The key's bytes as a view of its exact length (reused: valid until the next read). */
  keyView(k: InPlaceKey): Buffer {
    if (k.bytes !== this.keyBuffer || k.start !== this.keyStart) {
      this.keyBuffer = k.bytes;
      this.keyStart = k.start;
      this.keyViews = [];
    }
    const length = k.end - k.start;
    return (this.keyViews[length] ??= k.bytes.subarray(k.start, k.end));
  }

  /** The value's bytes as a view of its exact length (reused: valid until the next read). */
  valueView(v: InPlaceValue): Buffer {
    if (v.bytes !== this.valueBuffer) {
      this.valueBuffer = v.bytes;
      this.valueViews = [];
    }
    return (this.valueViews[v.size] ??= v.bytes.subarray(0, v.size));
  }

  /** The value's checksum matches its key and bytes (see `frame.ts`). */
  intact(k: InPlaceKey, v: InPlaceValue): boolean {
    return intact(this.keyView(k), this.valueView(v));
  }
}
