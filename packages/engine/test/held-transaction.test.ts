/**
 * A deferred-commit record store (the temporary store of an in-memory engine whose partitions share a thread): writes
 * go into one LMDB transaction kept open across `writeSync` calls. Read through the writer they are there at once;
 * read by anyone else, only once committed; a failure inside the open transaction loses what it held, says so, and
 * the store takes no more writes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { withCheckDigit, type EventRecord } from '@caregaps/core';
import { afterAll, describe, expect, it } from 'vitest';
import { RecordStore } from '../src/index.js';
import { HELD_RECORDS } from '../src/store/record-store.js';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'caregaps-held-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const NHS = withCheckDigit(900_300_000) ?? withCheckDigit(900_300_001)!;
// 44054006: diabetes mellitus (DM_COD, codesets/ — the store does not read codes, any real one serves).
const event = (id: string, extra: Partial<EventRecord> = {}): EventRecord => ({ kind: 'event', id, nhsNumber: NHS, code: '44054006', date: '2024-10-01', ...extra });

describe('RecordStore with deferCommits', () => {
  it('shows its writes through the writer at once and to a reader beside it only once committed', async () => {
    const dir = tempDir();
    const writer = RecordStore.open({ directory: dir, noSync: true, deferCommits: true });
    expect(RecordStore.writerHere(dir, 0)).toBe(writer);
    // Opened before the writer holds a transaction (opening takes LMDB's writer lock, which a held transaction has).
    const reader = RecordStore.open({ directory: dir, alongsideWriter: true });
    writer.writeSync({ records: [event('a')] });
    writer.writeSync({ records: [event('b')] });
    expect([writer.holder('a'), writer.holder('b')]).toEqual([NHS, NHS]);
    expect([reader.holder('a'), reader.holder('b')]).toEqual([undefined, undefined]);
    writer.commit();
    expect([reader.holder('a'), reader.holder('b')]).toEqual([NHS, NHS]);
    // A timer commits when the event loop runs.
    writer.writeSync({ records: [event('c')] });
    expect(reader.holder('c')).toBeUndefined();
    await sleep(120);
    expect(reader.holder('c')).toBe(NHS);
    // Another write transaction (here the date) commits what is held first.
    writer.writeSync({ records: [event('d')] });
    writer.setAsOf('2025-03-31');
    expect(reader.holder('d')).toBe(NHS);
    // So does a full transaction's worth of records, without the event loop running.
    const many = Array.from({ length: HELD_RECORDS }, (_, i) => event(`many-${i}`));
    for (let i = 0; i < many.length; i += 512) writer.writeSync({ records: many.slice(i, i + 512) });
    expect(reader.holder(`many-${HELD_RECORDS - 1}`)).toBe(NHS);
    expect(writer.verify().damage).toEqual([]);
    await reader.close();
    await writer.close();
    expect(RecordStore.writerHere(dir, 0)).toBeUndefined();
    // Closing committed everything: a new reader finds it all.
    const after = RecordStore.open({ directory: dir, readOnly: true });
    expect(after.patient(NHS)!.events.length).toBe(4 + HELD_RECORDS);
    expect(after.verify().damage).toEqual([]);
    await after.close();
  });

  it('is only for a temporary store written here', () => {
    const dir = tempDir();
    expect(() => RecordStore.open({ directory: dir, deferCommits: true })).toThrow(expect.objectContaining({ code: 'CG_USAGE' }));
  });

  it('loses what the open transaction held when a write fails in it, says so, and takes no more writes', async () => {
    const dir = tempDir();
    const writer = RecordStore.open({ directory: dir, noSync: true, deferCommits: true });
    writer.writeSync({ records: [event('kept')] });
    writer.commit();
    writer.writeSync({ records: [event('held')] });
    // A value JSON cannot write fails inside the open transaction (records are checked before they reach a store;
    // this stands for any failure there: a full disk, a damaged page).
    const unwritable = { ...event('bad'), value: 10n } as unknown as EventRecord;
    expect(() => writer.writeSync({ records: [unwritable] })).toThrow(expect.objectContaining({ code: 'CG_STORE_WRITE', message: expect.stringMatching(/records written since its last commit are lost/) }));
    expect([writer.holder('kept'), writer.holder('held'), writer.holder('bad')]).toEqual([NHS, undefined, undefined]);
    expect(() => writer.writeSync({ records: [event('later')] })).toThrow(expect.objectContaining({ code: 'CG_STORE_WRITE' }));
    expect(writer.holder('later')).toBeUndefined();
    await writer.close();
    const after = RecordStore.open({ directory: dir, readOnly: true });
    expect(after.patient(NHS)!.events.map((e) => e.id)).toEqual(['kept']);
    expect(after.verify().damage).toEqual([]);
    await after.close();
  });
});
