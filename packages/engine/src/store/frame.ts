import { crc32 } from 'node:zlib';
import { CaregapsError } from '@caregaps/core';

/**
 * Every value the record store writes is framed with a checksum, so damage to a value — or to its key, which the
 * checksum also covers — is found when the value is read, never passed on:
 *
 *   crc32 (u32 LE, over the key text and every byte after it) | kind (u8) | flags (u8) | handle (u32 LE) |
 *   version (f64 LE, NaN when absent) | NHS number (10 ASCII bytes, zeros when none) | body (the received bytes)
 */
export const HEADER_BYTES = 28;

/** What a value is. */
export const KIND = {
  /** An NHS number with events but no patient record yet (no body). */
  placeholder: 0,
  patient: 1,
  event: 2,
  /** A retraction, kept so it holds whichever of it and its event arrives first. */
  tombstone: 3,
  organisation: 4,
  quarantined: 5,
  /** The store's own bookkeeping (state, owner, format). */
  meta: 6,
  /** An event handle's identity, `[id, source]` as JSON. */
  handle: 7,
} as const;

/** A framed value's header, read back. */
export interface Header {
  kind: number;
  flags: number;
  handle: number;
  /** `undefined` when the record has no version. */
  version: number | undefined;
  /** `''` when none. */
  nhsNumber: string;
}

/** Frames a body (already-encoded bytes, or a string written as UTF-8 once) under its key text. */
export function frame(keyText: string, kind: number, body: Uint8Array | string, handle = 0, version?: number, nhsNumber = '', flags = 0): Buffer {
  const bodyBytes = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  const out = Buffer.allocUnsafe(HEADER_BYTES + bodyBytes);
  out[4] = kind;
  out[5] = flags;
  out.writeUInt32LE(handle, 6);
  out.writeDoubleLE(version ?? Number.NaN, 10);
  out.fill(0, 18, 28);
  if (nhsNumber !== '') out.write(nhsNumber, 18, 10, 'latin1');
  if (typeof body === 'string') out.write(body, HEADER_BYTES, 'utf8');
  else out.set(body, HEADER_BYTES);
  out.writeUInt32LE(crc32(out.subarray(4), crc32(keyText)), 0);
  return out;
}

/** The stored value's checksum matches its key and bytes. */
export function intact(keyText: string, value: Uint8Array): boolean {
  if (value.length < HEADER_BYTES) return false;
  const bytes = Buffer.from(value.buffer, value.byteOffset, value.length);
  return bytes.readUInt32LE(0) === crc32(bytes.subarray(4), crc32(keyText));
}

/** Reads a header of a value already checked with `intact`. */
export function header(value: Uint8Array): Header {
  const bytes = Buffer.from(value.buffer, value.byteOffset, value.length);
  const version = bytes.readDoubleLE(10);
  return {
    kind: bytes[4]!,
    flags: bytes[5]!,
    handle: bytes.readUInt32LE(6),
    version: Number.isNaN(version) ? undefined : version,
    nhsNumber: bytes[18] === 0 ? '' : bytes.toString('latin1', 18, 28),
  };
}

/** A value's body as text. */
export function bodyText(value: Uint8Array): string {
  return Buffer.from(value.buffer, value.byteOffset, value.length).toString('utf8', HEADER_BYTES);
}

/** The loud failure for a damaged value: a coded error naming the database and key. */
export function damaged(db: string, keyText: string, what = 'fails its checksum'): CaregapsError {
  const key = keyText.replaceAll('\u0000', ' | ');
  return new CaregapsError('CG_STORE_DAMAGED', `Record store value ${db}[${key}] ${what}: run \`caregaps store verify\` for the full list`);
}

/** A 4-byte value that is only a checksum of its key (index entries). */
export function keyCheck(keyText: string): Buffer {
  const out = Buffer.allocUnsafe(4);
  out.writeUInt32LE(crc32(keyText), 0);
  return out;
}

export function keyCheckHolds(keyText: string, value: Uint8Array | undefined): boolean {
  return value !== undefined && value.length === 4 && Buffer.from(value.buffer, value.byteOffset, 4).readUInt32LE(0) === crc32(keyText);
}
