import { createReadStream } from 'node:fs';
import { CaregapsError, type ErrorCode } from '../errors.js';
import { lineBatches } from './lines.js';
import type { CaregapsRecord } from './types.js';
import { checkRecord } from './validate.js';

/** A record that passed validation, with where it came from. */
export interface AcceptedRecord {
  ok: true;
  record: CaregapsRecord;
  file?: string;
  line: number;
}

/** A line that was refused: kept whole (or its first kilobyte if oversized) with the reason. Never dropped. */
export interface QuarantinedRecord {
  ok: false;
  code: ErrorCode;
  reason: string;
  file?: string;
  line: number;
  /** The record id, when the line had one. */
  recordId?: string;
  text: string;
}

export type ReadResult = AcceptedRecord | QuarantinedRecord;

export interface ReadOptions {
  /** File name used in quarantine reports (defaults to the path when reading a file). */
  file?: string;
  /** Longest accepted line in bytes (default 1 MiB). Longer lines are quarantined, not buffered without limit. */
  maxLineBytes?: number;
}


function recordIdOf(value: unknown): string | undefined {
  const id = (value as { id?: unknown } | null)?.id;
  return typeof id === 'string' ? id : undefined;
}

/** Parses and validates one NDJSON line. Blank lines give `undefined`. */
export function readLine(text: string, line: number, file?: string): ReadResult | undefined {
  if (text.trim() === '') return undefined;
  const at = file === undefined ? { line } : { file, line };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, code: 'CG_RECORD_JSON', reason: (error as Error).message, text, ...at };
  }
  const fault = checkRecord(value);
  if (fault) {
    const recordId = recordIdOf(value);
    return { ok: false, code: fault.code, reason: fault.message, text, ...at, ...(recordId ? { recordId } : {}) };
  }
  return { ok: true, record: value as CaregapsRecord, ...at };
}

/**
 * Reads record format v1 as NDJSON from a file path or a stream of chunks, validating every line.
 * Yields each accepted record and each quarantined line in input order; a bad line never stops the stream.
 */
export async function* readRecords(
  source: string | AsyncIterable<string | Uint8Array>,
  options: ReadOptions = {},
): AsyncGenerator<ReadResult> {
  const file = options.file ?? (typeof source === 'string' ? source : undefined);
  const chunks = typeof source === 'string' ? readable(source) : source;
  for await (const batch of lineBatches(chunks, options.maxLineBytes)) {
    for (const { line, text, tooLong, invalidUtf8 } of batch) {
      if (tooLong || invalidUtf8) {
        const at = file === undefined ? { line } : { file, line };
        yield tooLong
          ? { ok: false, code: 'CG_RECORD_TOO_LONG', reason: 'line exceeds maxLineBytes', text: text.slice(0, 1024), ...at }
          : { ok: false, code: 'CG_RECORD_ENCODING', reason: 'the line is not valid UTF-8 (U+FFFD marks the bad bytes in text)', text: text.slice(0, 1024), ...at };
        continue;
      }
      const result = readLine(text, line, file);
      if (result) yield result;
    }
  }
}

/** The chunks of a file; an unreadable file is a CG_INPUT error that names it. */
async function* readable(path: string): AsyncGenerator<Uint8Array> {
  try {
    for await (const chunk of createReadStream(path)) yield chunk as Uint8Array;
  } catch (error) {
    if (typeof (error as NodeJS.ErrnoException).code === 'string') {
      throw new CaregapsError('CG_INPUT', `Cannot read ${path}: ${(error as Error).message}`);
    }
    throw error;
  }
}

/** Counts quarantined lines by code and keeps them for reporting. */
export class Quarantine {
  readonly items: QuarantinedRecord[] = [];
  readonly counts = new Map<ErrorCode, number>();

  add(item: QuarantinedRecord): void {
    this.items.push(item);
    this.counts.set(item.code, (this.counts.get(item.code) ?? 0) + 1);
  }

  get size(): number {
    return this.items.length;
  }
}
