/**
 * A4 oversize input: a 10 MB string field, a 10^6-element array, 10^4-deep nesting and a 120 MB line inside a file
 * are each refused with a typed reason, the lines around them read, without the reader holding the big line in memory
 * or blocking the event loop for long.
 */
import { createWriteStream, mkdtempSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readRecords, type ReadResult } from '@caregaps/core';
import { measureLoad } from './load-probe.js';

const DIR = mkdtempSync(join(tmpdir(), 'caregaps-oversize-'));
const event = (i: number) => JSON.stringify({ kind: 'event', id: `e${i}`, nhsNumber: '9434765919', code: '44054006', date: '2020-01-01' });

async function writeFile(name: string, parts: Iterable<string>): Promise<string> {
  const file = join(DIR, name);
  const out = createWriteStream(file);
  for (const part of parts) if (!out.write(part)) await once(out, 'drain');
  out.end();
  await once(out, 'finish');
  return file;
}

describe('A4 oversize input', () => {
  it('each oversized line is refused with a typed reason; memory and event-loop block stay bounded', async () => {
    const oversized: [string, () => Iterable<string>, string][] = [
      ['10 MB string field', function* () { yield `{"kind":"event","id":"big","nhsNumber":"9434765919","code":"44054006","date":"2020-01-01","unit":"${'x'.repeat(10_000_000)}"}`; }, 'CG_RECORD_TOO_LONG'],
      ['10^6-element array', function* () { yield `{"kind":"event","id":"arr","nhsNumber":"9434765919","code":"44054006","date":"2020-01-01","values":[${new Array(1_000_000).fill('0').join(',')}]}`; }, 'CG_RECORD_TOO_LONG'],
      ['10^4-deep nesting', function* () { yield '{"kind":"event","x":' + '['.repeat(10_000) + ']'.repeat(10_000) + '}'; }, 'CG_RECORD_SCHEMA'],
      ['120 MB line', function* () { const block = 'y'.repeat(1 << 20); yield '{"kind":"event","id":"'; for (let i = 0; i < 120; i++) yield block; yield '"}'; }, 'CG_RECORD_TOO_LONG'],
    ];
    const parts = function* () {
      let n = 0;
      for (const [, big] of oversized) {
        for (let i = 0; i < 1000; i++) yield event(n++) + '\n';
        yield* big();
        yield '\n';
      }
      for (let i = 0; i < 1000; i++) yield event(n++) + '\n';
    };
    const file = await writeFile('oversize.ndjson', parts());
    const refused: ReadResult[] = [];
    let accepted = 0;
    let count = 0;
    const { blockMs, rssGrowthMb: growth } = await measureLoad(async () => {
      for await (const r of readRecords(file)) {
        count++;
        if (r.ok) accepted++;
        else refused.push(r);
      }
    });
    console.log(
      `A4 oversize: oversized inputs ${oversized.length} (${oversized.map(([name]) => name).join(', ')}); typed rejections ${refused.length}; ` +
        `other lines accepted ${accepted} of 5,000; max RSS growth ${growth.toFixed(0)} MB; max event-loop block ${blockMs.toFixed(0)} ms; OOM 0`,
    );
    expect(count).toBe(5004);
    expect(accepted).toBe(5000);
    expect(refused.map((r) => !r.ok && r.code)).toEqual(oversized.map(([, , code]) => code));
    expect(refused.map((r) => r.line)).toEqual([1001, 2002, 3003, 4004]);
    // The 120 MB line is never held whole: the reader keeps its first kilobyte.
    expect(refused[3]!.ok === false && refused[3]!.text.length).toBeLessThanOrEqual(1024);
    expect(growth).toBeLessThan(100);
  });
});
