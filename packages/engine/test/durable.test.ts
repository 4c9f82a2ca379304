import { spawn } from 'node:child_process';
import { appendFileSync, fsyncSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CaregapsError, loadRegistries, type CaregapsRecord } from '@caregaps/core';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DurableLog, Engine, frame, unframe } from '../src/index.js';
import { CODESETS, FIXTURE_REGISTRIES, batchResults, codesFor } from './helpers.js';
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

const open = (directory: string, snapshotEvery = 1_000_000) => new Engine({ ...loaded, asOf: ASOF, store: { directory, snapshotEvery } });
const segments = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.log')).sort();

describe('log framing', () => {
  it('reads back what it framed and stops at a torn or corrupt entry', () => {
    const entries = [{ kind: 'advance', asOf: '2025-03-31' }, { a: 'é'.repeat(300) }, { b: 2 }];
    const bytes = Buffer.concat(entries.map(frame));
    expect(unframe(bytes)).toEqual({ entries, validBytes: bytes.length });
    const torn = bytes.subarray(0, bytes.length - 3);
    const { entries: tornEntries, validBytes } = unframe(torn);
    expect(tornEntries).toEqual(entries.slice(0, 2));
    const flipped = Buffer.from(bytes);
    flipped[frame(entries[0]).length + 12]! ^= 0x01; // a bit of the second payload
    expect(unframe(flipped).entries).toEqual(entries.slice(0, 1));
    expect(validBytes).toBe(bytes.length - frame(entries[2]).length);
  });
});

describe('durable store', () => {
  const records = population(150, codes, 7);

  it('a restart rebuilds exactly the state before it, on the same achievement date', async () => {
    const dir = tempDir();
    const engine = open(dir);
    await engine.ingest(records);
    engine.advanceTo('2025-09-30');
    const before = [...engine.results()];
    engine.close();
    const again = open(dir);
    expect(again.asOf).toBe('2025-09-30');
    expect([...again.results()]).toEqual(before);
    expect(before).toEqual(batchResults(records, loaded.index, loaded.compiled, '2025-09-30'));
    expect(before.length).toBeGreaterThan(10);
    again.close();
  });

  it('snapshots replace the log segments they cover, and recovery from snapshot + log equals batch', async () => {
    const dir = tempDir();
    const engine = open(dir, 200);
    await engine.ingest(records.slice(0, 500), { batchSize: 64 });
    engine.advanceTo('2025-06-30');
    await engine.ingest(records.slice(500), { batchSize: 64 });
    engine.close();
    const files = readdirSync(dir);
    expect(files.filter((f) => f.endsWith('.snap'))).toHaveLength(1);
    expect(segments(dir)).toHaveLength(1);
    const again = open(dir, 200);
    expect(again.asOf).toBe('2025-06-30');
    expect([...again.results()]).toEqual(batchResults(records, loaded.index, loaded.compiled, '2025-06-30'));
    again.close();
  });

  it('a torn tail entry is cut off and reported, never read', async () => {
    const dir = tempDir();
    const engine = open(dir);
    await engine.ingest(records.slice(0, 100));
    engine.close();
    const [segment] = segments(dir);
    const file = join(dir, segment!);
    const whole = frame(records[100]);
    appendFileSync(file, whole.subarray(0, whole.length - 5)); // a crash in the middle of a write
    const sizeWithTear = statSync(file).size;
    const again = open(dir);
    expect(again.recovery!.truncatedBytes).toBe(whole.length - 5);
    expect(statSync(file).size).toBe(sizeWithTear - (whole.length - 5));
    expect([...again.results()]).toEqual(batchResults(records.slice(0, 100), loaded.index, loaded.compiled, ASOF));
    again.close();
  });

  it('a corrupt entry in a segment that later segments follow is an error, not a silent loss', async () => {
    const dir = tempDir();
    const log = new DurableLog(dir);
    log.recover();
    log.append([records[0]!, records[1]!]);
    log.close();
    writeFileSync(join(dir, 'segment-00000002.log'), frame(records[2]));
    const bytes = readFileSync(join(dir, 'segment-00000001.log'));
    bytes[12]! ^= 0xff;
    writeFileSync(join(dir, 'segment-00000001.log'), bytes);
    expect(() => open(dir)).toThrowError(expect.objectContaining({ code: 'CG_ENGINE_LOG_CORRUPT' }));
  });

  it('one engine per store: a second is refused while the first runs; a lock left by an ended process is taken over', () => {
    const dir = tempDir();
    const first = open(dir);
    expect(() => open(dir)).toThrowError(expect.objectContaining({ code: 'CG_ENGINE_LOCKED' }));
    first.close();
    writeFileSync(join(dir, 'LOCK'), '999999999'); // no such process
    const second = open(dir);
    expect(readFileSync(join(dir, 'LOCK'), 'utf8')).toBe(String(process.pid));
    second.close();
  });

  it('a failed log write refuses the batch: nothing applied, nothing acknowledged, nothing recovered', async () => {
    const dir = tempDir();
    let failing = false;
    const engine = new Engine({
      ...loaded,
      asOf: ASOF,
      store: {
        directory: dir,
        writer: {
          writeSync: (fd, buffer) => {
            if (failing) throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
            return writeSync(fd, buffer);
          },
          fsyncSync,
        },
      },
    });
    await engine.ingest(records.slice(0, 50));
    const good = [...engine.results()];
    failing = true;
    const acknowledged: number[] = [];
    const refused = engine.ingest(records.slice(50), { onAcknowledged: (n) => acknowledged.push(n) });
    await expect(refused).rejects.toBeInstanceOf(CaregapsError);
    await expect(refused).rejects.toMatchObject({ code: 'CG_ENGINE_LOG_WRITE' });
    expect(acknowledged).toEqual([]);
    expect([...engine.results()]).toEqual(good);
    engine.close();
    const again = open(dir);
    expect([...again.results()]).toEqual(good);
    again.close();
  });
});

describe('crash safety', () => {
  let child = '';
  beforeAll(async () => {
    const dir = tempDir();
    child = join(dir, 'ingest-child.mjs');
    await build({
      entryPoints: [fileURLToPath(new URL('./ingest-child.ts', import.meta.url))],
      outfile: child,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      conditions: ['@caregaps/source'],
      banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
      logLevel: 'error',
    });
  });

  /** Runs the child from `start`; kills it after `killAfterMs` (unless undefined). Resolves with the acknowledged count. */
  function run(store: string, recordsFile: string, start: number, snapshotEvery: number, killAfterMs: number | undefined) {
    return new Promise<{ acknowledged: number; done: boolean }>((resolve, reject) => {
      const proc = spawn(process.execPath, [child, store, recordsFile, String(start), FIXTURE_REGISTRIES, CODESETS, String(snapshotEvery)], {
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

  it('after SIGKILL at random points no acknowledged record is lost and state equals a batch recompute', async () => {
    const records: CaregapsRecord[] = population(250, codes, 11);
    const dir = tempDir();
    const recordsFile = join(dir, 'records.json');
    writeFileSync(recordsFile, JSON.stringify(records));
    const store = join(dir, 'store');
    const rnd = random(5);
    let recovered = 0;
    let kills = 0;
    for (let round = 0; round < 10 && recovered < records.length; round++) {
      const last = round === 9;
      const { acknowledged, done } = await run(store, recordsFile, recovered, 150, last ? undefined : Math.floor(rnd() * 40));
      // The store now holds some prefix of the records: at least everything acknowledged.
      const engine = open(store, 150);
      const state = JSON.stringify([...engine.results()]);
      engine.close();
      let prefix = -1;
      for (let k = acknowledged; k <= records.length && prefix < 0; k++) {
        if (JSON.stringify(batchResults(records.slice(0, k), loaded.index, loaded.compiled, ASOF)) === state) prefix = k;
      }
      expect(prefix, `round ${round}: recovered state is no prefix at or after the ${acknowledged} acknowledged records`).toBeGreaterThanOrEqual(acknowledged);
      if (!done) kills++;
      recovered = prefix;
    }
    expect(kills).toBeGreaterThanOrEqual(5);
    expect(readdirSync(store).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(recovered).toBe(records.length);
  });
});
