import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { SourceInput } from './types.js';

/** The name used for an input in locations and quarantine reports. */
export function inputName(input: SourceInput): string {
  return typeof input === 'string' ? input : input.name;
}

/** The whole input as text (a leading byte-order mark removed). */
export async function inputText(input: SourceInput): Promise<string> {
  const text = typeof input === 'string' ? await readFile(input, 'utf8') : input.text;
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

const CHUNK = 64 * 1024;

/**
 * The input as a stream of chunks, for line-by-line readers. Text in memory is cut into 64 KiB chunks, as a file
 * stream would be, so batches stay small and short-lived whatever the input's size.
 */
export function inputChunks(input: SourceInput): AsyncIterable<string | Uint8Array> {
  if (typeof input === 'string') return createReadStream(input);
  const text = input.text.charCodeAt(0) === 0xfeff ? input.text.slice(1) : input.text;
  return (async function* () {
    for (let at = 0; at < text.length; at += CHUNK) yield text.slice(at, at + CHUNK);
  })();
}

/** One line of an input: its number (from 1), text without the line break, and whether it was over the limit. */
export interface SourceLine {
  line: number;
  text: string;
  tooLong: boolean;
}

/**
 * The lines of a stream of chunks, a batch per chunk (the same lines as `sourceLines`, without one await per line):
 * CRLF and LF, a leading byte-order mark removed, lines over `maxLineBytes` reported by their head only.
 */
export async function* lineBatches(chunks: AsyncIterable<string | Uint8Array>, maxLineBytes = 1 << 20): AsyncGenerator<SourceLine[]> {
  const decoder = new TextDecoder('utf-8', { ignoreBOM: false });
  let pending = '';
  let line = 0;
  let overflow = false;
  let first = true;
  const cut = (s: string) => (s.charCodeAt(s.length - 1) === 13 ? s.slice(0, -1) : s);
  for await (const chunk of chunks) {
    let text = typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    if (first && text.length > 0) {
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      first = false;
    }
    const batch: SourceLine[] = [];
    let start = 0;
    let nl: number;
    while ((nl = text.indexOf('\n', start)) !== -1) {
      line++;
      if (overflow) batch.push({ line, text: pending, tooLong: true });
      else {
        const piece = pending === '' ? text.slice(start, nl) : pending + text.slice(start, nl);
        batch.push({ line, text: cut(piece), tooLong: piece.length > maxLineBytes });
      }
      pending = '';
      overflow = false;
      start = nl + 1;
    }
    if (!overflow) {
      pending += text.slice(start);
      if (pending.length > maxLineBytes) {
        pending = pending.slice(0, 1024);
        overflow = true;
      }
    }
    if (batch.length) yield batch;
  }
  pending += decoder.decode();
  if (pending.length > 0 || overflow) {
    line++;
    yield [{ line, text: cut(pending), tooLong: overflow || pending.length > maxLineBytes }];
  }
}
