import { isUtf8 } from 'node:buffer';
import { ERRORS, type QuarantinedRecord, type ReadResult } from '@caregaps/core';

/**
 * NDJSON lines for one partition, as received: the lines' bytes back to back (a transferable buffer), where each
 * line starts and ends in it, and its line number in its file. Nothing is decoded on the way here.
 */
export interface LineBatch {
  bytes: Uint8Array;
  /** Line i is `bytes[starts[i] .. ends[i])`, without its line break. */
  starts: Int32Array;
  ends: Int32Array;
  /** Line numbers in the file (from 1). */
  lines: Float64Array;
  /** 1 where the line was longer than the reader's limit (its bytes are then only its head). */
  tooLong?: Uint8Array;
  /** File name for quarantine reports. */
  file?: string;
  /** Per line, its own file name for quarantine reports (where lines of one batch come from several files). */
  files?: (string | undefined)[];
  /**
   * 1 where the line is a refusal its sender already decided (a refused `readRecords` result, an item with no JSON
   * form), as the JSON of a `QuarantinedRecord`: it is kept and counted as refused, never stored as a record.
   */
  refusals?: Uint8Array;
  /** As `RecordBatch.last`. */
  last?: boolean;
}

/** A parsed line: the value and the bytes to store as they are. */
export interface ParsedLine {
  ok: true;
  value: unknown;
  bytes: Uint8Array;
  line: number;
  text: string;
}

/**
 * Parses the lines of one batch. The whole batch is checked for UTF-8 once (a line break never falls inside a
 * character, so every line of a valid batch is valid); only a batch that fails is checked line by line.
 */
export class LineParser {
  private readonly all: Buffer;
  private readonly allUtf8: boolean;

  constructor(private readonly batch: LineBatch) {
    this.all = Buffer.from(batch.bytes.buffer, batch.bytes.byteOffset, batch.bytes.length);
    this.allUtf8 = isUtf8(this.all);
  }

  /** The file line i came from. */
  fileOf(i: number): string | undefined {
    return this.batch.files?.[i] ?? this.batch.file;
  }

  /** Line i parsed, or its refusal (not UTF-8, over-long, not JSON: with the column JSON.parse stopped at). */
  parse(i: number): ParsedLine | QuarantinedRecord {
    const { batch } = this;
    const start = batch.starts[i]!;
    const end = batch.ends[i]!;
    const line = batch.lines[i]!;
    const file = this.fileOf(i);
    const at = file === undefined ? { line } : { file, line };
    const text = this.all.toString('utf8', start, end);
    if (batch.tooLong?.[i] === 1) return { ok: false, code: 'CG_RECORD_TOO_LONG', reason: 'line exceeds maxLineBytes', text: text.slice(0, 1024), ...at };
    const bytes = batch.bytes.subarray(start, end);
    if (!this.allUtf8 && !isUtf8(bytes)) {
      return { ok: false, code: 'CG_RECORD_ENCODING', reason: 'the line is not valid UTF-8 (U+FFFD marks the bad bytes in text)', text: text.slice(0, 1024), ...at };
    }
    if (batch.refusals?.[i] === 1) return refusalLine(text, line, file);
    return parseText(text, bytes, line, at);
  }
}

/** A refusal line (see `LineBatch.refusals`), checked as a refused read result is. */
function refusalLine(text: string, line: number, file: string | undefined): QuarantinedRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  return quarantinedOf((typeof value === 'object' && value !== null ? value : {}) as QuarantinedRecord, line, file);
}

function parseText(text: string, bytes: Uint8Array, line: number, at: { line: number; file?: string }): ParsedLine | QuarantinedRecord {
  try {
    return { ok: true, value: JSON.parse(text), bytes, line, text };
  } catch (error) {
    const message = (error as Error).message;
    const position = /position (\d+)/.exec(message);
    const reason = position ? `column ${Number(position[1]) + 1}: ${message}` : message;
    return { ok: false, code: 'CG_RECORD_JSON', reason, text: text.slice(0, 1024), ...at };
  }
}

/** A refused `readRecords` result as given, or (when its fields are not what a reader writes) as a schema fault. */
export function quarantinedOf(item: QuarantinedRecord, line: number, file: string | undefined): QuarantinedRecord {
  const wellFormed = typeof item.code === 'string' && Object.hasOwn(ERRORS, item.code) && typeof item.reason === 'string' && typeof item.text === 'string';
  const out: QuarantinedRecord = wellFormed
    ? { ok: false, code: item.code, reason: item.reason, line, text: item.text.slice(0, 1024) }
    : { ok: false, code: 'CG_RECORD_SCHEMA', reason: 'a refused read result must carry an error code, a reason and the text', line, text: safeText(item) };
  if (file !== undefined) out.file = file;
  if (wellFormed && typeof item.recordId === 'string') out.recordId = item.recordId;
  return out;
}

/** The start of an item as text, for a quarantine report. */
export function safeText(item: unknown): string {
  try {
    return (JSON.stringify(item) ?? String(item)).slice(0, 1024);
  } catch {
    return String(item).slice(0, 1024);
  }
}

/** Whether an item is a `readRecords` result (a record or refusal with its line) rather than a record. */
export function isReadResult(item: unknown): item is ReadResult {
  return typeof item === 'object' && item !== null && typeof (item as { ok?: unknown }).ok === 'boolean' && !('kind' in item);
}
