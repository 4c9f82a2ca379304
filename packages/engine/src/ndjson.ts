import type { LineBatch } from './partition/lines.js';
import { partitionOf } from './partition/route.js';

/**
 * The engine thread's part of NDJSON ingest: cutting lines out of byte chunks and finding where each line goes
 * without parsing it. The partitions parse, validate and store the lines' bytes.
 */

/** Lines cut from one chunk: ranges of `bytes`, with their line numbers (blank lines are left out). */
export interface ChunkLines {
  bytes: Uint8Array;
  starts: number[];
  ends: number[];
  lines: number[];
  /** Indexes (into the arrays above) of lines over the limit: their range is their head only. */
  tooLong: number[];
  /** Indexes of refusal lines (`LineBatch.refusals`), in order. */
  refusals?: number[];
  /** Per line, its file (`LineBatch.files`). */
  files?: (string | undefined)[];
}

const LF = 10;
const CR = 13;
const HEAD = 1024;

/**
 * Cuts a stream of byte chunks into lines: LF, CRLF and lone CR line breaks, a leading byte-order mark removed,
 * blank lines skipped (but counted), a line over `maxLineBytes` kept as its first kilobyte and flagged.
 */
export class LineSplitter {
  private line = 0;
  private rest: Uint8Array = new Uint8Array(0);
  /** The unfinished line is over the limit: its head is kept in `rest`, the remainder skipped up to its break. */
  private overflowing = false;
  private afterCR = false;

  constructor(private readonly maxLineBytes = 1 << 20) {}

  /** The complete lines of a chunk (with what was left of the previous one); `last` ends the stream. */
  push(chunk: Uint8Array, last = false): ChunkLines {
    let bytes = chunk;
    if (this.rest.length > 0) {
      bytes = new Uint8Array(this.rest.length + chunk.length);
      bytes.set(this.rest);
      bytes.set(chunk, this.rest.length);
    }
    const out: ChunkLines = { bytes, starts: [], ends: [], lines: [], tooLong: [] };
    let start = 0;
    // A CRLF split between two chunks: the LF opening this one belongs to the last line break.
    if (this.afterCR && bytes[0] === LF) start = 1;
    this.afterCR = false;
    if (this.line === 0 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) start = 3;
    let at = start;
    // The next CR is looked for again only once passed: most files have none, and looking from every line would
    // scan the rest of the chunk each time.
    let cr = bytes.indexOf(CR, at);
    for (;;) {
      const lf = bytes.indexOf(LF, at);
      if (cr >= 0 && cr < at) cr = bytes.indexOf(CR, at);
      const end = lf < 0 ? cr : cr < 0 ? lf : Math.min(lf, cr);
      if (end < 0) break;
      this.emit(out, start, end);
      let next = end + 1;
      if (bytes[end] === CR) {
        if (next < bytes.length) {
          if (bytes[next] === LF) next++;
        } else this.afterCR = true;
      }
      start = at = next;
    }
    if (last) {
      if (start < bytes.length) this.emit(out, start, bytes.length);
      this.rest = new Uint8Array(0);
    } else if (this.overflowing || bytes.length - start > this.maxLineBytes) {
      // Only the head of an over-long line is kept while its end is looked for.
      this.overflowing = true;
      this.rest = bytes.slice(start, start + Math.min(HEAD, bytes.length - start));
    } else this.rest = bytes.slice(start);
    return out;
  }

  private emit(out: ChunkLines, start: number, end: number): void {
    this.line++;
    const over = this.overflowing || end - start > this.maxLineBytes;
    this.overflowing = false;
    if (!over && blank(out.bytes, start, end)) return;
    if (over) {
      out.tooLong.push(out.starts.length);
      end = Math.min(end, start + HEAD);
    }
    out.starts.push(start);
    out.ends.push(end);
    out.lines.push(this.line);
  }
}

function blank(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const b = bytes[i]!;
    if (b !== 0x20 && b !== 0x09) return false;
  }
  return true;
}

const NHS_KEY = Buffer.from('"nhsNumber"');
const ID_KEY = Buffer.from('"id"');

/** Where a line goes: its partition, the hash of its event id (-1: none) and its patient (the NHS number's digits). */
export interface LineRoute {
  partition: number;
  identity: number;
  patient: number | undefined;
}

/**
 * Finds a line's NHS number (and event id) by scanning its bytes, without parsing it. `undefined` when the
 * line is not in the plain form a feed writes (no `"nhsNumber":"<10 digits>"`, an escaped id): the caller
 * parses it instead. A line the scan misreads (a key given twice) is refused by its partition, which checks the
 * parsed NHS number routes to it.
 */
export function scanRoute(bytes: Uint8Array, start: number, end: number, partitions: number): LineRoute | undefined {
  const nhsAt = valueAfter(bytes, start, end, NHS_KEY);
  if (nhsAt < 0 || nhsAt + 11 > end || bytes[nhsAt + 10] !== 0x22) return undefined;
  let digits = 0;
  let nhs = '';
  for (let i = nhsAt; i < nhsAt + 10; i++) {
    const b = bytes[i]!;
    if (b < 0x30 || b > 0x39) return undefined;
    digits = digits * 10 + (b - 0x30);
    nhs += String.fromCharCode(b);
  }
  const partition = partitionOf(nhs, partitions);
  const idAt = valueAfter(bytes, start, end, ID_KEY);
  if (idAt === NOT_A_STRING) return undefined;
  if (idAt < 0) return { partition, identity: -1, patient: digits };
  let hash = 0x811c9dc5;
  const idEnd = stringEnd(bytes, idAt, end);
  if (idEnd < 0) return undefined;
  for (let i = idAt; i < idEnd; i++) hash = Math.imul(hash ^ bytes[i]!, 0x01000193);
  return { partition, identity: (hash >>> 0) & 0x7fffffff, patient: digits };
}

/** The id hash `scanRoute` gives (over the id's UTF-8 bytes; see `identityHash`), from a parsed id. */
export function identityHashOfStrings(id: string): number {
  let hash = 0x811c9dc5;
  for (const b of Buffer.from(id)) hash = Math.imul(hash ^ b, 0x01000193);
  return (hash >>> 0) & 0x7fffffff;
}

const NOT_A_STRING = -2;

/**
 * The start of a key's string value (after `"key"`, spaces, `:`, spaces and the opening quote); -1 when the key is
 * not there, `NOT_A_STRING` when its value is not a string (or the key is nested in an object before it).
 */
function valueAfter(bytes: Uint8Array, start: number, end: number, key: Uint8Array): number {
  const last = end - key.length;
  outer: for (let i = start; i <= last; i++) {
    if (bytes[i] !== 0x22) continue;
    for (let k = 1; k < key.length; k++) if (bytes[i + k] !== key[k]) continue outer;
    let j = i + key.length;
    while (j < end && (bytes[j] === 0x20 || bytes[j] === 0x09)) j++;
    if (bytes[j] !== 0x3a) continue;
    j++;
    while (j < end && (bytes[j] === 0x20 || bytes[j] === 0x09)) j++;
    return bytes[j] === 0x22 ? j + 1 : NOT_A_STRING;
  }
  return -1;
}

/** The closing quote of a string value with no escapes, or -1 (an escape, or no end). */
function stringEnd(bytes: Uint8Array, from: number, end: number): number {
  for (let i = from; i < end; i++) {
    const b = bytes[i]!;
    if (b === 0x22) return i;
    if (b === 0x5c) return -1;
  }
  return -1;
}

/** Some lines of a chunk (by index into its arrays) gathered into one transferable buffer for a partition. */
export function lineBatchOf(chunk: ChunkLines, picked: readonly number[], file: string | undefined, last: boolean): LineBatch {
  let size = 0;
  for (const i of picked) size += chunk.ends[i]! - chunk.starts[i]!;
  const bytes = new Uint8Array(size);
  const starts = new Int32Array(picked.length);
  const ends = new Int32Array(picked.length);
  const lines = new Float64Array(picked.length);
  const tooLong = flagsOf(chunk.tooLong, picked);
  const refusals = chunk.refusals && flagsOf(chunk.refusals, picked);
  let at = 0;
  picked.forEach((i, k) => {
    bytes.set(chunk.bytes.subarray(chunk.starts[i]!, chunk.ends[i]!), at);
    starts[k] = at;
    at += chunk.ends[i]! - chunk.starts[i]!;
    ends[k] = at;
    lines[k] = chunk.lines[i]!;
  });
  return {
    bytes,
    starts,
    ends,
    lines,
    last,
    ...(tooLong ? { tooLong } : {}),
    ...(refusals ? { refusals } : {}),
    ...(chunk.files ? { files: picked.map((i) => chunk.files![i]) } : {}),
    ...(file === undefined ? {} : { file }),
  };
}

/** 1 for each picked line whose index is in `flagged`; `undefined` when none is. */
function flagsOf(flagged: readonly number[], picked: readonly number[]): Uint8Array | undefined {
  if (flagged.length === 0) return undefined;
  const set = new Set(flagged);
  let flags: Uint8Array | undefined;
  picked.forEach((i, k) => {
    if (set.has(i)) (flags ??= new Uint8Array(picked.length))[k] = 1;
  });
  return flags;
}
