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

/** The input as a stream of chunks, for line-by-line readers. */
export function inputChunks(input: SourceInput): AsyncIterable<string | Uint8Array> {
  if (typeof input === 'string') return createReadStream(input);
  const text = input.text.charCodeAt(0) === 0xfeff ? input.text.slice(1) : input.text;
  return (async function* () {
    yield text;
  })();
}
