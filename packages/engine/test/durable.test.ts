import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';
import { loadRegistries, type CaregapsRecord, type PatientResult } from '@caregaps/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { open as openLmdb } from 'lmdb';
import { Engine, migrateOldStore, partitionOf } from '../src/index.js';
import { Framer, KIND, payloadText } from '../src/store/frame.js';
import { CODESETS, FIXTURE_REGISTRIES, batchResults, codesFor } from './helpers.js';
import { bundleChild } from './child-process.js';
import { population, random } from './population.js';

const loaded = loadRegistries(FIXTURE_REGISTRIES, CODESETS);
const codes = codesFor(loaded.index, loaded.compiled);
const ASOF = '2025-03-31';
const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'caregaps-engine-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const open = (directory: string) => new Engine({ ...loaded, asOf: ASOF, store: { directory } });
/** Results as a set: a reopened engine replays patients in NHS number order, not in the order first seen. */
const asSet = (results: Iterable<PatientResult>) => [...results].map((r) => JSON.stringify(r)).sort();

describe('durable record store under the engine', () => {
  const records = population(150, codes, 7);

  it('a restart rebuilds exactly the state before it, on the same achievement date', async () => {
    const dir = tempDir();
    const engine = open(dir);
    await engine.ingest(records);
    engine.advanceTo('2025-09-30');
    const before = asSet(engine.results());
    engine.close();
    const again = open(dir);
    expect(again.asOf).toBe('2025-09-30');
    expect(again.recovery!.patients).toBe(new Set(records.filter((r) => r.kind !== 'organisation').map((r) => (r as { nhsNumber: string }).nhsNumber)).size);
    expect(asSet(again.results())).toEqual(before);
    expect(before).toEqual(asSet(batchResults(records, loaded.index, loaded.compiled, '2025-09-30')));
    expect(before.length).toBeGreaterThan(10);
    again.close();
  });

  it('a batch the store refuses is neither applied nor acknowledged, and is not there after a restart', async () => {
    const dir = tempDir();
    const engine = open(dir);
    await engine.ingest(records.slice(0, 300));
    const good = asSet(engine.results());
    // Another writer takes every partition's store over (its lease written as a process that runs: this test's parent).
    takeOverLease(dir, process.ppid);
    const acknowledged: number[] = [];
    const refused = engine.ingest(records.slice(300), { onAcknowledged: (n) => acknowledged.push(n) });
    await expect(refused).rejects.toMatchObject({ code: 'CG_ENGINE_LOCKED' });
    expect(acknowledged).toEqual([]);
    expect(asSet(engine.results())).toEqual(good);
    engine.close();
    takeOverLease(dir, 999_999_999); // the other writer has ended
    const again = open(dir);
    expect(asSet(again.results())).toEqual(good);
    again.close();
  });

  it('one engine per store: a second in the same process is refused while the first runs', () => {
    const dir = tempDir();
    const first = open(dir);
    expect(() => open(dir)).toThrowError(expect.objectContaining({ code: 'CG_ENGINE_LOCKED' }));
    first.close();
    const second = open(dir);
    second.close();
  });

  it('never touches files in the directory that are not its own', async () => {
    const dir = tempDir();
    const foreign = { 'notes.tmp': 'mine', 'snapshot.tmp': 'also mine', 'LOCK': '1', 'data.mdb.bak': 'x'.repeat(5000) };
    for (const [name, text] of Object.entries(foreign)) writeFileSync(join(dir, name), text);
    const engine = open(dir);
    await engine.ingest(records.slice(0, 100));
    engine.close();
    open(dir).close();
    for (const [name, text] of Object.entries(foreign)) expect(readFileSync(join(dir, name), 'utf8')).toBe(text);
    const own = readdirSync(dir).filter((f) => !(f in foreign)).sort();
    const partitions = [...Array(engine.partitions).keys()];
    expect(own).toEqual(partitions.flatMap((p) => [`partition-${p}.mdb`, `partition-${p}.mdb-lock`]).sort());
    console.log(`foreign files: ${Object.keys(foreign).length} before, ${Object.keys(foreign).length} untouched after two opens`);
  });
});

describe('the old log+snapshot format', () => {
  /** The old format's framing, written here from its description (u32 length, u32 CRC-32 of the JSON, the JSON). */
  const oldFrame = (entry: unknown) => {
    const payload = Buffer.from(JSON.stringify(entry));
    const head = Buffer.alloc(8);
    head.writeUInt32LE(payload.length, 0);
    head.writeUInt32LE(crc32(payload), 4);
    return Buffer.concat([head, payload]);
  };
  const records = population(80, codes, 3);

  it('is refused with a coded error that says how to migrate, and the migration keeps every record', () => {
    const old = tempDir();
    const half = Math.floor(records.length / 2);
    const snapshot = [{ kind: 'snapshot', segment: 1, asOf: '2025-01-31' }, ...records.slice(0, half), { kind: 'snapshot-end', entries: half }];
    writeFileSync(join(old, 'snapshot-00000001.snap'), Buffer.concat(snapshot.map(oldFrame)));
    writeFileSync(join(old, 'segment-00000002.log'), Buffer.concat([...records.slice(half), { kind: 'advance', asOf: ASOF }].map(oldFrame)));
    expect(() => open(old)).toThrowError(expect.objectContaining({ code: 'CG_STORE_OLD_FORMAT', message: expect.stringContaining('caregaps store migrate') }));
    const target = join(tempDir(), 'new');
    const report = migrateOldStore(old, target);
    expect(report).toMatchObject({ read: records.length + 1, written: records.length, quarantined: 0, asOf: ASOF, tornBytes: 0 });
    const engine = open(target);
    expect(engine.asOf).toBe(ASOF);
    expect(asSet(engine.results())).toEqual(asSet(batchResults(records, loaded.index, loaded.compiled, ASOF)));
    engine.close();
    expect(readdirSync(old).sort()).toEqual(['segment-00000002.log', 'snapshot-00000001.snap']);
  });
});

/** Writes a write lease naming `pid` into every partition's store, with LMDB directly, as another writer taking them over would. */
function takeOverLease(dir: string, pid: number): void {
  for (const file of readdirSync(dir).filter((f) => /^partition-\d+\.mdb$/.test(f))) takeOverOne(join(dir, file), pid);
}

function takeOverOne(path: string, pid: number): void {
  const env = openLmdb({ path, maxDbs: 8, overlappingSync: false });
  const meta = env.openDB({ name: 'meta', encoding: 'binary' });
  const framed = (key: string, text: string) => {
    const f = new Framer();
    f.beginKey();
    f.latin1(key);
    f.beginValue(KIND.meta);
    f.utf8(text);
    const value = f.endValue();
    return Buffer.from(value.subarray(value.start, value.end));
  };
  env.transactionSync(() => {
    meta.putSync('owner', framed('owner', JSON.stringify({ pid, started: undefined, token: 'another writer' })));
    const state = JSON.parse(payloadText(meta.getBinary('state')!)) as { txn: number };
    state.txn = env.getWriteTxnId();
    meta.putSync('state', framed('state', JSON.stringify(state)));
  });
  void env.close();
}

describe('crash safety', () => {
  let child = '';
  beforeAll(async () => {
    const bundled = await bundleChild('ingest-child.ts', 'crash-test');
    dirs.push(bundled.dir);
    child = bundled.script;
  });

  /** Runs the child from `start`; kills it after `killAfterMs` (unless undefined). Resolves with the acknowledged count. */
  function run(store: string, recordsFile: string, start: number, killAfterMs: number | undefined) {
    return new Promise<{ acknowledged: number; done: boolean }>((resolve, reject) => {
      const proc = spawn(process.execPath, [child, store, recordsFile, String(start), FIXTURE_REGISTRIES, CODESETS], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      proc.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (killAfterMs !== undefined && out.includes('ack ') && !proc.killed) setTimeout(() => proc.kill('SIGKILL'), killAfterMs);
      });
      proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
      proc.on('error', reject);
      proc.on('exit', (code, signal) => {
        if (code !== 0 && signal !== 'SIGKILL') return reject(new Error(`child failed (${code}): ${err}`));
        const acks = [...out.matchAll(/ack (\d+)/g)].map((m) => Number(m[1]));
        resolve({ acknowledged: start + (acks.length ? acks[acks.length - 1]! : 0), done: out.includes('done') });
      });
    });
  }

  it('after kill -9 at random points no acknowledged record is lost and state equals a batch recompute', async () => {
    const records: CaregapsRecord[] = population(1500, codes, 11);
    const dir = tempDir();
    const recordsFile = join(dir, 'records.json');
    writeFileSync(recordsFile, JSON.stringify(records));
    const store = join(dir, 'store');
    const rnd = random(5);
    let recovered = 0;
    let kills = 0;
    let lost = 0;
    const rounds = 24;
    for (let round = 0; round < rounds && recovered < records.length; round++) {
      const last = round === rounds - 1;
      const { acknowledged, done } = await run(store, recordsFile, recovered, last ? undefined : Math.floor(rnd() * 60));
      // Each partition's store now holds some prefix of its own records: at least everything acknowledged. (The
      // partitions commit a batch each in its own transaction, so a kill can fall between their commits.)
      const engine = open(store);
      const partitions = engine.partitions;
      const state = [...engine.results()];
      engine.close();
      let prefix = records.length;
      for (let p = 0; p < partitions; p++) {
        const mine = (r: CaregapsRecord) => r.kind === 'organisation' || partitionOf(r.nhsNumber, partitions) === p;
        const got = JSON.stringify(asSet(state.filter((r) => partitionOf(r.nhsNumber, partitions) === p)));
        let found = -1;
        for (let k = acknowledged; k <= records.length && found < 0; k++) {
          if (JSON.stringify(asSet(batchResults(records.slice(0, k).filter(mine), loaded.index, loaded.compiled, ASOF))) === got) found = k;
        }
        if (found < acknowledged) lost++;
        expect(found, `round ${round}: partition ${p}'s recovered state is no prefix at or after the ${acknowledged} acknowledged records`).toBeGreaterThanOrEqual(acknowledged);
        prefix = Math.min(prefix, found);
      }
      if (!done) kills++;
      recovered = prefix;
    }
    console.log(`kill -9: ${kills} kills in ${rounds} runs, ${records.length} records, partitions on worker threads, rounds that lost acknowledged records: ${lost}; final state equals batch recompute`);
    expect(kills).toBeGreaterThanOrEqual(20);
    expect(recovered).toBe(records.length);
  }, 300_000);
});
