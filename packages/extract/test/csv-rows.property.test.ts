// The CSV rows split by the extract adapter itself must be exactly those csv-parse gives (records, errors, line
// numbers), whatever the text and however it is cut into chunks.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { csvRows, type CsvRow } from '../src/read.js';
import { fuzzSeed } from '../../core/test/fuzz-seed.js';

const SEED = fuzzSeed('CSV rows');

async function rows(pieces: string[], delimiter: string, plain: boolean, asBytes = true): Promise<CsvRow[]> {
  const out: CsvRow[] = [];
  const chunks = (async function* () {
    for (const p of pieces) yield asBytes ? Buffer.from(p, 'utf8') : p;
  })();
  for await (const batch of csvRows(chunks, delimiter, plain)) out.push(...batch);
  return out;
}

/** Text cut into chunks at arbitrary points (also inside multi-byte characters, as file streams cut them). */
function cut(text: string, at: number[]): string[] {
  const bytes = Buffer.from(text, 'utf8');
  const points = [...new Set(at.map((a) => a % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: string[] = [];
  let from = 0;
  for (const p of [...points, bytes.length]) {
    out.push(bytes.subarray(from, p).toString('latin1'));
    from = p;
  }
  return out;
}

async function rowsOfBytes(pieces: string[], delimiter: string, plain: boolean): Promise<CsvRow[]> {
  const out: CsvRow[] = [];
  const chunks = (async function* () {
    for (const p of pieces) yield Buffer.from(p, 'latin1');
  })();
  for await (const batch of csvRows(chunks, delimiter, plain)) out.push(...batch);
  return out;
}

const piece = fc.constantFrom('a', 'b', 'x y', ' ', ',', ';', '"', '""', '\n', '\r\n', '\r', '', '9434765919', '2020-01-01', '\ufeff', 'é', '😀', '__proto__', 'constructor');
const plainLine = fc.array(fc.constantFrom('a', 'b', '', ' 1 ', '2020-01-01', 'é'), { minLength: 3, maxLength: 3 }).map((cells) => cells.join(','));

describe('csvRows', () => {
  it('splits plain CSV itself, with the line numbers csv-parse gives', async () => {
    const text = 'id, nhs ,code\n1,9434765919,44054006\n\n2,9434765919,44054006\n';
    const got = await rows([text], ',', true);
    expect(got).toEqual([
      { line: 2, record: { id: '1', nhs: '9434765919', code: '44054006' } },
      { line: 4, record: { id: '2', nhs: '9434765919', code: '44054006' } },
    ]);
    expect(got).toEqual(await rows([text], ',', false));
  });
  it('gives what csv-parse gives on text mixing plain lines with quotes, stray line breaks and short rows', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('a,b,c', ' a , b ,c', 'a,"b",c', 'a,b', '', '\ufeffa,b,c', 'a;b;c'),
        fc.constantFrom('\n', '\r\n'),
        fc.array(fc.oneof(plainLine, plainLine, fc.array(piece, { maxLength: 8 }).map((p) => p.join(''))), { maxLength: 12 }),
        fc.constantFrom('\n', '\r\n', ''),
        fc.constantFrom(',', ';'),
        fc.array(fc.nat(), { maxLength: 5 }),
        async (header, eol, lines, end, delimiter, at) => {
          const text = header + eol + lines.join(eol) + end;
          const pieces = cut(text, at);
          expect(await rowsOfBytes(pieces, delimiter, true)).toEqual(await rowsOfBytes(pieces, delimiter, false));
        },
      ),
      { numRuns: 1500, seed: SEED },
    );
  });
  it('gives what csv-parse gives on arbitrary text given as strings (as files are read)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { maxLength: 40 }), fc.array(fc.nat(), { maxLength: 4 }), async (parts, at) => {
        // A string decoder never splits a character, so the cuts fall between code points.
        const chars = Array.from(parts.join(''));
        const points = [...new Set(at.map((a) => a % (chars.length + 1)))].sort((a, b) => a - b);
        const pieces = [...points, chars.length].map((p, i, all) => chars.slice(i === 0 ? 0 : all[i - 1], p).join(''));
        expect(await rows(pieces, ',', true, false)).toEqual(await rows(pieces, ',', false, false));
      }),
      { numRuns: 1500, seed: SEED },
    );
  });
  it('gives what csv-parse gives on arbitrary text', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { maxLength: 40 }), fc.array(fc.nat(), { maxLength: 4 }), async (parts, at) => {
        const pieces = cut(parts.join(''), at);
        expect(await rowsOfBytes(pieces, ',', true)).toEqual(await rowsOfBytes(pieces, ',', false));
      }),
      { numRuns: 1500, seed: SEED },
    );
  });
});
