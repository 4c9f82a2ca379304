import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { readLineBatches } from '../records/lines.js';
import type { AdapterQuarantine, SourceInput } from './types.js';

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
  // Bytes, not text: readers check that each line is UTF-8 before decoding it.
  if (typeof input === 'string') return createReadStream(input);
  const text = input.text.charCodeAt(0) === 0xfeff ? input.text.slice(1) : input.text;
  return (async function* () {
    for (let at = 0; at < text.length; at += CHUNK) yield text.slice(at, at + CHUNK);
  })();
}

/** A JSON object read from one NDJSON line. */
export interface JsonObjectLine {
  ok: true;
  line: number;
  object: Record<string, unknown>;
}

/**
 * The JSON objects of an NDJSON input, a batch per chunk. Blank lines are skipped; a line over `maxLineBytes` (named
 * `limit` in the reason), one that is not JSON and one that is not an object stand in their place as quarantined
 * items (CG_SOURCE_PARSE), and a line that is not UTF-8 as CG_SOURCE_ENCODING.
 */
export async function* jsonObjectBatches(input: SourceInput, maxLineBytes: number, limit: string): AsyncGenerator<(JsonObjectLine | AdapterQuarantine)[]> {
  const file = inputName(input);
  yield* readLineBatches(inputChunks(input), maxLineBytes, (line, text, fault): JsonObjectLine | AdapterQuarantine | undefined => {
    let reason: string;
    if (fault === 'too-long') reason = `line exceeds ${limit}`;
    else if (fault === 'invalid-utf8') return { ok: false, code: 'CG_SOURCE_ENCODING', reason: 'the line is not valid UTF-8', at: { file, line } };
    else {
      // A line that opens an object needs no trim to know it is not blank.
      if (text.charCodeAt(0) !== 123 && text.trim() === '') return undefined;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (error) {
        return { ok: false, code: 'CG_SOURCE_PARSE', reason: `not JSON: ${(error as Error).message}`, at: { file, line } };
      }
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) return { ok: true, line, object: value as Record<string, unknown> };
      reason = 'the line is not a JSON object';
    }
    return { ok: false, code: 'CG_SOURCE_PARSE', reason, at: { file, line } };
  });
}
