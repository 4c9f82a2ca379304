import type { QuarantinedRecord } from '@caregaps/core';
import type { ChunkLines } from './ndjson.js';
import { isReadResult, quarantinedOf, safeText } from './partition/lines.js';

/**
 * Parsed items (records, unparsed objects, `readRecords` results) encoded once, on the engine thread, as the NDJSON
 * lines the partitions parse, validate and store as they are: one buffer per batch, moved to a worker rather than
 * copied object by object, and no second encoding in the store. An item is taken as its JSON text (what the store
 * keeps and replays), so the record checked is the record stored. An item with no JSON form (a cycle, a BigInt, a
 * function) and a refused read result become refusal lines (`LineBatch.refusals`), kept and counted in order.
 */
export class RecordLines {
  private buf = Buffer.allocUnsafe(1 << 20);
  private at = 0;
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  private readonly lines: number[] = [];
  private files: (string | undefined)[] | undefined;
  private readonly refusals: number[] = [];
  /** The file of every line so far, while they share one (`files` is made when one differs). */
  private file: string | undefined;

  get size(): number {
    return this.starts.length;
  }

  /** Adds one item as a line: `line` and `file` unless a read result carries its own. */
  add(item: unknown, line: number, file: string | undefined): void {
    let value = item;
    if (isReadResult(item)) {
      if (typeof item.line === 'number' && Number.isSafeInteger(item.line)) line = item.line;
      if (typeof item.file === 'string') file = item.file;
      if (!item.ok) return this.addRefusal(quarantinedOf(item, line, file), line, file);
      value = item.record;
    }
    let text: string | undefined;
    let why = 'it is not a JSON value';
    try {
      text = JSON.stringify(value);
    } catch (error) {
      why = (error as Error).message ?? String(error);
    }
    if (text === undefined) {
      const id = (value as { id?: unknown } | null)?.id;
      const refusal: QuarantinedRecord = { ok: false, code: 'CG_RECORD_SCHEMA', reason: `the record cannot be written as JSON: ${why}`, line, text: safeText(value) };
      if (file !== undefined) refusal.file = file;
      if (typeof id === 'string') refusal.recordId = id;
      return this.addRefusal(refusal, line, file);
    }
    this.addLine(text, line, file);
  }

  private addRefusal(refusal: QuarantinedRecord, line: number, file: string | undefined): void {
    this.refusals.push(this.size);
    this.addLine(JSON.stringify(refusal), line, file);
  }

  private addLine(text: string, line: number, file: string | undefined): void {
    const i = this.size;
    if (i === 0) this.file = file;
    else if (file !== this.file && this.files === undefined) this.files = new Array<string | undefined>(i).fill(this.file);
    this.files?.push(file);
    // A UTF-16 unit takes at most 3 bytes in UTF-8.
    if (this.at + text.length * 3 > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + text.length * 3));
      this.buf.copy(bigger, 0, 0, this.at);
      this.buf = bigger;
    }
    this.starts.push(this.at);
    this.at += this.buf.write(text, this.at, 'utf8');
    this.ends.push(this.at);
    this.lines.push(line);
  }

  /** The lines so far as a chunk (valid until `clear`), and the file they share (when they do). */
  chunk(): { chunk: ChunkLines; file: string | undefined } {
    const chunk: ChunkLines = { bytes: this.buf, starts: this.starts, ends: this.ends, lines: this.lines, tooLong: [] };
    if (this.refusals.length > 0) chunk.refusals = this.refusals;
    if (this.files !== undefined) chunk.files = this.files;
    return { chunk, file: this.files === undefined ? this.file : undefined };
  }

  clear(): void {
    this.at = 0;
    this.starts.length = 0;
    this.ends.length = 0;
    this.lines.length = 0;
    this.refusals.length = 0;
    this.files = undefined;
    this.file = undefined;
  }
}
