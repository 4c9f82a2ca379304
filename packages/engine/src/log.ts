import {
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { CaregapsError, type CaregapsRecord } from '@caregaps/core';

/** A move of the achievement date, logged so a restart comes back on the same date. */
export interface AdvanceEntry {
  kind: 'advance';
  asOf: string;
}

/** What the log holds: accepted records and achievement-date moves, in the order they were applied. */
export type LogEntry = CaregapsRecord | AdvanceEntry;

interface SnapshotHeader {
  kind: 'snapshot';
  segment: number;
  asOf: string;
}

interface SnapshotFooter {
  kind: 'snapshot-end';
  entries: number;
}

/** The writes the log makes when appending: replaceable in tests to simulate a full or failing disk. */
export interface LogWriter {
  writeSync(fd: number, buffer: Uint8Array): number;
  fsyncSync(fd: number): void;
}

const HEADER_BYTES = 8;
/** Longest entry accepted when reading: a longer length field can only come from a torn or corrupt write. */
const MAX_ENTRY_BYTES = 64 << 20;

/** Frames one entry: payload length (u32 LE), CRC-32 of the payload (u32 LE), payload (UTF-8 JSON). */
export function frame(entry: unknown): Buffer {
  const payload = Buffer.from(JSON.stringify(entry), 'utf8');
  const out = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  out.writeUInt32LE(payload.length, 0);
  out.writeUInt32LE(crc32(payload), 4);
  payload.copy(out, HEADER_BYTES);
  return out;
}

/** Reads framed entries up to the first incomplete or corrupt one; `validBytes` is where the good prefix ends. */
export function unframe(bytes: Buffer): { entries: unknown[]; validBytes: number } {
  const entries: unknown[] = [];
  let at = 0;
  while (at + HEADER_BYTES <= bytes.length) {
    const length = bytes.readUInt32LE(at);
    if (length > MAX_ENTRY_BYTES || at + HEADER_BYTES + length > bytes.length) break;
    const payload = bytes.subarray(at + HEADER_BYTES, at + HEADER_BYTES + length);
    if (crc32(payload) !== bytes.readUInt32LE(at + 4)) break;
    let value: unknown;
    try {
      value = JSON.parse(payload.toString('utf8'));
    } catch {
      break; // a checksum collision on garbage: still not a record
    }
    entries.push(value);
    at += HEADER_BYTES + length;
  }
  return { entries, validBytes: at };
}

/** What recovery found in the store directory. */
export interface Recovery {
  /** Achievement date of the snapshot, when there was one. */
  snapshotAsOf: string | undefined;
  /** Entries to apply in order: the snapshot's, then the log's. */
  entries: LogEntry[];
  /** Entries that came from the log after the snapshot. */
  logEntries: number;
  /** Bytes cut from the end of the log: an entry torn by a crash (never acknowledged) or corrupt. */
  truncatedBytes: number;
}

const SEGMENT = /^segment-(\d{8})\.log$/;
const SNAPSHOT = /^snapshot-(\d{8})\.snap$/;
const pad = (n: number) => String(n).padStart(8, '0');

/**
 * The durable local store: an append-only log in numbered segments, plus snapshots. Snapshot n holds the whole
 * record state as of the end of segment n; recovery loads the newest complete snapshot and replays the segments
 * after it. Every append is written and fsynced before it returns, so an acknowledged record survives a crash.
 */
export class DurableLog {
  private fd = -1;
  private segment = 0;
  private size = 0;
  private failed: Error | undefined;
  private locked = false;

  constructor(
    readonly directory: string,
    private readonly writer: LogWriter = { writeSync, fsyncSync },
  ) {}

  /**
   * Takes the directory's lock, reads it, cuts a torn tail off the last segment and opens it for appending.
   * The lock (a LOCK file naming this process) keeps a second engine from appending to the same log; a lock left
   * by a process that no longer runs (killed, crashed) is taken over.
   */
  recover(): Recovery {
    mkdirSync(this.directory, { recursive: true });
    this.lock();
    try {
      return this.read();
    } catch (error) {
      this.unlock();
      throw error;
    }
  }

  private lock(): void {
    const file = join(this.directory, 'LOCK');
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(file, 'wx');
        writeSync(fd, String(process.pid));
        closeSync(fd);
        this.locked = true;
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const holder = Number(readFileSync(file, 'utf8'));
        if (isRunning(holder)) {
          throw new CaregapsError('CG_ENGINE_LOCKED', `${this.directory} is in use by process ${holder}`);
        }
        unlinkSync(file); // left by a process that has ended
      }
    }
    throw new CaregapsError('CG_ENGINE_LOCKED', `${this.directory}: could not take the lock`);
  }

  private unlock(): void {
    if (!this.locked) return;
    this.locked = false;
    try {
      unlinkSync(join(this.directory, 'LOCK'));
    } catch {
      // already gone: nothing to release
    }
  }

  private read(): Recovery {
    const files = readdirSync(this.directory);
    // A snapshot that a crash interrupted before its rename: the segments it would replace are all still there.
    for (const f of files) if (f.endsWith('.tmp')) unlinkSync(join(this.directory, f));
    const numbers = (re: RegExp) =>
      files
        .map((f) => re.exec(f)?.[1])
        .filter((n): n is string => n !== undefined)
        .map(Number)
        .sort((a, b) => a - b);
    let snapshotNumber = 0;
    let snapshotAsOf: string | undefined;
    const entries: LogEntry[] = [];
    for (const n of numbers(SNAPSHOT).reverse()) {
      const loaded = this.readSnapshot(n);
      if (!loaded) continue; // incomplete: a crash while writing it; the log segments it would replace are still there
      snapshotNumber = n;
      snapshotAsOf = loaded.asOf;
      entries.push(...loaded.entries);
      break;
    }
    const segments = numbers(SEGMENT).filter((n) => n > snapshotNumber);
    let truncatedBytes = 0;
    let logEntries = 0;
    segments.forEach((n, i) => {
      const file = join(this.directory, `segment-${pad(n)}.log`);
      const bytes = readFileSync(file);
      const { entries: found, validBytes } = unframe(bytes);
      if (validBytes < bytes.length) {
        if (i < segments.length - 1) {
          throw new CaregapsError('CG_ENGINE_LOG_CORRUPT', `${file}: entry at byte ${validBytes} is corrupt and later segments follow it`, [
            { code: 'CG_ENGINE_LOG_CORRUPT', message: `corrupt entry at byte ${validBytes}`, file },
          ]);
        }
        truncatedBytes = bytes.length - validBytes;
        const fd = openSync(file, 'r+');
        ftruncateSync(fd, validBytes);
        fsyncSync(fd);
        closeSync(fd);
      }
      logEntries += found.length;
      entries.push(...(found as LogEntry[]));
    });
    this.segment = segments.length ? segments[segments.length - 1]! : snapshotNumber + 1;
    this.openSegment();
    return { snapshotAsOf, entries, logEntries, truncatedBytes };
  }

  private readSnapshot(n: number): { asOf: string; entries: LogEntry[] } | undefined {
    const { entries } = unframe(readFileSync(join(this.directory, `snapshot-${pad(n)}.snap`)));
    const header = entries[0] as SnapshotHeader | undefined;
    const footer = entries[entries.length - 1] as SnapshotFooter | undefined;
    if (header?.kind !== 'snapshot' || footer?.kind !== 'snapshot-end' || footer.entries !== entries.length - 2) return undefined;
    return { asOf: header.asOf, entries: entries.slice(1, -1) as LogEntry[] };
  }

  private openSegment(): void {
    const file = join(this.directory, `segment-${pad(this.segment)}.log`);
    const created = !existsSync(file);
    this.fd = openSync(file, 'a');
    this.size = fstatSync(this.fd).size;
    if (created) this.syncDirectory();
  }

  private syncDirectory(): void {
    const fd = openSync(this.directory, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Appends entries and fsyncs. On any failure the partial write is cut off and the error is thrown: the entries
   * are not in the log and must not be acknowledged. If even the cut fails, the log refuses every later append.
   */
  append(entries: readonly LogEntry[]): void {
    if (this.failed) throw this.refusal(this.failed);
    if (this.fd < 0) throw new CaregapsError('CG_ENGINE_CLOSED', 'The engine store is closed');
    const buffer = Buffer.concat(entries.map(frame));
    try {
      let written = 0;
      while (written < buffer.length) written += this.writer.writeSync(this.fd, buffer.subarray(written));
      this.writer.fsyncSync(this.fd);
      this.size += buffer.length;
    } catch (error) {
      try {
        ftruncateSync(this.fd, this.size);
      } catch (cut) {
        this.failed = cut as Error;
      }
      throw this.refusal(error as Error);
    }
  }

  private refusal(cause: Error): CaregapsError {
    return new CaregapsError('CG_ENGINE_LOG_WRITE', `Could not write the engine log in ${this.directory}: ${cause.message}`);
  }

  /** Bytes in the current segment. */
  get segmentBytes(): number {
    return this.size;
  }

  /**
   * Writes a snapshot of the whole state (which must include everything appended so far), then starts a new
   * segment and deletes the segments and snapshots it replaces.
   */
  snapshot(asOf: string, state: Iterable<LogEntry>): void {
    const n = this.segment;
    const tmp = join(this.directory, `snapshot-${pad(n)}.tmp`);
    const fd = openSync(tmp, 'w');
    let count = 0;
    try {
      const chunks: Buffer[] = [frame({ kind: 'snapshot', segment: n, asOf } satisfies SnapshotHeader)];
      let pending = chunks[0]!.length;
      const flush = () => {
        const b = Buffer.concat(chunks);
        let written = 0;
        while (written < b.length) written += writeSync(fd, b, written);
        chunks.length = 0;
        pending = 0;
      };
      for (const entry of state) {
        const f = frame(entry);
        chunks.push(f);
        pending += f.length;
        count++;
        if (pending > 1 << 20) flush();
      }
      chunks.push(frame({ kind: 'snapshot-end', entries: count } satisfies SnapshotFooter));
      flush();
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, join(this.directory, `snapshot-${pad(n)}.snap`));
    this.syncDirectory();
    closeSync(this.fd);
    this.segment = n + 1;
    this.openSegment();
    for (const f of readdirSync(this.directory)) {
      const seg = SEGMENT.exec(f);
      const snap = SNAPSHOT.exec(f);
      if ((seg && Number(seg[1]) <= n) || (snap && Number(snap[1]) < n)) unlinkSync(join(this.directory, f));
    }
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    this.unlock();
  }
}

/** Whether a process with this id is running (signal 0 checks without sending anything). */
function isRunning(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
