// Splitting a byte or text stream into numbered lines, shared by the record reader and the source adapters.
import { isUtf8 } from 'node:buffer';

/** Why a line cannot be read as it is: longer than the limit, or bytes that are not UTF-8. */
export type LineFault = 'too-long' | 'invalid-utf8';

/** One line of an input: its number (from 1), text without the line break, and whether it can be read as it is. */
export interface SourceLine {
  line: number;
  text: string;
  tooLong: boolean;
  /** The line's bytes are not valid UTF-8 (`text` holds U+FFFD in their place): quarantine it, never read it. */
  invalidUtf8: boolean;
}

/**
 * The lines of a stream of chunks, a batch per chunk (one await per chunk, not per line): LF, CRLF and lone CR
 * line breaks in any mix, a leading byte-order mark removed, lines over `maxLineBytes` reported by their head only,
 * lines whose bytes are not UTF-8 flagged.
 */
export function lineBatches(chunks: AsyncIterable<string | Uint8Array>, maxLineBytes = 1 << 20): AsyncGenerator<SourceLine[]> {
  return readLineBatches(chunks, maxLineBytes, (line, text, fault) => ({ line, text, tooLong: fault === 'too-long', invalidUtf8: fault === 'invalid-utf8' }));
}

const LF = 10;
const CR = 13;
/** Kept of an over-long line, for the quarantine report. */
const HEAD = 1024;

/**
 * `lineBatches`, each line passed to `read` as it is cut (number, text, fault) and what `read` returns collected
 * (`undefined` leaves the line out): readers that turn lines into something else allocate nothing per line on the
 * way. A batch comes out for every chunk that ends at least one line. Byte chunks are checked to be UTF-8 a chunk at
 * a time (one native call); only a chunk that fails is checked line by line, so a bad line never hides a good one.
 */
export async function* readLineBatches<T>(
  chunks: AsyncIterable<string | Uint8Array>,
  maxLineBytes: number,
  read: (line: number, text: string, fault: LineFault | undefined) => T | undefined,
): AsyncGenerator<T[]> {
  let line = 0;
  /** The previous chunk ended in CR: an LF opening this one belongs to that line break. */
  let afterCR = false;
  /** The unfinished line: its text (text chunks) or bytes (byte chunks). */
  let pendingText = '';
  let pendingBytes: Buffer[] = [];
  let pendingSize = 0;
  /** The unfinished line is over the limit: only its head is kept, the rest skipped up to the next line break. */
  let overflow: string | undefined;
  let batch: T[] = [];

  const tooLong = (text: string) => text.length > maxLineBytes || (text.length * 3 > maxLineBytes && Buffer.byteLength(text) > maxLineBytes);
  const emit = (text: string, fault: LineFault | undefined) => {
    line++;
    // A leading byte-order mark is removed here, where the first line is whole however the chunks split it.
    if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    const item = read(line, text, fault ?? (tooLong(text) ? 'too-long' : undefined));
    if (item !== undefined) batch.push(item);
  };
  /** Emits the complete lines of `text` (the first ends an over-long line, if one is open); returns where the rest begins. */
  const splitText = (text: string): number => {
    let start = 0;
    let nl = text.indexOf('\n');
    let cr = text.indexOf('\r');
    while (nl !== -1 || cr !== -1) {
      let end: number;
      let next: number;
      if (cr !== -1 && (nl === -1 || cr < nl)) {
        end = cr;
        if (cr + 1 === text.length) afterCR = true;
        next = text.charCodeAt(cr + 1) === LF ? cr + 2 : cr + 1;
      } else {
        end = nl;
        next = nl + 1;
      }
      if (overflow !== undefined) {
        emit(overflow, 'too-long');
        overflow = undefined;
      } else emit(text.slice(start, end), undefined);
      start = next;
      if (nl !== -1 && nl < start) nl = text.indexOf('\n', start);
      if (cr !== -1 && cr < start) cr = text.indexOf('\r', start);
    }
    return start;
  };

  for await (const chunk of chunks) {
    if (typeof chunk === 'string') {
      let text = chunk;
      if (afterCR && text.length > 0) {
        if (text.charCodeAt(0) === LF) text = text.slice(1);
        afterCR = false;
      }
      const joined = overflow === undefined ? pendingText + text : text;
      const before = line;
      keepText(joined.slice(splitText(joined)));
      if (line > before) yield flush();
      continue;
    }
    let bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (afterCR && bytes.length > 0) {
      if (bytes[0] === LF) bytes = bytes.subarray(1);
      afterCR = false;
    }
    const last = Math.max(bytes.lastIndexOf(LF), bytes.lastIndexOf(CR));
    if (last === -1) {
      keepBytes(bytes);
      continue;
    }
    const before = line;
    let body = bytes.subarray(0, last + 1);
    if (overflow !== undefined) {
      // The over-long line ends at the first line break of this chunk.
      const end = firstBreak(body);
      emit(overflow, 'too-long');
      overflow = undefined;
      body = body.subarray(body[end] === CR && body[end + 1] === LF ? end + 2 : end + 1);
    } else if (pendingSize > 0) {
      body = Buffer.concat([...pendingBytes, body]);
    }
    pendingBytes = [];
    pendingSize = 0;
    if (body.length > 0) {
      if (isUtf8(body)) splitText(body.toString('utf8'));
      else splitBytes(body);
    }
    keepBytes(bytes.subarray(last + 1));
    afterCR = last === bytes.length - 1 && bytes[last] === CR;
    if (line > before) yield flush();
  }
  // The last line, without a line break.
  if (overflow !== undefined) {
    emit(overflow, 'too-long');
  } else if (pendingSize > 0) {
    const rest = Buffer.concat(pendingBytes);
    emit(rest.toString('utf8'), isUtf8(rest) ? undefined : 'invalid-utf8');
  } else if (pendingText.length > 0) {
    emit(pendingText, undefined);
  }
  if (batch.length > 0) yield flush();

  function flush(): T[] {
    const out = batch;
    batch = [];
    return out;
  }
  function keepText(rest: string): void {
    if (overflow !== undefined) return;
    pendingText = rest;
    if (rest.length > maxLineBytes) {
      overflow = rest.slice(0, HEAD);
      pendingText = '';
    }
  }
  function keepBytes(rest: Buffer): void {
    if (overflow !== undefined || rest.length === 0) return;
    if (pendingSize + rest.length > maxLineBytes) {
      overflow = Buffer.concat([...pendingBytes, rest.subarray(0, HEAD)]).subarray(0, HEAD).toString('utf8');
      pendingBytes = [];
      pendingSize = 0;
      return;
    }
    // Kept as parts, joined once when the line ends; a short rest is copied so as not to hold its whole chunk.
    pendingBytes.push(rest.length < 4096 ? Buffer.from(rest) : rest);
    pendingSize += rest.length;
  }
  /** Lines of bytes that are not all UTF-8, each checked on its own. `body` ends with a line break. */
  function splitBytes(body: Buffer): void {
    let start = 0;
    while (start < body.length) {
      const end = firstBreak(body, start);
      const piece = body.subarray(start, end);
      emit(piece.toString('utf8'), isUtf8(piece) ? undefined : 'invalid-utf8');
      start = body[end] === CR && body[end + 1] === LF ? end + 2 : end + 1;
    }
  }
}

/** Index of the first LF or CR at or after `from` (the length when there is none). */
function firstBreak(bytes: Buffer, from = 0): number {
  for (let i = from; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === LF || b === CR) return i;
  }
  return bytes.length;
}

/** The lines of a stream of chunks one at a time: `lineBatches` flattened, for readers that go line by line. */
export async function* sourceLines(chunks: AsyncIterable<string | Uint8Array>, maxLineBytes?: number): AsyncGenerator<SourceLine> {
  for await (const batch of lineBatches(chunks, maxLineBytes)) yield* batch;
}
