/**
 * C6/F2 for the audit log itself (issue 13 item 14): a full disk or an I/O error never leaves a line for an access
 * that was refused, nor a torn line; a crash at any moment loses no acknowledged entry and never makes the log
 * unopenable; concurrent writers in several processes keep one chain; a stalled sink or a held lock refuses the
 * access within its timeout instead of hanging it.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, closeSync, fsyncSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { build } from 'esbuild';
import fsx from 'fs-native-extensions';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { FileCheckpoint, NdjsonAuditLog, createAccess, verifyAuditLog, type AuditEvent, type AuditSink, type ChainedAuditEvent } from '../src/index.js';
import type { AuditFileIo } from '../src/audit-file.js';
import { TODAY, nhsNumbers, organisations, random, sourceOf } from './fixture.js';

const KEY = 'fault-tests-audit-key-0123456789abcdef';
const dir = mkdtempSync(join(tmpdir(), 'caregaps-audit-faults-'));
const logs = join(dir, 'logs');
const vault = join(dir, 'vault');
mkdirSync(logs);
mkdirSync(vault);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const [NHS] = nhsNumbers(1);
const source = sourceOf([{ nhsNumber: NHS!, practice: 'P00001', diabetic: true, hba1c: 80 }], organisations());
const GP = { user: 'gp', roles: ['clinical-practitioner'], organisation: 'P00001' };

const logIds = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as ChainedAuditEvent).id);
const decisionOf = (error: unknown) => /decision ([0-9a-f-]{36})/.exec(String((error as Error).message))?.[1];

function ioError(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: injected`), { code });
}

/** Real file operations with one planned fault per append, chosen by the test. */
class FaultyIo implements AuditFileIo {
  fault = 'none';
  private writes = 0;
  write(fd: number, buffer: Buffer, offset: number, length: number, position: number): number {
    this.writes++;
    if (this.fault === 'enospc' ) throw ioError('ENOSPC');
    if (this.fault === 'short-then-enospc' || this.fault === 'short-then-enospc-and-truncate-fails') {
      if (length < 10) throw ioError('ENOSPC');
      return writeSync(fd, buffer, offset, Math.floor(length / 2), position);
    }
    // A short write that the disk then completes: legal, and must not be taken for the whole line.
    if (this.fault === 'short-write') return writeSync(fd, buffer, offset, Math.max(1, Math.floor(length / 3)), position);
    if (this.fault === 'zero-write') return 0;
    return writeSync(fd, buffer, offset, length, position);
  }
  fsync(fd: number): void {
    if (this.fault === 'fsync-eio' || this.fault === 'fsync-eio-and-truncate-fails') throw ioError('EIO');
    fsyncSync(fd);
  }
  truncate(fd: number, length: number): void {
    if (this.fault === 'short-then-enospc-and-truncate-fails' || this.fault === 'fsync-eio-and-truncate-fails') throw ioError('EIO');
    ftruncateSync(fd, length);
  }
}

class FaultyCheckpoint extends FileCheckpoint {
  failing = false;
  override write(checkpoint: Parameters<FileCheckpoint['write']>[0]): void {
    if (this.failing) throw ioError('EIO');
    super.write(checkpoint);
  }
}

const FAULTS = ['none', 'enospc', 'short-then-enospc', 'short-then-enospc-and-truncate-fails', 'short-write', 'zero-write', 'fsync-eio', 'checkpoint-eio'];

describe('audit log under ordinary faults', () => {
  test('full disk, short writes and I/O errors: no line for a refused access, no torn line, the chain verifies', async () => {
    const file = join(logs, 'faults.ndjson');
    const io = new FaultyIo();
    const checkpoint = new FaultyCheckpoint(join(vault, 'faults.checkpoint'), file);
    const audit = await NdjsonAuditLog.open(file, { key: KEY, checkpoint, io });
    const layer = createAccess({ source, audit, now: () => TODAY });
    const rnd = random(14);
    const served = new Set<string>();
    const refused = new Set<string>();
    let injected = 0;
    const byFault = new Map<string, number>();
    for (let i = 0; i < 400; i++) {
      const fault = FAULTS[Math.floor(rnd() * FAULTS.length)]!;
      io.fault = fault === 'checkpoint-eio' ? 'none' : fault;
      checkpoint.failing = fault === 'checkpoint-eio';
      if (fault !== 'none') injected++;
      byFault.set(fault, (byFault.get(fault) ?? 0) + 1);
      try {
        await layer.as(GP, 'direct-care').patient(NHS!);
        served.add(audit.entries().at(-1)!.id);
      } catch (error) {
        expect((error as { code?: string }).code).toBe('CG_AUDIT_WRITE');
        refused.add(decisionOf(error)!);
      }
    }
    io.fault = 'none';
    checkpoint.failing = false;
    await layer.as(GP, 'direct-care').patient(NHS!); // a clean append after the last fault cuts any torn tail off
    audit.close();
    const ids = logIds(file);
    const linesForRefused = ids.filter((id) => refused.has(id)).length;
    const servedMissing = [...served].filter((id) => !ids.includes(id)).length;
    const verification = verifyAuditLog(file, KEY, checkpoint.read());
    const expectedRefusals = FAULTS.filter((f) => !['none', 'short-write'].includes(f)).reduce((n, f) => n + (byFault.get(f) ?? 0), 0);
    console.log(
      `C6/F2 audit faults: appends ${400}; faults injected ${injected}; accesses refused ${refused.size} (expected ${expectedRefusals}); ` +
        `lines left for refused accesses ${linesForRefused}; served accesses without a line ${servedMissing}; torn bytes recovered ${audit.recoveredBytes}; log verifies ${verification.ok}`,
    );
    expect(refused.size).toBe(expectedRefusals);
    expect(linesForRefused).toBe(0);
    expect(servedMissing).toBe(0);
    expect(verification.problems).toEqual([]);
    expect(audit.recoveredBytes).toBeGreaterThan(0);
  });

  test('concurrent appends in one process, through one writer and through two, keep one chain', async () => {
    const file = join(logs, 'in-process.ndjson');
    const checkpoint = new FileCheckpoint(join(vault, 'in-process.checkpoint'), file);
    const [one, two] = [await NdjsonAuditLog.open(file, { key: KEY, checkpoint }), await NdjsonAuditLog.open(file, { key: KEY, checkpoint })];
    const event = (id: string): AuditEvent => ({ id, time: TODAY.toISOString(), user: 'u', roles: ['nurse'], organisation: 'P00001', purpose: 'direct-care', activity: 'view-patient-record', resource: 'patient-record', decision: 'allow', policy: 'test@1.0.0', rule: 'r' });
    await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 3 === 0 ? two : one).append(event(`e${i}`))));
    one.close();
    two.close();
    const entries = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as ChainedAuditEvent);
    const duplicateSeqs = entries.length - new Set(entries.map((e) => e.seq)).size;
    console.log(`C5-style audit writers in one process: concurrent appends 60 (two writers); entries ${entries.length}; duplicate sequence numbers ${duplicateSeqs}`);
    expect(entries.length).toBe(60);
    expect(duplicateSeqs).toBe(0);
    expect(verifyAuditLog(file, KEY, checkpoint.read()).problems).toEqual([]);
  });

  test('a whole line whose fsync and undo both fail stops the writer, and keeps other writers out (fail-stop)', async () => {
    const file = join(logs, 'fail-stop.ndjson');
    const io = new FaultyIo();
    const stopped = await NdjsonAuditLog.open(file, { key: KEY, io });
    const other = await NdjsonAuditLog.open(file, { key: KEY, lockTimeoutMs: 100 });
    const event: AuditEvent = { id: 'x', time: TODAY.toISOString(), user: 'u', roles: ['nurse'], organisation: 'P00001', purpose: 'direct-care', activity: 'view-patient-record', resource: 'patient-record', decision: 'allow', policy: 'test@1.0.0', rule: 'r' };
    await stopped.append(event);
    io.fault = 'fsync-eio-and-truncate-fails';
    await expect(stopped.append({ ...event, id: 'y' })).rejects.toMatchObject({ code: 'CG_AUDIT_WRITE' });
    io.fault = 'none';
    const refusals = await Promise.all([stopped.append({ ...event, id: 'z' }), other.append({ ...event, id: 'w' })].map((p) => p.then(() => 'written', (e: { code?: string }) => e.code)));
    console.log(`C6/P7 audit fail-stop: appends after an undo that failed ${refusals.length}; written ${refusals.filter((r) => r === 'written').length}`);
    expect(refusals).toEqual(['CG_AUDIT_WRITE', 'CG_AUDIT_WRITE']);
    stopped.close();
    other.close();
  });

  describe('across processes', () => {
    let child = '';
    beforeAll(async () => {
      // Bundled next to this package so the child resolves fs-native-extensions from its node_modules.
      const out = fileURLToPath(new URL('../node_modules/.cache/caregaps-test/audit-writer-child.mjs', import.meta.url));
      await build({
        entryPoints: [fileURLToPath(new URL('./audit-writer-child.ts', import.meta.url))],
        outfile: out,
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        conditions: ['@caregaps/source'],
        external: ['fs-native-extensions'],
        banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
        logLevel: 'error',
      });
      child = out;
    });

    /** Runs a writer; kills it with SIGKILL after `killAfterMs` unless undefined. Resolves with the ids it acknowledged. */
    function writer(file: string, checkpointFile: string, count: number, name: string, killAfterMs?: number): Promise<{ acked: string[]; code: number | null; stderr: string }> {
      return new Promise((resolve, reject) => {
        const proc = spawn(process.execPath, [child, file, KEY, checkpointFile, String(count), name], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let stderr = '';
        proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
        proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        const timer = killAfterMs === undefined ? undefined : setTimeout(() => proc.kill('SIGKILL'), killAfterMs);
        proc.on('error', reject);
        proc.on('close', (code) => {
          clearTimeout(timer);
          resolve({ acked: out.split('\n').filter((l) => l.startsWith('ack ')).map((l) => l.slice(4)), code, stderr });
        });
      });
    }

    test('three writers in three processes keep one chain: no sequence number twice, nothing lost', async () => {
      const file = join(logs, 'concurrent.ndjson');
      const checkpointFile = join(vault, 'concurrent.checkpoint');
      const runs = await Promise.all(['w1', 'w2', 'w3'].map((name) => writer(file, checkpointFile, 40, name)));
      for (const run of runs) expect(run.stderr).toBe('');
      const entries = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as ChainedAuditEvent);
      const seqs = entries.map((e) => e.seq);
      const duplicateSeqs = seqs.length - new Set(seqs).size;
      const lost = runs.flatMap((r) => r.acked).filter((id) => !entries.some((e) => e.id === id)).length;
      const verification = verifyAuditLog(file, KEY, new FileCheckpoint(checkpointFile, file).read());
      console.log(`C5-style audit writers: processes 3; entries ${entries.length}; duplicate sequence numbers ${duplicateSeqs}; acknowledged entries lost ${lost}; chain verifies ${verification.ok}`);
      expect(entries.length).toBe(120);
      expect(duplicateSeqs).toBe(0);
      expect(lost).toBe(0);
      expect(verification.problems).toEqual([]);
    });

    test('three writers in three worker threads keep one chain', async () => {
      const file = join(logs, 'threads.ndjson');
      const checkpointFile = join(vault, 'threads.checkpoint');
      const exits = await Promise.all(
        ['t1', 't2', 't3'].map(
          (name) =>
            new Promise<number>((resolve, reject) => {
              const worker = new Worker(child, { argv: [file, KEY, checkpointFile, '40', name, 'quiet'] });
              worker.on('error', reject);
              worker.on('exit', resolve);
            }),
        ),
      );
      const entries = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as ChainedAuditEvent);
      const duplicateSeqs = entries.length - new Set(entries.map((e) => e.seq)).size;
      const verification = verifyAuditLog(file, KEY, new FileCheckpoint(checkpointFile, file).read());
      console.log(`D1/C5-style audit writers in worker threads: threads 3; entries ${entries.length}; duplicate sequence numbers ${duplicateSeqs}; chain verifies ${verification.ok}`);
      expect(exits).toEqual([0, 0, 0]);
      expect(entries.length).toBe(120);
      expect(duplicateSeqs).toBe(0);
      expect(verification.problems).toEqual([]);
    });

    test('SIGKILL at random moments: every acknowledged entry kept, the log always reopens and verifies', async () => {
      const file = join(logs, 'crash.ndjson');
      const checkpointFile = join(vault, 'crash.checkpoint');
      const rnd = random(1414);
      const acked: string[] = [];
      let runs = 0;
      let refusedOpens = 0;
      for (let i = 0; i < 16; i++) {
        const run = await writer(file, checkpointFile, 5000, `c${i}`, 250 + Math.floor(rnd() * 400));
        runs++;
        acked.push(...run.acked);
        if (run.stderr.includes('CG_AUDIT')) refusedOpens++;
      }
      // A torn tail as a crash mid-line leaves it, then one more writer.
      appendFileSync(file, '{"seq":99999,"prev":"0000');
      const last = await writer(file, checkpointFile, 3, 'after');
      if (last.stderr !== '') refusedOpens++;
      acked.push(...last.acked);
      const ids = logIds(file);
      const lost = acked.filter((id) => !ids.includes(id)).length;
      const verification = verifyAuditLog(file, KEY, new FileCheckpoint(checkpointFile, file).read());
      console.log(`C3/C6 audit crash: kill -9 runs ${runs}; acknowledged ${acked.length}; acknowledged lost ${lost}; opens refused after a crash ${refusedOpens}; entries ${ids.length}; verifies ${verification.ok}`);
      expect(acked.length).toBeGreaterThan(0);
      expect(lost).toBe(0);
      expect(refusedOpens).toBe(0);
      expect(verification.problems).toEqual([]);
    });
  });

  test('a stalled sink or a lock held by a stalled writer refuses the access within its timeout', async () => {
    let aborted = 0;
    const stalled: AuditSink = {
      append: (_event: AuditEvent, options?: { signal?: AbortSignal }) =>
        new Promise<void>(() => options?.signal?.addEventListener('abort', () => aborted++)),
      entries: () => [],
    };
    const file = join(logs, 'held.ndjson');
    const held = await NdjsonAuditLog.open(file, { key: KEY, lockTimeoutMs: 150 });
    const holder = openSync(file, 'r+');
    expect(fsx.tryLock(holder)).toBe(true); // another writer that took the lock and stalled
    const cases: [string, AuditSink][] = [
      ['never-answering sink', stalled],
      ['lock held by another writer', held],
    ];
    let hung = 0;
    let worst = 0;
    for (const [, sink] of cases) {
      const layer = createAccess({ source, audit: sink, now: () => TODAY, auditTimeoutMs: 300 });
      const started = Date.now();
      const outcome = await Promise.race([
        layer.as(GP, 'direct-care').patient(NHS!).then(
          () => 'served',
          (error: { code?: string }) => error.code,
        ),
        new Promise((resolve) => setTimeout(() => resolve('hung'), 5000)),
      ]);
      worst = Math.max(worst, Date.now() - started);
      if (outcome === 'hung') hung++;
      expect(outcome).toBe('CG_AUDIT_WRITE');
    }
    fsx.unlock(holder);
    closeSync(holder);
    held.close();
    console.log(`F2 stalled audit: stalls ${cases.length}; accesses hung ${hung}; slowest refusal ${worst} ms; sinks told to abort ${aborted}`);
    expect(hung).toBe(0);
    expect(aborted).toBe(1);
    expect(readFileSync(file, 'utf8')).toBe('');
  });
});
