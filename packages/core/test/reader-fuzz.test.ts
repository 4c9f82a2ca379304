// Every input line ends accepted or quarantined: none dropped, none crashing the reader, whatever the bytes.
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { readRecords, type ReadResult } from '@caregaps/core';
import { fuzzSeed } from './fuzz-seed.js';

const SEED = fuzzSeed('record reader');

const valid = [
  { kind: 'patient', nhsNumber: '9434765919', birthDate: '1957-03-02', sex: 'female', practice: 'F83004', registeredFrom: '2001-05-01' },
  { kind: 'event', id: 'e1', nhsNumber: '9434765919', code: '44054006', date: '2015-03-01' },
  { kind: 'event', id: 'e2', nhsNumber: '9434765919', code: '163020007', date: '2025-01-10', values: { systolic: 132, diastolic: 78 } },
  { kind: 'retract', id: 'e1', nhsNumber: '9434765919' },
  { kind: 'organisation', code: 'F83004', name: 'Example', type: 'practice', parent: 'U1' },
];

/** A valid record with one field replaced, removed or added: wrong types, bad dates, prototype keys, huge values. */
const mutated = fc
  .tuple(
    fc.constantFrom(...valid),
    fc.constantFrom('kind', 'nhsNumber', 'date', 'birthDate', 'code', 'id', 'values', 'sex', '__proto__', 'constructor', 'extra'),
    fc.oneof(
      fc.constant(undefined),
      fc.constant(null),
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.string(),
      fc.constantFrom('2025-02-30', '9434765918', '1.95E+16', 'x'.repeat(5000), '', '0000-00-00'),
      fc.array(fc.integer(), { maxLength: 3 }),
      fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 3 }),
    ),
  )
  .map(([record, key, value]) => {
    const copy: Record<string, unknown> = { ...record };
    if (value === undefined) delete copy[key];
    else Object.defineProperty(copy, key, { value, enumerable: true, writable: true, configurable: true });
    return JSON.stringify(copy);
  });

const line = fc.oneof(
  mutated,
  fc.constantFrom(...valid).map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 200 }).filter((s) => !s.includes('\n')),
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? 'null'),
  fc.constant('{"kind":"event"' + ',"a":{'.repeat(500)),
);

it('accepts or quarantines every line, across any chunking, with a BOM or CRLF', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(line, { minLength: 1, maxLength: 30 }), fc.boolean(), fc.boolean(), fc.integer({ min: 1, max: 97 }), async (lines, bom, crlf, chunk) => {
      const text = (bom ? '\uFEFF' : '') + lines.join(crlf ? '\r\n' : '\n') + '\n';
      const bytes = Buffer.from(text, 'utf8');
      const chunks: Buffer[] = [];
      for (let at = 0; at < bytes.length; at += chunk) chunks.push(bytes.subarray(at, at + chunk));
      const out: ReadResult[] = [];
      for await (const r of readRecords(Readable.from(chunks), { file: 'f.ndjson', maxLineBytes: 4096 })) out.push(r);
      const nonBlank = lines.map((l, i) => [l, i + 1] as const).filter(([l]) => l.trim() !== '');
      expect(out.map((r) => r.line)).toEqual(nonBlank.map(([, n]) => n));
      for (const r of out) {
        if (!r.ok) expect(r.reason.length).toBeGreaterThan(0);
        else expect(['patient', 'event', 'retract', 'organisation']).toContain(r.record.kind);
      }
    }),
    { numRuns: 300, seed: SEED },
  );
  expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
});

it('quarantines exactly the lines that are not UTF-8, whatever mix of LF, CRLF and CR ends the lines', async () => {
  let lines = 0;
  let results = 0;
  let misjudged = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(fc.constantFrom(...valid).map((v) => JSON.stringify(v)), fc.option(fc.nat(), { nil: undefined }), fc.constantFrom(0xff, 0xfe, 0xc3, 0x80, 0xed), fc.constantFrom('\n', '\r\n', '\r')), { minLength: 1, maxLength: 30 }),
      fc.integer({ min: 1, max: 97 }),
      async (specs, chunk) => {
        // A line is a valid record, or the same with one byte that cannot stand there in UTF-8 spliced in.
        const parts = specs.map(([text, at, byte, eol]) => {
          const bytes = Buffer.from(text, 'utf8');
          const body = at === undefined ? bytes : Buffer.concat([bytes.subarray(0, at % bytes.length), Buffer.from([byte]), bytes.subarray(at % bytes.length)]);
          return Buffer.concat([body, Buffer.from(eol)]);
        });
        const all = Buffer.concat(parts);
        const chunks: Buffer[] = [];
        for (let at = 0; at < all.length; at += chunk) chunks.push(all.subarray(at, at + chunk));
        const out: ReadResult[] = [];
        for await (const r of readRecords(Readable.from(chunks), { file: 'f.ndjson' })) out.push(r);
        lines += specs.length;
        results += out.length;
        expect(out.map((r) => r.line)).toEqual(specs.map((_, i) => i + 1));
        for (const [i, r] of out.entries()) {
          const bad = specs[i]![1] !== undefined;
          if (bad !== (!r.ok && r.code === 'CG_RECORD_ENCODING')) misjudged++;
          if (!bad) expect(r.ok).toBe(true);
          else expect(r).toMatchObject({ ok: false, code: 'CG_RECORD_ENCODING' });
        }
      },
    ),
    { numRuns: 300, seed: SEED },
  );
  console.log(`record reader, bad bytes and mixed line breaks: lines ${lines}; lines misjudged ${misjudged}; lost ${lines - results}`);
});
