// Splitting a byte or text stream into numbered lines, shared by the record reader and the source adapters.

/** One line of an input: its number (from 1), text without the line break, and whether it was over the limit. */
export interface SourceLine {
  line: number;
  text: string;
  tooLong: boolean;
}

/**
 * The lines of a stream of chunks, a batch per chunk (one await per chunk, not per line):
 * CRLF and LF, a leading byte-order mark removed, lines over `maxLineBytes` reported by their head only.
 */
export function lineBatches(chunks: AsyncIterable<string | Uint8Array>, maxLineBytes = 1 << 20): AsyncGenerator<SourceLine[]> {
  return readLineBatches(chunks, maxLineBytes, (line, text, tooLong) => ({ line, text, tooLong }));
}

/**
 * `lineBatches`, each line passed to `read` as it is cut (number, text, over the limit) and what `read` returns
 * collected (`undefined` leaves the line out): readers that turn lines into something else allocate nothing per line
 * on the way. A batch comes out for every chunk that ends at least one line.
 */
export async function* readLineBatches<T>(
  chunks: AsyncIterable<string | Uint8Array>,
  maxLineBytes: number,
  read: (line: number, text: string, tooLong: boolean) => T | undefined,
): AsyncGenerator<T[]> {
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
    const batch: T[] = [];
    const before = line;
    let start = 0;
    let nl: number;
    while ((nl = text.indexOf('\n', start)) !== -1) {
      line++;
      let item: T | undefined;
      if (overflow) item = read(line, pending, true);
      else {
        const piece = pending === '' ? text.slice(start, nl) : pending + text.slice(start, nl);
        item = read(line, cut(piece), piece.length > maxLineBytes);
      }
      if (item !== undefined) batch.push(item);
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
    if (line > before) yield batch;
  }
  pending += decoder.decode();
  if (pending.length > 0 || overflow) {
    line++;
    const item = read(line, cut(pending), overflow || pending.length > maxLineBytes);
    yield item === undefined ? [] : [item];
  }
}

/** The lines of a stream of chunks one at a time: `lineBatches` flattened, for readers that go line by line. */
export async function* sourceLines(chunks: AsyncIterable<string | Uint8Array>, maxLineBytes?: number): AsyncGenerator<SourceLine> {
  for await (const batch of lineBatches(chunks, maxLineBytes)) yield* batch;
}
