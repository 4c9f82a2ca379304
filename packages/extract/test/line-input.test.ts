/**
 * Hostile bytes and line breaks in extracts (issue 13, items 4 and 5): every line or row is accepted or quarantined
 * on its own, with its file and line. Files are written as bytes, as a GP system would export them.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadNormalisationMaps, readChecked, type AdapterItem } from '@caregaps/core';
import { extractAdapter, parseColumnMap, type ColumnMap } from '@caregaps/extract';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const maps = loadNormalisationMaps(join(ROOT, 'codesets/maps'));
const DIR = mkdtempSync(join(tmpdir(), 'caregaps-lines-'));
const MAP: ColumnMap = parseColumnMap(
  JSON.stringify({ name: 'lab', tables: [{ kind: 'event', fields: { id: 'id', nhsNumber: 'nhs', code: 'code', date: 'date' } }] }),
);

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
