import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRegistries, withCheckDigit } from '@caregaps/core';
import { afterAll, describe, expect, it } from 'vitest';
import { Engine } from '../src/index.js';
import { CODESETS, FIXTURE_REGISTRIES } from './helpers.js';

// Issue 13 item 3: items that look like `readRecords` results were trusted as validated; a record with
// `birthDate: null` was accepted, stored, and then failed every reopen.
const loaded = loadRegistries(FIXTURE_REGISTRIES, CODESETS);
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const open = (directory: string) => new Engine({ ...loaded, asOf: '2025-03-31', store: { directory } });

const nhsNumber = withCheckDigit(900000001)!;
const good = { kind: 'patient', nhsNumber, birthDate: '1960-01-01', sex: 'female', practice: 'P1', registeredFrom: '2010-01-01', registeredTo: null, deathDate: null, optOuts: [] };
const nullBirth = { ...good, birthDate: null };

describe('everything that crosses the API is validated', () => {
  it('quarantines an accepted-looking read result whose record is invalid, with its line, and never stores it', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'caregaps-admission-'));
    dirs.push(directory);
    const engine = open(directory);
    const summary = await engine.ingest([
      { ok: true, record: nullBirth, line: 7, file: 'feed.ndjson' },
      { ok: true, record: good, line: 8, file: 'feed.ndjson' },
    ]);
    expect(summary).toEqual({ accepted: 1, quarantined: 1, stale: 0 });
    const [refused] = engine.quarantine.items;
    expect(refused).toMatchObject({ ok: false, code: 'CG_RECORD_SCHEMA', line: 7, file: 'feed.ndjson' });
    expect(refused!.reason).toMatch(/birthDate/);
    expect(engine.apply({ ok: true, record: { ...nullBirth, registeredFrom: 'soon' }, line: 9 })).toBe(false);
    expect(engine.quarantine.size).toBe(2);
    engine.close();
    // The store holds only the valid record: reopening neither throws nor loses it.
    const reopened = open(directory);
    expect(reopened.patientCount).toBe(1);
    expect(reopened.record(nhsNumber)?.patient?.birthDate).toBe('1960-01-01');
    reopened.close();
  });

  it('quarantines a refused read result as given, and one that does not carry a code and reason as a schema fault', async () => {
    const engine = new Engine({ ...loaded, asOf: '2025-03-31' });
    await engine.ingest([
      { ok: false, code: 'CG_RECORD_DATE', reason: 'birthDate "1960-02-30" is not a real calendar date', line: 3, text: '{"kind":"patient"}' },
      { ok: false, code: 'toString', reason: 'x', line: 4, text: '' },
      { ok: false, line: 5 },
    ]);
    expect(engine.quarantine.items.map((q) => [q.code, q.line])).toEqual([
      ['CG_RECORD_DATE', 3],
      ['CG_RECORD_SCHEMA', 4],
      ['CG_RECORD_SCHEMA', 5],
    ]);
    expect(engine.patientCount).toBe(0);
  });
});
