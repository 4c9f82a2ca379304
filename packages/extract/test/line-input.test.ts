/**
 * Hostile bytes and line breaks in extracts (issue 13, items 4 and 5): every line or row is accepted or quarantined
 * on its own, with its file and line. Files are written as bytes, as a GP system would export them.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadNormalisationMaps, readChecked, type AdapterItem } from '@caregaps/core';
import { extractAdapter, parseColumnMap, type ColumnMap } from '@caregaps/extract';
import { fuzzSeed } from '../../core/test/fuzz-seed.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const maps = loadNormalisationMaps(join(ROOT, 'codesets/maps'));
const DIR = mkdtempSync(join(tmpdir(), 'caregaps-lines-'));
const MAP: ColumnMap = parseColumnMap(
  JSON.stringify({ name: 'lab', tables: [{ kind: 'event', fields: { id: 'id', nhsNumber: 'nhs', code: 'code', date: 'date', value: 'value' } }] }),
);
const SEED = fuzzSeed('extract line input');

async function read(name: string, bytes: Buffer): Promise<AdapterItem[]> {
  const file = join(DIR, name);
  writeFileSync(file, bytes);
  const items: AdapterItem[] = [];
  for await (const item of readChecked(extractAdapter, [file], { maps, columnMap: MAP })) items.push(item);
  return items;
}

/** The figure the issue asks for: rows in, accepted, quarantined, lost (rows − accepted − quarantined). */
function figure(label: string, rows: number, items: AdapterItem[]): { accepted: number; quarantined: number; lost: number } {
  const accepted = items.filter((i) => i.ok).length;
  const quarantined = items.length - accepted;
  const lost = rows - accepted - quarantined;
  console.log(`${label}: rows ${rows.toLocaleString('en-GB')}; accepted ${accepted.toLocaleString('en-GB')}; quarantined ${quarantined}; lost ${lost}`);
  return { accepted, quarantined, lost };
}

const row = (i: number) => `lab-${i},9434765919,44054006,2020-01-01`;
const rows = (n: number) => Array.from({ length: n }, (_, i) => row(i + 1));

describe('line endings in CSV and NDJSON extracts', () => {
  it('a CSV with a CRLF header and LF rows keeps every row', async () => {
    const items = await read('crlf-header.csv', Buffer.from('id,nhs,code,date\r\n' + rows(1000).join('\n') + '\n'));
    expect(figure('CRLF header + LF rows', 1000, items)).toEqual({ accepted: 1000, quarantined: 0, lost: 0 });
    expect(items.at(-1)!.at.line).toBe(1001);
  });

  it('a CSV mixing LF and lone CR keeps every row, each with its own line number', async () => {
    const body = rows(1000).map((r, i) => r + (i % 2 === 0 ? '\n' : '\r')).join('');
    const items = await read('mixed.csv', Buffer.from('id,nhs,code,date\n' + body));
    expect(figure('CSV mixing LF and CR', 1000, items)).toEqual({ accepted: 1000, quarantined: 0, lost: 0 });
    expect(items.map((i) => i.at.line)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 2));
  });

  it('an NDJSON extract with CR line endings keeps every line', async () => {
    const ndjson = parseColumnMap(JSON.stringify({ name: 'lab', tables: [{ kind: 'event', format: 'ndjson', fields: { id: 'id', nhsNumber: 'nhs', code: 'code', date: 'date' } }] }));
    const lines = Array.from({ length: 2000 }, (_, i) => JSON.stringify({ id: `lab-${i}`, nhs: '9434765919', code: '44054006', date: '2020-01-01' }));
    const file = join(DIR, 'cr.ndjson');
    writeFileSync(file, lines.join('\r'));
    const items: AdapterItem[] = [];
    for await (const item of readChecked(extractAdapter, [file], { maps, columnMap: ndjson })) items.push(item);
    expect(figure('NDJSON extract with CR endings', 2000, items)).toEqual({ accepted: 2000, quarantined: 0, lost: 0 });
  });
});

describe('bytes that are not UTF-8', () => {
  it('quarantines CSV rows whose bytes are not UTF-8, so lab-\\xff and lab-\\xfe never become one id', async () => {
    const bytes = Buffer.concat([
      Buffer.from('id,nhs,code,date\nlab-1,9434765919,44054006,2020-01-01\n'),
      Buffer.from('lab-\xff,9434765919,44054006,2020-01-01\n', 'latin1'),
      Buffer.from('lab-\xfe,9434765919,44054006,2020-01-01\n', 'latin1'),
      // A quoted field over two lines, the second not UTF-8: the row is refused whole, at the line it ends on.
      Buffer.from('"lab-\n\xfe",9434765919,44054006,2020-01-01\n', 'latin1'),
      // U+FFFD written as UTF-8 is a real character, not a bad byte: accepted.
      Buffer.from('lab-\ufffd,9434765919,44054006,2020-01-01\n'),
    ]);
    const items = await read('latin1.csv', bytes);
    expect(figure('CSV rows not UTF-8', 5, items)).toEqual({ accepted: 2, quarantined: 3, lost: 0 });
    expect(items.map((i) => (i.ok ? `ok:${i.at.line}` : `${i.code}:${i.at.file!.endsWith('latin1.csv')}:${i.at.line}`))).toEqual([
      'ok:2',
      'CG_SOURCE_ENCODING:true:3',
      'CG_SOURCE_ENCODING:true:4',
      'CG_SOURCE_ENCODING:true:6',
      'ok:7',
    ]);
    const ids = items.filter((i) => i.ok).map((i) => (i.ok && i.record.kind === 'event' ? i.record.id : ''));
    expect(ids).toEqual(['lab:lab-1', 'lab:lab-\ufffd']);
  });

  it('reports a header that is not UTF-8 on its own line', async () => {
    const items = await read('bad-header.csv', Buffer.concat([Buffer.from('i\xffd,nhs,code,date\n', 'latin1'), Buffer.from(rows(2).join('\n'))]));
    expect(items.map((i) => (i.ok ? 'ok' : i.code))[0]).toBe('CG_SOURCE_ENCODING');
    expect(items[0]!.at.line).toBe(1);
    expect(items).toHaveLength(3);
  });
});

describe('A2 malformed CSV', () => {
  // Each cell is drawn from values known valid or known invalid, so the expected outcome of a row is known by
  // construction (the oracle shares no code with the adapter or the record validator).
  const cell = <T extends string>(valid: T[], invalid: T[]) =>
    fc.oneof(fc.constantFrom(...valid).map((v) => ({ v, ok: true })), fc.constantFrom(...invalid).map((v) => ({ v, ok: false })));
  const row = fc.record({
    id: fc.constantFrom('=cmd|calc', '@SUM(1)', '+1', '-1', '\tx', 'a"b', 'multi\nline', 'cr\rin', 'x\u0000y', 'é😀', 'plain', 'a,b').map((v) => ({ v, ok: true })),
    nhs: cell(['9434765919', ' 943 476 5919 '], ['9434765918', '', '94347659190']),
    code: cell(['44054006'], ['abc', '', '1.95E+16']),
    date: cell(['2020-01-01', '1850-01-01'], ['2020-02-30', '0095-01-01', '', '20200101']),
    value: cell(['', '7.5', '-1', '0'], ['NaN', '1e400', 'seven']),
    shape: fc.constantFrom('ok', 'ok', 'ok', 'ok', 'short', 'long', 'huge'),
    eol: fc.constantFrom('\n', '\r\n', '\r'),
    quoteAll: fc.boolean(),
  });
  const quote = (s: string, always: boolean) => (always || /[",\r\n]/.test(s) || s !== s.trim() ? `"${s.replaceAll('"', '""')}"` : s);

  it('every row ends accepted or quarantined, as its cells say, whatever the line breaks and quoting', async () => {
    let rowsTried = 0;
    let crashes = 0;
    let invalidAccepted = 0;
    let validRefused = 0;
    let lost = 0;
    const reasons = new Set<string>();
    await fc.assert(
      fc.asyncProperty(fc.array(row, { minLength: 1, maxLength: 25 }), fc.constantFrom('\n', '\r\n', '\r'), async (rows, headerEol) => {
        let text = 'id,nhs,code,date,value' + headerEol;
        const expected: boolean[] = [];
        rows.forEach((r, i) => {
          let cells = [`${r.id.v}-${i}`, r.nhs.v, r.code.v, r.date.v, r.value.v];
          if (r.shape === 'short') cells = cells.slice(0, 4);
          if (r.shape === 'long') cells.push('extra');
          if (r.shape === 'huge') cells[4] = '1'.repeat(1_100_000);
          text += cells.map((c) => quote(c, r.quoteAll)).join(',') + r.eol;
          expected.push(r.shape === 'ok' && r.nhs.ok && r.code.ok && r.date.ok && r.value.ok);
        });
        let items: AdapterItem[] = [];
        try {
          items = await read(`a2.csv`, Buffer.from(text));
        } catch {
          crashes++;
        }
        rowsTried += rows.length;
        lost += rows.length - items.length;
        items.forEach((item, i) => {
          if (item.ok && !expected[i]) invalidAccepted++;
          if (!item.ok) {
            reasons.add(item.code);
            if (expected[i]) validRefused++;
          }
        });
        expect(items.map((i) => i.ok)).toEqual(expected);
        const lines = items.map((i) => i.at.line!);
        expect(lines).toEqual([...lines].sort((a, b) => a - b));
      }),
      { numRuns: 150, seed: SEED },
    );
    console.log(
      `A2 malformed CSV (seed ${SEED}): rows tried ${rowsTried}; crashes ${crashes}; invalid accepted ${invalidAccepted}; valid refused ${validRefused}; ` +
        `lost ${lost}; distinct quarantine reasons ${reasons.size} (${[...reasons].sort().join(', ')})`,
    );
    expect([crashes, invalidAccepted, validRefused, lost]).toEqual([0, 0, 0, 0]);
  });
});
