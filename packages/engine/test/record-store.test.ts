import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { crc32 } from 'node:zlib';
import { PatientStore, loadRegistries, type CaregapsRecord, type EventRecord } from '@caregaps/core';
import fc from 'fast-check';
import { open as openLmdb } from 'lmdb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RecordStore, partitionFile, type Outcome } from '../src/index.js';
import { CODESETS, FIXTURE_REGISTRIES, codesFor, stepArbitrary } from './helpers.js';
import { bundleChild } from './child-process.js';
import { population, random } from './population.js';

const loaded = loadRegistries(FIXTURE_REGISTRIES, CODESETS);
const codes = codesFor(loaded.index, loaded.compiled);
const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'caregaps-store-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('RecordStore', () => {
  it('stores the received bytes as they are, and replays every current record patient by patient', () => {
    const dir = tempDir();
    const records = population(60, codes, 2);
    const store = RecordStore.open({ directory: dir, partition: 3 });
    const bytes = records.map((r) => Buffer.from(JSON.stringify(r)));
    const written = store.writeSync({ records, bytes });
    expect(written.outcomes.filter((o) => o === 'conflict')).toEqual([]);
    const events = records.filter((r) => r.kind === 'event');
    const handles = [...written.handles].filter((h) => h >= 0);
    expect(new Set(handles).size).toBe(new Set(events.map((e) => `${e.source ?? ''} ${e.id}`)).size);
    // The same identity gets its handle back when it is redelivered.
    const again = store.writeSync({ records: [events[0]!] });
    expect(again.outcomes).toEqual(['replaced']);
    expect(again.handles[0]).toBe(written.handles[records.indexOf(events[0]!)]);
    // The batch oracle holds the same records: the store replays exactly its patients and live events.
    const oracle = new PatientStore();
    for (const r of records) oracle.apply(r);
    const replayed = [...store.patients()];
    const sortEvents = (list: Iterable<EventRecord>) => [...list].sort((x, y) => x.id.localeCompare(y.id) || (x.source ?? '').localeCompare(y.source ?? ''));
    expect(replayed.map((p) => p.nhsNumber)).toEqual([...oracle.values()].map((p) => p.nhsNumber).sort());
    for (const p of replayed) {
      const expected = oracle.get(p.nhsNumber)!;
      expect(p.patient).toEqual(expected.patient);
      expect(sortEvents(p.events)).toEqual(sortEvents(expected.events.values()));
    }
    expect(partitionFile(dir, 3)).toBe(join(dir, 'partition-3.mdb'));
    expect(store.verify()).toEqual({ checked: expect.any(Number), damage: [] });
    void store.close();
  });

  it('decides each record by identity and version, the same whichever order a retraction and its event arrive in', () => {
    const dir = tempDir();
    const store = RecordStore.open({ directory: dir });
    const ev = (id: string, nhsNumber: string, extra: object = {}): CaregapsRecord => ({ kind: 'event', id, nhsNumber, code: codes[0]!, date: '2024-01-01', ...extra });
    const [a, b] = ['9434765919', '9434765870'];
    const { outcomes, quarantined } = store.writeSync({
      records: [
        ev('x', a),
        ev('x', a),
        ev('x', b),
        ev('x', b, { correctsNhsNumber: a }),
        ev('x', b, { source: 'S' }),
        { kind: 'retract', id: 'y', nhsNumber: a },
        ev('y', a, { source: 'T' }),
        ev('v', a, { version: 5 }),
        ev('v', a, { version: 4 }),
        { kind: 'retract', id: 'x', nhsNumber: a },
        { kind: 'retract', id: 'x', nhsNumber: b },
      ],
    });
    expect(outcomes).toEqual(['stored', 'replaced', 'conflict', 'moved', 'stored', 'kept', 'suppressed', 'stored', 'stale', 'conflict', 'retracted']);
    expect(quarantined.map((q) => q.code)).toEqual(['CG_RECORD_ID_CONFLICT', 'CG_RECORD_ID_CONFLICT']);
    expect([...store.quarantined()]).toHaveLength(2);
    expect(store.verify().damage).toEqual([]);
    void store.close();
  });

  it('decides every record as the batch oracle does, for any sequence of events, corrections, retractions and versions', () => {
    const oracleOutcome = { stored: 'applied', replaced: 'applied', moved: 'applied', retracted: 'applied', kept: 'applied', suppressed: 'unchanged', stale: 'stale', conflict: 'conflict' } as const;
    const sortEvents = (list: Iterable<EventRecord>) => [...list].map((e) => JSON.stringify(e)).sort();
    let runs = 0;
    let decided = 0;
    fc.assert(
      fc.property(fc.array(stepArbitrary(codes), { minLength: 20, maxLength: 80 }), fc.integer({ min: 1, max: 8 }), (steps, batch) => {
        const records = steps.flatMap((s) => ('record' in s ? [s.record] : []));
        const dir = tempDir();
        const store = RecordStore.open({ directory: dir });
        const oracle = new PatientStore();
        try {
          const outcomes: Outcome[] = [];
          for (let i = 0; i < records.length; i += batch) outcomes.push(...store.writeSync({ records: records.slice(i, i + batch) }).outcomes);
          expect(outcomes.map((o, i) => (records[i]!.kind === 'organisation' ? 'organisation' : oracleOutcome[o]))).toEqual(
            records.map((r) => (r.kind === 'organisation' ? 'organisation' : oracle.apply(r).outcome)),
          );
          const replayed = [...store.patients()];
          for (const p of replayed) {
            const expected = oracle.get(p.nhsNumber);
            expect(p.patient).toEqual(expected?.patient);
            expect(sortEvents(p.events)).toEqual(sortEvents(expected?.events.values() ?? []));
          }
          expect(replayed.reduce((n, p) => n + p.events.length, 0)).toBe([...oracle.values()].reduce((n, p) => n + p.events.size, 0));
          expect(store.verify().damage).toEqual([]);
          runs++;
          decided += records.length;
        } finally {
          void store.close();
          rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 60 },
    );
    console.log(`store vs batch oracle: ${runs} random sequences, ${decided} records decided alike`);
  });

  it('refuses a store of the first development format, saying what to do, before opening its other databases', async () => {
    const dir = tempDir();
    // Format 1's frame, as its frame.ts wrote it: CRC-32 (over the key text and the rest) | kind | flags | handle |
    // version | NHS number | body.
    const value = Buffer.alloc(28 + 'caregaps-record-store/1'.length);
    value[4] = 6;
    value.writeDoubleLE(Number.NaN, 10);
    value.write('caregaps-record-store/1', 28);
    value.writeUInt32LE(crc32(value.subarray(4), crc32('m\u0000format')), 0);
    const env = openLmdb({ path: partitionFile(dir), maxDbs: 8, overlappingSync: false });
    const meta = env.openDB({ name: 'meta', encoding: 'binary' });
    await meta.put('format', value);
    await env.close();
    const size = statSync(partitionFile(dir)).size;
    for (const options of [{}, { readOnly: true }]) {
      expect(() => RecordStore.open({ directory: dir, ...options })).toThrowError(
        expect.objectContaining({ code: 'CG_STORE_OLD_FORMAT', message: expect.stringMatching(/caregaps-record-store\/1.*ingesting its records again/) }),
      );
    }
    expect(statSync(partitionFile(dir)).size).toBe(size);
  });

  it('reports a damaged value loudly with a coded error naming the key, and verify lists it', () => {
    const dir = tempDir();
    const store = RecordStore.open({ directory: dir });
    const records = population(20, codes, 4);
    store.writeSync({ records });
    void store.close();
    const file = partitionFile(dir);
    const bytes = readFileSync(file);
    // Damage the JSON body of one stored event: every copy of it (LMDB keeps old page versions until reused).
    const event = records.find((r) => r.kind === 'event')!;
    const text = Buffer.from(JSON.stringify(event));
    for (let at = bytes.indexOf(text); at >= 0; at = bytes.indexOf(text, at + 1)) bytes[at + 3]! ^= 0x20;
    writeFileSync(file, bytes);
    const damaged = RecordStore.open({ directory: dir, readOnly: true });
    expect(() => [...damaged.patients()]).toThrowError(expect.objectContaining({ code: 'CG_STORE_DAMAGED', message: expect.stringMatching(/records\[\d{10} \| \d+\]/) }));
    const report = damaged.verify();
    expect(report.damage).toEqual([expect.objectContaining({ db: 'records', problem: 'fails its checksum' })]);
    void damaged.close();
  });
});

describe('RecordStore read APIs', () => {
  const [a, b] = ['9434765919', '9434765870'];
  const ev = (id: string, nhsNumber: string, extra: object = {}): CaregapsRecord => ({ kind: 'event', id, nhsNumber, code: codes[0]!, date: '2024-01-01', ...extra });

  it('patient(nhs) gives one patient as patients() does; holder(id, source) names who holds an identity', () => {
    const dir = tempDir();
    const store = RecordStore.open({ directory: dir });
    const records = population(30, codes, 5);
    store.writeSync({ records });
    store.writeSync({ records: [ev('h1', a, { source: 'S' }), ev('h2', a), { kind: 'retract', id: 'h3', nhsNumber: b, source: 'S' }, { kind: 'retract', id: 'h1', nhsNumber: a, source: 'S' }, ev('h4', b, { source: 'S' })] });
    for (const stored of store.patients()) expect(store.patient(stored.nhsNumber)).toEqual(stored);
    expect(store.patient('9999999999')).toBeUndefined();
    // An event's identity, a retracted one, a retraction kept before its event, the unnamed source, none.
    expect(store.holder('h4', 'S')).toBe(b);
    expect(store.holder('h1', 'S')).toBe(a);
    expect(store.holder('h3', 'S')).toBe(b);
    expect(store.holder('h2')).toBe(a);
    expect(store.holder('h2', 'S')).toBeUndefined();
    expect(store.holder('h4')).toBeUndefined();
    const event = records.find((r): r is EventRecord => r.kind === 'event')!;
    expect(store.holder(event.id, event.source)).toBe(event.nhsNumber);
    const asked = [{ id: 'h4', source: 'S' }, { id: 'h2' }, { id: 'h2', source: 'S' }, { id: event.id, source: event.source }];
    expect(store.holders(asked)).toEqual([b, a, undefined, event.nhsNumber]);
    void store.close();
    expect(() => store.holder('h4', 'S')).toThrowError(expect.objectContaining({ code: 'CG_ENGINE_CLOSED' }));
  });

  it('stores records larger than its reused buffer, and identities at the longest id and source, intact', () => {
    const dir = tempDir();
    const store = RecordStore.open({ directory: dir });
    // Past the framer's first 64 KiB, in both ways a body arrives (JSON encoded here, received bytes), and multi-byte.
    const big = ev('big', a, { source: 'S', unit: 'é'.repeat(70_000) }) as EventRecord;
    const bigger = ev('bigger', a, { source: 'S', unit: 'x'.repeat(300_000) }) as EventRecord;
    const longId = ev('ü'.repeat(256), a, { source: 'ß'.repeat(64) }) as EventRecord;
    const written = store.writeSync({ records: [big, bigger, longId, ev('small', a)], bytes: [undefined, Buffer.from(JSON.stringify(bigger)), undefined, undefined] });
    expect(written.outcomes).toEqual(['stored', 'stored', 'stored', 'stored']);
    const byId = new Map(store.patient(a)!.events.map((e) => [e.id, e]));
    expect(byId.get('big')).toEqual(big);
    expect(byId.get('bigger')).toEqual(bigger);
    expect(byId.get(longId.id)).toEqual(longId);
    expect(store.holder(longId.id, longId.source)).toBe(a);
    expect(store.writeSync({ records: [big] }).outcomes).toEqual(['replaced']);
    expect(store.verify().damage).toEqual([]);
    void store.close();
  });

  it('releaseSync gives up live identities of the NHS numbers named, once; the identity is then new to the store', () => {
    const dir = tempDir();
    const store = RecordStore.open({ directory: dir });
    const written = store.writeSync({ records: [ev('m1', a, { source: 'S' }), ev('m2', a, { source: 'S' }), { kind: 'retract', id: 'm3', nhsNumber: a, source: 'S' }] });
    const before = { ...store.counts };
    const released = store.releaseSync([
      { id: 'm1', source: 'S', nhsNumber: a },
      { id: 'm2', source: 'S', nhsNumber: b }, // held for another patient: kept
      { id: 'm3', source: 'S', nhsNumber: a }, // a kept retraction, not a live event: kept
      { id: 'm9', source: 'S', nhsNumber: a }, // not held
    ]);
    expect([...released]).toEqual([written.handles[0], -1, -1, -1]);
    expect(store.counts.identities).toBe(before.identities - 1);
    expect(store.counts.records).toBe(before.records - 1);
    expect(store.holder('m1', 'S')).toBeUndefined();
    expect(store.patient(a)!.events.map((e) => e.id)).toEqual(['m2']);
    expect(store.patient(a)!.handles).toEqual([written.handles[1]]);
    expect([...store.releaseSync([{ id: 'm1', source: 'S', nhsNumber: a }])]).toEqual([-1]);
    const again = store.writeSync({ records: [ev('m1', b, { source: 'S' })] });
    expect(again.outcomes).toEqual(['stored']);
    expect(again.handles[0]).not.toBe(written.handles[0]);
    expect(store.verify().damage).toEqual([]);
    void store.close();
  });

  it('a reader beside the writer in one thread, opened before or after it, sees each commit at once and cannot write', async () => {
    const dir = tempDir();
    await RecordStore.open({ directory: dir }).close();
    const early = RecordStore.open({ directory: dir, alongsideWriter: true });
    const writer = RecordStore.open({ directory: dir });
    const late = RecordStore.open({ directory: dir, alongsideWriter: true });
    for (let i = 0; i < 20; i++) {
      writer.writeSync({ records: [ev(`r${i}`, i % 2 ? a : b, { source: 'S' })] });
      // Same tick, no await: each read starts from the latest commit.
      for (const reader of [early, late]) {
        expect(reader.holder(`r${i}`, 'S')).toBe(i % 2 ? a : b);
        expect(reader.patient(a)?.events.length ?? 0).toBe(Math.floor((i + 1) / 2));
      }
    }
    expect(() => late.writeSync({ records: [ev('x', a)] })).toThrowError(expect.objectContaining({ code: 'CG_USAGE' }));
    await early.close();
    writer.writeSync({ records: [ev('after', a)] });
    expect(late.holder('after')).toBe(a);
    await late.close();
    await writer.close();
    // A reader with LMDB's own read-only flag, opened first in this process, keeps a writer out: told so, coded.
    const inspector = RecordStore.open({ directory: dir, readOnly: true });
    expect(() => RecordStore.open({ directory: dir })).toThrowError(expect.objectContaining({ code: 'CG_USAGE', message: expect.stringMatching(/alongsideWriter/) }));
    await inspector.close();
    // A reader never creates a store.
    expect(() => RecordStore.open({ directory: tempDir(), alongsideWriter: true })).toThrowError(expect.objectContaining({ code: 'CG_INPUT' }));
  });

  it('a reader on another thread while a worker thread writes: every identity committed before a read is seen by it', async () => {
    const bundled = await bundleChild('store-child.ts', 'store-thread-test');
    dirs.push(bundled.dir);
    const dir = tempDir();
    await RecordStore.open({ directory: dir }).close();
    const reader = RecordStore.open({ directory: dir, alongsideWriter: true });
    const committed = new Int32Array(new SharedArrayBuffer(4));
    const batches = 200;
    const nhsNumbers = [a, b];
    const worker = new Worker(bundled.script, { workerData: { dir, batches, nhsNumbers, committed } });
    const done = new Promise<void>((resolve, reject) => {
      worker.on('message', () => resolve());
      worker.on('error', reject);
    });
    // A synchronous loop: lmdb-js never resets this thread's read snapshot on its own here, so only the reader's
    // fresh read makes the commits visible.
    let reads = 0;
    let missing = 0;
    for (let seen = Atomics.load(committed, 0); seen < batches; seen = Atomics.load(committed, 0)) {
      if (seen === 0) continue;
      const last = seen - 1;
      if (reader.holder(`w${last}-49`, 'W') !== nhsNumbers[last % 2]) missing++;
      reads++;
    }
    await done;
    expect(missing).toBe(0);
    expect(reads).toBeGreaterThan(0);
    expect(reader.patient(a)!.events).toHaveLength((batches / 2) * 50);
    expect(reader.holder(`w${batches - 1}-0`, 'W')).toBe(b);
    await reader.close();
    await worker.terminate();
  }, 60_000);
});

describe('record store faults (child processes)', () => {
  let child = '';
  beforeAll(async () => {
    const bundled = await bundleChild('store-child.ts', 'store-test');
    dirs.push(bundled.dir);
    child = bundled.script;
  });

  const runRead = (dir: string) =>
    new Promise<{ reported: string | null; code: string | null; message?: string; digest?: string; records?: number; signal?: string }>((resolve, reject) => {
      const proc = spawn(process.execPath, [child, 'read', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
      // A read that never ends is a fault too: it is killed and counted as a hang.
      let hung = false;
      const timer = setTimeout(() => {
        hung = true;
        proc.kill('SIGKILL');
      }, 30_000);
      let out = '';
      proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
      proc.on('error', reject);
      proc.on('exit', (code, signal) => {
        clearTimeout(timer);
        if (hung) return resolve({ reported: 'hang', code: null, signal: 'hang' });
        if (signal) return resolve({ reported: 'crash', code: null, signal });
        if (code !== 0 || !out.trim()) return reject(new Error(`child exited ${code}: ${out}`));
        resolve(JSON.parse(out.trim().split('\n').pop()!));
      });
    });

  it('bit flips and truncation at random offsets: every damage that changes what is read is reported, 0 silent losses', async () => {
    const template = tempDir();
    const store = RecordStore.open({ directory: template });
    const records = population(250, codes, 9);
    for (let i = 0; i < records.length; i += 500) store.writeSync({ records: records.slice(i, i + 500) });
    store.writeSync({ records: [{ kind: 'retract', id: (records.find((r) => r.kind === 'event') as { id: string }).id, nhsNumber: (records.find((r) => r.kind === 'event') as { nhsNumber: string }).nhsNumber }] });
    void store.close();
    const file = partitionFile(template);
    const size = statSync(file).size;
    const clean = await runRead(template);
    expect(clean.reported).toBeNull();
    const rnd = random(17);
    const tally = { trials: 0, flips: 0, truncations: 0, open: 0, read: 0, verify: 0, crash: 0, hang: 0, harmless: 0, silent: 0, uncoded: 0 };
    for (let t = 0; t < 120; t++) {
      const dir = join(tempDir(), 'store');
      mkdirSync(dir);
      copyFileSync(file, partitionFile(dir));
      const offset = Math.floor(rnd() * size);
      if (t % 4 === 3) {
        truncateSync(partitionFile(dir), offset);
        tally.truncations++;
      } else {
        const bytes = readFileSync(partitionFile(dir));
        bytes[offset]! ^= 1 << Math.floor(rnd() * 8);
        writeFileSync(partitionFile(dir), bytes);
        tally.flips++;
      }
      tally.trials++;
      const result = await runRead(dir);
      if (result.reported === null) {
        // Nothing reported: what was read must be exactly what was written (the flip hit unused bytes).
        if (result.digest === clean.digest) tally.harmless++;
        else tally.silent++;
      } else tally[result.reported as 'open' | 'read' | 'verify' | 'crash' | 'hang']++;
      if ((result.reported === 'open' || result.reported === 'read') && result.code !== 'CG_STORE_DAMAGED') {
        tally.uncoded++;
        console.log(`trial ${t}: reported at ${result.reported} with ${result.code}: ${result.message ?? ''}`);
      }
      if (result.reported === 'crash' || result.reported === 'hang') console.log(`trial ${t}: ${t % 4 === 3 ? 'truncation' : 'flip'} at ${offset}: ${result.signal}`);
    }
    console.log(
      `store damage: ${tally.trials} trials (${tally.flips} bit flips, ${tally.truncations} truncations) of a ${size}-byte store: ` +
        `reported at open ${tally.open}, on reading ${tally.read}, by verify ${tally.verify}; ` +
        `LMDB faulted (signal) ${tally.crash}, hung ${tally.hang}; ` +
        `no effect on what is read ${tally.harmless}; silent losses ${tally.silent}; reports without CG_STORE_DAMAGED ${tally.uncoded}`,
    );
    // LMDB keeps no page checksums: a flipped bit in a page header or node offset can make it fault or loop while
    // reading (loud, but not a coded report; see docs/embedding.md). What is never allowed is a silent difference.
    expect(tally.silent).toBe(0);
    expect(tally.uncoded).toBe(0);
    expect(tally.open + tally.read + tally.verify).toBeGreaterThan(tally.trials / 4);
  }, 300_000);

  it('noSync: a temporary store keeps every batch acknowledged before its process is killed', async () => {
    const dir = tempDir();
    const proc = spawn(process.execPath, [child, 'nosync', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      proc.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        // Killed mid-stream, after some batches were acknowledged.
        if ((out.match(/ack /g) ?? []).length >= 20 && !proc.killed) proc.kill('SIGKILL');
      });
      proc.on('error', reject);
      proc.on('exit', () => resolve());
    });
    const acked = Math.max(...[...out.matchAll(/ack (\d+)/g)].map((m) => Number(m[1])));
    expect(acked).toBeGreaterThanOrEqual(19);
    const store = RecordStore.open({ directory: dir });
    for (let b = 0; b <= acked; b++) expect(store.holder(`n${b}-99`, 'N'), `batch ${b}`).toBe('9434765919');
    expect(store.patient('9434765919')!.events.length).toBeGreaterThanOrEqual((acked + 1) * 100);
    expect(store.verify().damage).toEqual([]);
    await store.close();
  }, 60_000);

  it('two processes opening one store for writing, 110 rounds: never both hold it', async () => {
    const dir = tempDir();
    RecordStore.open({ directory: dir }).close();
    const hold = () => {
      const proc = spawn(process.execPath, [child, 'hold', dir], { stdio: ['pipe', 'pipe', 'pipe'] });
      const said = new Promise<string>((resolve, reject) => {
        let out = '';
        proc.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('\n')) resolve(out.trim());
        });
        proc.on('exit', (code) => (out.includes('\n') ? undefined : reject(new Error(`child exited ${code}`))));
      });
      const ended = new Promise<void>((resolve) => proc.on('exit', () => resolve()));
      return { proc, said, ended };
    };
    let both = 0;
    let none = 0;
    let takenOver = 0;
    for (let round = 0; round < 110; round++) {
      const [a, b] = [hold(), hold()];
      const said = await Promise.all([a.said, b.said]);
      const holders = said.filter((s) => s === 'held').length;
      const refusals = said.filter((s) => s !== 'held');
      if (holders === 2) both++;
      if (holders === 0) none++;
      expect(refusals.map((s) => s.split(':')[0]), `round ${round}: ${refusals.join('; ')}`).toEqual(holders === 1 ? ['locked CG_ENGINE_LOCKED'] : []);
      if (round % 10 === 9) {
        // The holder is killed: its lease is left behind, and the next round must take it over.
        for (const c of [a, b]) c.proc.kill('SIGKILL');
        takenOver++;
      } else for (const c of [a, b]) c.proc.stdin!.end();
      await Promise.all([a.ended, b.ended]);
    }
    console.log(`write ownership: 110 rounds of two processes opening one store: both held it in ${both}, neither in ${none}; ${takenOver} leases of killed holders taken over`);
    expect(both).toBe(0);
    expect(none).toBe(0);
  }, 300_000);
});
