import {
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readFileSync,
  readSync,
  realpathSync,
  renameSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, isAbsolute, relative, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CaregapsError } from '@caregaps/core';
import fsx from 'fs-native-extensions';
import {
  GENESIS,
  auditKey,
  chainLine,
  readLine,
  verifyChain,
  type AuditCheckpoint,
  type AuditEvent,
  type AuditSink,
  type AuditVerification,
  type ChainHead,
  type ChainedAuditEvent,
  type CheckpointSink,
} from './audit.js';

/** Whether `path` is the directory `dir` or inside it (after resolving links of whatever exists). */
function within(path: string, dir: string): boolean {
  const real = (p: string) => (existsSync(p) ? realpathSync(p) : resolve(p));
  const rel = relative(real(dir), existsSync(path) ? real(path) : resolve(real(dirname(path)), basename(path)));
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** Refuses a key or checkpoint file kept beside the log: whoever can rewrite the log could rewrite it too. */
function outsideLogDirectory(path: string, log: string, what: string, code: 'CG_AUDIT_KEY' | 'CG_AUDIT_CHECKPOINT'): void {
  if (within(path, dirname(resolve(log)))) {
    throw new CaregapsError(code, `The audit ${what} ${path} is in the log's directory ${dirname(resolve(log))}; keep it where the log's writer cannot rewrite it`);
  }
}

/** Reads an audit key file (at least 32 bytes; one trailing line break ignored), refusing one in the log's directory. */
export function readAuditKey(file: string, log: string): Buffer {
  outsideLogDirectory(file, log, 'key', 'CG_AUDIT_KEY');
  if (!existsSync(file)) throw new CaregapsError('CG_AUDIT_KEY', `No audit key file at ${file}`);
  const bytes = readFileSync(file);
  const end = bytes.length - (bytes.at(-1) === 0x0a ? (bytes.at(-2) === 0x0d ? 2 : 1) : 0);
  return auditKey(bytes.subarray(0, end));
}

/**
 * Checkpoints in a file of their own, replaced atomically (write, fsync, rename). Put it on another disk or a
 * mount the log's writer cannot rewrite; a file in the log's own directory is refused.
 */
export class FileCheckpoint implements CheckpointSink {
  constructor(
    readonly file: string,
    log: string,
  ) {
    outsideLogDirectory(file, log, 'checkpoint', 'CG_AUDIT_CHECKPOINT');
  }

  write(checkpoint: AuditCheckpoint): void {
    const tmp = `${this.file}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      writeAll(fsyncing, fd, Buffer.from(JSON.stringify(checkpoint) + '\n'), 0);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
  }

  read(): AuditCheckpoint | undefined {
    if (!existsSync(this.file)) return undefined;
    let parsed: Partial<AuditCheckpoint>;
    try {
      parsed = JSON.parse(readFileSync(this.file, 'utf8')) as Partial<AuditCheckpoint>;
    } catch {
      throw new CaregapsError('CG_AUDIT_CHECKPOINT', `The audit checkpoint ${this.file} is not valid JSON`);
    }
    if (!Number.isSafeInteger(parsed.count) || parsed.count! < 0 || typeof parsed.mac !== 'string' || typeof parsed.time !== 'string') {
      throw new CaregapsError('CG_AUDIT_CHECKPOINT', `The audit checkpoint ${this.file} is malformed: it needs count, mac and time`);
    }
    return { count: parsed.count!, mac: parsed.mac, time: parsed.time };
  }
}

/** The file operations the writer uses; tests pass failing ones to inject full disks and I/O errors. */
export interface AuditFileIo {
  write(fd: number, buffer: Buffer, offset: number, length: number, position: number): number;
  fsync(fd: number): void;
  truncate(fd: number, length: number): void;
}

const fsyncing: AuditFileIo = {
  write: (fd, buffer, offset, length, position) => writeSync(fd, buffer, offset, length, position),
  fsync: (fd) => fsyncSync(fd),
  truncate: (fd, length) => ftruncateSync(fd, length),
};

/** Writes every byte or throws: a short write is continued, never taken for success. */
function writeAll(io: AuditFileIo, fd: number, buffer: Buffer, position: number): void {
  let done = 0;
  while (done < buffer.length) {
    const n = io.write(fd, buffer, done, buffer.length - done, position + done);
    if (!Number.isSafeInteger(n) || n <= 0) throw new CaregapsError('CG_AUDIT_WRITE', `The audit log accepted ${done} of ${buffer.length} bytes`);
    done += n;
  }
}

function splitLines(text: string): { lines: string[]; torn: string } {
  const end = text.lastIndexOf('\n');
  return { lines: end < 0 ? [] : text.slice(0, end).split('\n'), torn: text.slice(end + 1) };
}

/** Reads bytes [from, to) of an open file. */
function readRange(fd: number, from: number, to: number): Buffer {
  const buffer = Buffer.alloc(to - from);
  let done = 0;
  while (done < buffer.length) {
    const n = readSync(fd, buffer, done, buffer.length - done, from + done);
    if (n === 0) break;
    done += n;
  }
  return buffer.subarray(0, done);
}

export interface NdjsonAuditLogOptions {
  /** The HMAC-SHA-256 key (≥ 32 bytes) from the host's configuration or key store, never from the log's directory. */
  key: Uint8Array | string;
  /** Where the chain's head is anchored; without one, truncation of the log's end cannot be detected. */
  checkpoint?: CheckpointSink;
  /** Write a checkpoint after every n-th entry (default 1: every entry). */
  checkpointEvery?: number;
  /** Longest an append waits for another writer's lock before the access is refused (default 2000 ms). */
  lockTimeoutMs?: number;
  /** fsync each append (default true). */
  fsync?: boolean;
  /** @internal Failing file operations, for fault-injection tests. */
  io?: AuditFileIo;
}

/**
 * The embedded audit log: a local NDJSON file, one keyed-MAC-chained event per line. Any number of writers, in
 * this process or others, may share it: each append takes an exclusive lock on the file (an open-file-description
 * lock from the OS, released when the process ends, so a crashed writer never leaves a stale lock), reads what
 * others appended, cuts off a torn tail a crashed writer left (it was never acknowledged), writes the whole line,
 * fsyncs, and checkpoints. A failed write is undone and refuses the access. A log whose entries do not verify
 * under the key, or that is behind its checkpoint, is refused for appending.
 */
export class NdjsonAuditLog implements AuditSink {
  private readonly key: Buffer;
  private readonly fd: number;
  private readonly io: AuditFileIo;
  private head: ChainHead = { count: 0, mac: GENESIS };
  /** Bytes of the file that are verified entries. */
  private size = 0;
  private sinceCheckpoint = 0;
  /** Whether the whole log was read and checked against the checkpoint. */
  private checked = false;
  /** Bytes of torn tails cut off (crashed appends). */
  recoveredBytes = 0;
  /** This writer's appends, one after another. */
  private queue: Promise<void> = Promise.resolve();
  /** Set when a failed write could not be undone: the writer has stopped (see undo). */
  private failed: string | undefined;

  constructor(
    readonly file: string,
    private readonly options: NdjsonAuditLogOptions,
  ) {
    this.key = auditKey(options.key);
    this.io = options.io ?? fsyncing;
    closeSync(openSync(file, 'a'));
    this.fd = openSync(file, 'r+');
  }

  /** Opens a log and checks it (chain and checkpoint) before the first access depends on it. */
  static async open(file: string, options: NdjsonAuditLogOptions): Promise<NdjsonAuditLog> {
    const log = new NdjsonAuditLog(file, options);
    try {
      await log.locked(undefined, () => log.catchUp());
    } catch (error) {
      log.close();
      throw error;
    }
    return log;
  }

  /**
   * Runs `work` alone: after this writer's earlier appends (the OS lock belongs to the open file, so it does not
   * keep this writer's own concurrent appends apart) and under the OS lock (which keeps other writers out).
   */
  private locked(signal: AbortSignal | undefined, work: () => Promise<void>): Promise<void> {
    const run = this.queue.then(() => this.underLock(signal, work));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Takes the OS lock (waiting up to lockTimeoutMs), runs `work`, and always releases it. */
  private async underLock(signal: AbortSignal | undefined, work: () => Promise<void>): Promise<void> {
    if (this.failed) throw new CaregapsError('CG_AUDIT_WRITE', `The audit writer of ${this.file} has stopped: ${this.failed}; restart it once the disk works`);
    const timeout = this.options.lockTimeoutMs ?? 2000;
    const deadline = Date.now() + timeout;
    let wait = 1;
    while (!fsx.tryLock(this.fd)) {
      if (Date.now() >= deadline) throw new CaregapsError('CG_AUDIT_WRITE', `Another writer has held the audit log ${this.file} for over ${timeout} ms`);
      await sleep(wait);
      wait = Math.min(wait * 2, 20);
    }
    try {
      if (signal?.aborted) throw new CaregapsError('CG_AUDIT_WRITE', 'The access layer stopped waiting for this audit event');
      await work();
    } finally {
      if (!this.failed) fsx.unlock(this.fd);
    }
  }

  /**
   * Under the lock: reads the entries appended since this writer last looked (all of them the first time, and
   * then those of other writers), verifying each against the chain and, the first time, the checkpoint; then
   * cuts off a torn last line (an append that crashed before it finished, so never acknowledged).
   */
  private async catchUp(): Promise<void> {
    const end = fstatSync(this.fd).size;
    if (end === this.size && this.checked) return;
    if (end < this.size) throw tampered(this.file, [{ line: this.head.count, problem: `the log shrank from ${this.size} to ${end} bytes while open` }]);
    const { lines, torn } = splitLines(readRange(this.fd, this.size, end).toString('utf8'));
    let count = this.head.count;
    let prev = this.head.mac;
    for (const text of lines) {
      count++;
      const read = readLine(this.key, text);
      if ('problem' in read) throw tampered(this.file, [{ line: count, problem: read.problem }]);
      if (read.entry.seq !== count || read.entry.prev !== prev) throw tampered(this.file, [{ line: count, problem: 'the entry does not continue the chain' }]);
      prev = read.entry.mac;
    }
    if (!this.checked) {
      // Before anything is cut off: a log behind its checkpoint was truncated or rewound, not torn by a crash.
      const checkpoint = await this.options.checkpoint?.read();
      if (checkpoint) {
        const problems = verifyChain(this.key, lines, checkpoint).problems;
        if (problems.length) throw tampered(this.file, problems);
      }
      this.checked = true;
    }
    const kept = end - Buffer.byteLength(torn);
    if (torn !== '') {
      this.io.truncate(this.fd, kept);
      this.io.fsync(this.fd);
      this.recoveredBytes += end - kept;
    }
    this.size = kept;
    this.head = { count, mac: prev };
  }

  async append(event: AuditEvent, options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.locked(options.signal, async () => {
      await this.catchUp();
      const { line, mac } = chainLine(this.key, event, this.head.count + 1, this.head.mac);
      const bytes = Buffer.from(line + '\n', 'utf8');
      const due = this.options.checkpoint !== undefined && this.sinceCheckpoint + 1 >= (this.options.checkpointEvery ?? 1);
      try {
        writeAll(this.io, this.fd, bytes, this.size);
        if (this.options.fsync !== false) this.io.fsync(this.fd);
        if (due) await this.options.checkpoint!.write({ count: this.head.count + 1, mac, time: new Date().toISOString() });
      } catch (error) {
        this.undo(bytes.length);
        throw error instanceof CaregapsError ? error : new CaregapsError('CG_AUDIT_WRITE', `The audit event could not be written to ${this.file}: ${(error as Error)?.message ?? String(error)}`);
      }
      this.sinceCheckpoint = due ? 0 : this.sinceCheckpoint + 1;
      this.size += bytes.length;
      this.head = { count: this.head.count + 1, mac };
    });
  }

  /**
   * A failed append leaves nothing: the file is cut back to the last whole entry. If that fails too, a torn
   * partial line is cut off by the next append; but a whole line (written, then fsync failed) would read as an
   * entry, so the writer stops instead (fail-stop, as PostgreSQL does on a failed fsync): it keeps the OS lock and
   * refuses every later append, and so every other writer's, until the process is restarted on a working disk.
   */
  private undo(lineBytes: number): void {
    try {
      this.io.truncate(this.fd, this.size);
      this.io.fsync(this.fd);
    } catch (error) {
      let end = Number.POSITIVE_INFINITY;
      try {
        end = fstatSync(this.fd).size;
      } catch {
        // Unknown size: assume the whole line is there.
      }
      if (end >= this.size + lineBytes) this.failed = `a failed audit write could not be undone (${(error as Error)?.message ?? String(error)})`;
    }
  }

  entries(): ChainedAuditEvent[] {
    const { lines } = splitLines(readFileSync(this.file, 'utf8'));
    return lines.map((l) => JSON.parse(l) as ChainedAuditEvent);
  }

  close(): void {
    closeSync(this.fd);
  }
}

function tampered(file: string, problems: { line: number; problem: string }[]): CaregapsError {
  return new CaregapsError('CG_AUDIT_TAMPERED', `The audit log ${file} does not verify: ${problems.map((p) => `line ${p.line}: ${p.problem}`).join('; ')}`);
}

/** Verifies an NDJSON audit log under its key against a checkpoint (read from the host's checkpoint store). */
export function verifyAuditLog(file: string, key: Uint8Array | string, checkpoint: AuditCheckpoint | undefined): AuditVerification {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const { lines, torn } = splitLines(text);
  const problems = [];
  const result = verifyChain(auditKey(key), lines, checkpoint);
  problems.push(...result.problems);
  if (torn !== '') problems.push({ line: lines.length + 1, problem: 'the last line is incomplete (an append that crashed; the writer cuts it off when it next appends)' });
  return { ok: problems.length === 0, entries: lines.length, problems };
}
