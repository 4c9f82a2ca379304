import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { CaregapsError, checkRecord, type CaregapsRecord } from '@caregaps/core';
import { RecordStore, isOldFormat } from './record-store.js';

/** What a migration read and wrote. */
export interface MigrationReport {
  /** Entries read from the old snapshot and log segments. */
  read: number;
  /** Records written into the new store (in their original order, so identity and versions decide as they arrive). */
  written: number;
  /** Entries of the old store that are not valid records, kept in the new store's quarantine. */
  quarantined: number;
  /** The achievement date carried over. */
  asOf: string | undefined;
  /** Bytes at the end of the last segment that were torn by a crash (never acknowledged): not migrated. */
  tornBytes: number;
}

const SEGMENT = /^segment-(\d{8})\.log$/;
const SNAPSHOT = /^snapshot-(\d{8})\.snap$/;

/**
 * Copies an engine store in the old log+snapshot format (before the record store) into a new record store. The
 * old directory is only read. Any damage except a torn tail of the last segment stops the migration with
 * `CG_STORE_DAMAGED`, naming the file and byte: nothing is skipped silently.
 */
export function migrateOldStore(from: string, to: string): MigrationReport {
  if (!isOldFormat(from)) throw new CaregapsError('CG_USAGE', `${from} holds no store in the old log+snapshot format`);
  const files = readdirSync(from);
  const numbered = (re: RegExp) =>
    files
      .map((f) => re.exec(f)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
  const report: MigrationReport = { read: 0, written: 0, quarantined: 0, asOf: undefined, tornBytes: 0 };
  const entries: unknown[] = [];
  // The newest complete snapshot, then the segments after it (as the old engine recovered).
  let base = 0;
  for (const n of numbered(SNAPSHOT).reverse()) {
    const file = join(from, `snapshot-${String(n).padStart(8, '0')}.snap`);
    const { entries: found } = unframe(readFileSync(file));
    const head = found[0] as { kind?: string; asOf?: string } | undefined;
    const foot = found[found.length - 1] as { kind?: string; entries?: number } | undefined;
    if (head?.kind !== 'snapshot' || foot?.kind !== 'snapshot-end' || foot.entries !== found.length - 2) continue;
    base = n;
    report.asOf = head.asOf;
    entries.push(...found.slice(1, -1));
    break;
  }
  const segments = numbered(SEGMENT).filter((n) => n > base);
  segments.forEach((n, i) => {
    const file = join(from, `segment-${String(n).padStart(8, '0')}.log`);
    const bytes = readFileSync(file);
    const { entries: found, validBytes } = unframe(bytes);
    if (validBytes < bytes.length) {
      if (i < segments.length - 1) throw new CaregapsError('CG_STORE_DAMAGED', `${file}: the entry at byte ${validBytes} is corrupt and later segments follow it`);
      report.tornBytes = bytes.length - validBytes;
    }
    entries.push(...found);
  });
  const store = RecordStore.open({ directory: to });
  try {
    if (store.counts.records > 0) throw new CaregapsError('CG_USAGE', `${to} already holds a record store: migrate into a new directory`);
    const batch: CaregapsRecord[] = [];
    const flush = () => {
      store.writeSync({ records: batch });
      report.written += batch.length;
      batch.length = 0;
    };
    for (const entry of entries) {
      report.read++;
      const advance = entry as { kind?: string; asOf?: string };
      if (advance.kind === 'advance' && typeof advance.asOf === 'string') {
        report.asOf = advance.asOf;
        continue;
      }
      const fault = checkRecord(entry);
      if (fault) {
        store.writeSync({ records: [], quarantined: [{ ok: false, code: fault.code, reason: `old store entry: ${fault.message}`, line: report.read, text: JSON.stringify(entry).slice(0, 1024) }] });
        report.quarantined++;
        continue;
      }
      batch.push(entry as CaregapsRecord);
      if (batch.length >= 4096) flush();
    }
    flush();
    if (report.asOf !== undefined) store.setAsOf(report.asOf);
  } finally {
    void store.close();
  }
  return report;
}

/** Reads the old format's framed entries (u32 length, u32 CRC-32, JSON) up to the first torn or corrupt one. */
function unframe(bytes: Buffer): { entries: unknown[]; validBytes: number } {
  const entries: unknown[] = [];
  let at = 0;
  while (at + 8 <= bytes.length) {
    const length = bytes.readUInt32LE(at);
    if (at + 8 + length > bytes.length) break;
    const payload = bytes.subarray(at + 8, at + 8 + length);
    if (crc32(payload) !== bytes.readUInt32LE(at + 4)) break;
    try {
      entries.push(JSON.parse(payload.toString('utf8')));
    } catch {
      break;
    }
    at += 8 + length;
  }
  return { entries, validBytes: at };
}
