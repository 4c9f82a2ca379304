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

/** The lines of a stream of chunks one at a time: `lineBatches` flattened, for readers that go line by line. */
export async function* sourceLines(chunks: AsyncIterable<string | Uint8Array>, maxLineBytes?: number): AsyncGenerator<SourceLine> {
  for await (const batch of lineBatches(chunks, maxLineBytes)) yield* batch;
}
