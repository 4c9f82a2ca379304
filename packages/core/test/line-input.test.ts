/**
 * Record files (NDJSON) with hostile bytes and line breaks (issue 13, items 4 and 5): every line is accepted or
 * quarantined on its own, with file:line; nothing is read with its bad bytes replaced.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { jsonObjectBatches, readRecords, type ReadResult } from '@caregaps/core';

const DIR = mkdtempSync(join(tmpdir(), 'caregaps-records-'));

async function read(name: string, bytes: Buffer): Promise<ReadResult[]> {
  const file = join(DIR, name);
  writeFileSync(file, bytes);
  const out: ReadResult[] = [];
  for await (const r of readRecords(file)) out.push(r);
  return out;
}

function figure(label: string, lines: number, out: ReadResult[]) {
  const accepted = out.filter((r) => r.ok).length;
  const quarantined = out.length - accepted;
  console.log(`${label}: lines ${lines.toLocaleString('en-GB')}; accepted ${accepted.toLocaleString('en-GB')}; quarantined ${quarantined}; lost ${lines - accepted - quarantined}`);
  return { accepted, quarantined, lost: lines - accepted - quarantined };
}

const event = (id: string) => JSON.stringify({ kind: 'event', id, nhsNumber: '9434765919', code: '44054006', date: '2020-01-01' });

describe('record files', () => {
  it('quarantines lines that are not UTF-8: lab-\\xff and lab-\\xfe stay two refused lines, not one lab-\\uFFFD', async () => {
    const bytes = Buffer.concat([
      Buffer.from(event('lab-1') + '\n'),
      Buffer.from(event('lab-\xff') + '\n', 'latin1'),
      Buffer.from(event('lab-\xfe') + '\n', 'latin1'),
      Buffer.from(event('lab-\ufffd') + '\n'),
    ]);
    const out = await read('latin1.ndjson', bytes);
    expect(figure('records not UTF-8', 4, out)).toEqual({ accepted: 2, quarantined: 2, lost: 0 });
    expect(out.map((r) => (r.ok ? `ok:${r.line}` : `${r.code}:${r.file?.endsWith('latin1.ndjson')}:${r.line}`))).toEqual([
      'ok:1',
      'CG_RECORD_ENCODING:true:2',
      'CG_RECORD_ENCODING:true:3',
      'ok:4',
    ]);
  });

  it('reads NDJSON with CR line endings, and CR, LF and CRLF mixed, line by line', async () => {
    const lines = Array.from({ length: 2000 }, (_, i) => event(`e${i}`));
    const cr = await read('cr.ndjson', Buffer.from(lines.join('\r')));
    expect(figure('NDJSON with CR endings', 2000, cr)).toEqual({ accepted: 2000, quarantined: 0, lost: 0 });
    const breaks = ['\n', '\r', '\r\n'];
    const mixed = await read('mixed.ndjson', Buffer.from(lines.map((l, i) => l + breaks[i % 3]).join('')));
    expect(figure('NDJSON mixing LF, CR and CRLF', 2000, mixed)).toEqual({ accepted: 2000, quarantined: 0, lost: 0 });
    expect(mixed.map((r) => r.line)).toEqual(lines.map((_, i) => i + 1));
  });
});

describe('adapter NDJSON (FHIR Bulk export, extract NDJSON)', () => {
  it('quarantines lines that are not UTF-8 as CG_SOURCE_ENCODING with file and line, and reads CR-separated lines', async () => {
    const file = join(DIR, 'Observation.ndjson');
    const line = (id: string) => JSON.stringify({ resourceType: 'Observation', id });
    writeFileSync(file, Buffer.concat([Buffer.from(line('a') + '\r'), Buffer.from(line('lab-\xff') + '\r\n', 'latin1'), Buffer.from(line('lab-\xfe') + '\n', 'latin1'), Buffer.from(line('b'))]));
    const out: string[] = [];
    for await (const batch of jsonObjectBatches(file, 1 << 20, 'maxLineBytes')) for (const item of batch) out.push(item.ok ? `ok:${item.line}` : `${item.code}:${item.at.file === file}:${item.at.line}`);
    expect(out).toEqual(['ok:1', 'CG_SOURCE_ENCODING:true:2', 'CG_SOURCE_ENCODING:true:3', 'ok:4']);
  });
});
