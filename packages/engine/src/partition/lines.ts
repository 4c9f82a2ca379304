import { isUtf8 } from 'node:buffer';
import type { QuarantinedRecord } from '@caregaps/core';

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

/** Line i of a batch parsed, or its refusal (not UTF-8, over-long, not JSON: with the column JSON.parse stopped at). */
export function parseLine(batch: LineBatch, i: number): ParsedLine | QuarantinedRecord {
  const bytes = batch.bytes.subarray(batch.starts[i]!, batch.ends[i]!);
  const line = batch.lines[i]!;
  const at = batch.file === undefined ? { line } : { file: batch.file, line };
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8');
  if (batch.tooLong?.[i] === 1) return { ok: false, code: 'CG_RECORD_TOO_LONG', reason: 'line exceeds maxLineBytes', text: text.slice(0, 1024), ...at };
  if (!isUtf8(bytes)) {
    return { ok: false, code: 'CG_RECORD_ENCODING', reason: 'the line is not valid UTF-8 (U+FFFD marks the bad bytes in text)', text: text.slice(0, 1024), ...at };
  }
  try {
    return { ok: true, value: JSON.parse(text), bytes, line, text };
  } catch (error) {
    const message = (error as Error).message;
    const position = /position (\d+)/.exec(message);
    const reason = position ? `column ${Number(position[1]) + 1}: ${message}` : message;
    return { ok: false, code: 'CG_RECORD_JSON', reason, text: text.slice(0, 1024), ...at };
  }
}
