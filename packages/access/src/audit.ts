import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { CaregapsError } from '@caregaps/core';

/**
 * One access attempt, allowed or denied. Identifiers and links only, never clinical content (ISO 27789): who,
 * with which role(s) and organisation, for what purpose, which activity on which resource, which patient(s),
 * when, the decision and the policy and rule that decided.
 */
export interface AuditEvent {
  /** Decision id (also given to the caller on a denial). */
  id: string;
  time: string;
  user: string;
  roles: string[];
  organisation: string;
  purpose: string;
  activity: string;
  resource: string;
  /** The NHS number asked about (as given; it may not exist). */
  patient?: string;
  /** For a data controller's report: the organisation asked about. */
  subjectOrganisation?: string;
  /** For lists and exports: the NHS numbers returned, their count and the SHA-256 of the list. */
  patients?: string[];
  rowCount?: number;
  listHash?: string;
  decision: 'allow' | 'deny';
  /** The deciding policy (name@version; several joined with `+` for an allow). */
  policy: string;
  rule: string;
}

/** The fields an audit event may hold; anything else is refused (audit minimisation). */
export const AUDIT_FIELDS: readonly string[] = [
  'seq', 'prev', 'id', 'time', 'user', 'roles', 'organisation', 'purpose', 'activity', 'resource', 'patient',
  'subjectOrganisation', 'patients', 'rowCount', 'listHash', 'decision', 'policy', 'rule', 'mac',
];

/**
 * An event as stored: its position, the MAC of the entry before (64 zeros for the first) and its own MAC, an
 * HMAC-SHA-256 under the host's audit key of the stored line without its `mac` field.
 */
export type ChainedAuditEvent = AuditEvent & { seq: number; prev: string; mac: string };

/**
 * Where audit events go. `append` must be durable when it returns (or throw: the access is then refused). The
 * access layer aborts `signal` when it stops waiting; a sink must then not write the event.
 */
export interface AuditSink {
  append(event: AuditEvent, options?: { signal?: AbortSignal }): void | Promise<void>;
  /** Every stored event, oldest first (for access reports). */
  entries(): Iterable<ChainedAuditEvent> | Promise<Iterable<ChainedAuditEvent>>;
}

export const GENESIS = '0'.repeat(64);

export function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Shortest audit key accepted: 32 bytes, the HMAC-SHA-256 block strength. */
export const MIN_KEY_BYTES = 32;

/** Checks an audit key from the host's configuration (raw bytes, or a string taken as UTF-8). */
export function auditKey(value: Uint8Array | string): Buffer {
  const key = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
  if (key.length < MIN_KEY_BYTES) throw new CaregapsError('CG_AUDIT_KEY', `The audit key has ${key.length} bytes; it needs at least ${MIN_KEY_BYTES} (e.g. \`openssl rand -hex 32\`)`);
  return key;
}

/**
 * A checkpoint: how many entries the log had and the MAC of the last one. Stored outside the log (a
 * {@link CheckpointSink}), it lets the verifier detect truncation and rewinding of the whole tail.
 */
export interface AuditCheckpoint {
  count: number;
  mac: string;
  time: string;
}

/** Where checkpoints are kept: somewhere a person who can write the log cannot (another disk, host or store). */
export interface CheckpointSink {
  write(checkpoint: AuditCheckpoint): void | Promise<void>;
  read(): AuditCheckpoint | undefined | Promise<AuditCheckpoint | undefined>;
}

/** One problem found by the verifier: the line (from 1; 0 for the log as a whole) and what is wrong. */
export interface AuditProblem {
  line: number;
  problem: string;
}

export interface AuditVerification {
  ok: boolean;
  entries: number;
  problems: AuditProblem[];
}

const MAC_SUFFIX = /,"mac":"([0-9a-f]{64})"\}$/;

function mac(key: Buffer, body: string): string {
  return createHmac('sha256', key).update(body, 'utf8').digest('hex');
}

function same(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

/**
 * The stored line of an event: its chain fields first, its MAC last, computed over the exact bytes before it, so
 * any change to the line (even whitespace) is detected. Refuses fields outside the allow-list.
 */
export function chainLine(key: Buffer, event: AuditEvent, seq: number, prev: string): { line: string; mac: string } {
  for (const field of Object.keys(event)) {
    if (!AUDIT_FIELDS.includes(field) || field === 'seq' || field === 'prev' || field === 'mac') {
      throw new CaregapsError('CG_AUDIT_WRITE', `Audit events may not hold the field ${field}`);
    }
  }
  const body = JSON.stringify({ seq, prev, ...event });
  const m = mac(key, body);
  return { line: `${body.slice(0, -1)},"mac":"${m}"}`, mac: m };
}

/** Reads one stored line: its event and MAC if the MAC is right for this key, or what is wrong. */
export function readLine(key: Buffer, text: string): { entry: ChainedAuditEvent } | { problem: string } {
  const found = MAC_SUFFIX.exec(text);
  if (!found) return { problem: 'no MAC at the end of the line (torn, edited or not written by an audit writer)' };
  const body = `${text.slice(0, found.index)}}`;
  if (!same(mac(key, body), found[1]!)) return { problem: 'the MAC does not match the line (the entry was edited, or the key is not the one it was written with)' };
  try {
    return { entry: JSON.parse(text) as ChainedAuditEvent };
  } catch {
    return { problem: 'not valid JSON' };
  }
}

/** Where a chain stands after its last entry. */
export interface ChainHead {
  count: number;
  mac: string;
}

/**
 * Checks a chain of stored lines under a key: each line's MAC, numbers 1, 2, 3…, each `prev` the MAC of the
 * entry before, only audit fields; then the checkpoint (count not beyond the log, MAC of the entry it names).
 * Detects edits, insertions, deletions and reordering anywhere, and truncation up to the last checkpoint, even
 * when every plain hash was recomputed: forging a MAC needs the key.
 */
export function verifyChain(key: Buffer, lines: readonly string[], checkpoint: AuditCheckpoint | undefined): AuditVerification & { head: ChainHead } {
  const problems: AuditProblem[] = [];
  let prev = GENESIS;
  lines.forEach((text, i) => {
    const line = i + 1;
    const read = readLine(key, text);
    if ('problem' in read) {
      problems.push({ line, problem: read.problem });
      prev = MAC_SUFFIX.exec(text)?.[1] ?? GENESIS;
      return;
    }
    const entry = read.entry;
    if (entry.seq !== line) problems.push({ line, problem: `sequence number ${String(entry.seq)} where ${line} was expected (deleted, inserted or reordered entry)` });
    if (entry.prev !== prev) problems.push({ line, problem: 'the previous-entry MAC does not match (the entry before was changed, removed or moved)' });
    for (const field of Object.keys(entry)) if (!AUDIT_FIELDS.includes(field)) problems.push({ line, problem: `field ${field} is not an audit field` });
    prev = entry.mac;
  });
  if (!checkpoint) problems.push({ line: 0, problem: 'no checkpoint given: truncation of the end of the log cannot be detected' });
  else if (checkpoint.count > lines.length) {
    problems.push({ line: lines.length, problem: `the checkpoint of ${checkpoint.time} records ${checkpoint.count} entries, the log has ${lines.length} (truncated)` });
  } else if (checkpoint.count > 0) {
    const at = MAC_SUFFIX.exec(lines[checkpoint.count - 1]!)?.[1];
    if (at === undefined || !same(at, checkpoint.mac)) problems.push({ line: checkpoint.count, problem: `entry ${checkpoint.count} is not the one the checkpoint of ${checkpoint.time} recorded (replaced or rewritten log)` });
  }
  return { ok: problems.length === 0, entries: lines.length, problems, head: { count: lines.length, mac: prev } };
}

/**
 * An in-memory keyed chain (tests, short-lived processes). `lines` are what a file would hold; the checkpoint is
 * taken after every append. Without a key it makes one of its own for its lifetime.
 */
export class MemoryAuditLog implements AuditSink {
  readonly lines: string[] = [];
  readonly key: Buffer;
  checkpoint: AuditCheckpoint;

  constructor(options: { key?: Uint8Array | string } = {}) {
    this.key = options.key === undefined ? randomBytes(MIN_KEY_BYTES) : auditKey(options.key);
    this.checkpoint = { count: 0, mac: GENESIS, time: new Date(0).toISOString() };
  }

  append(event: AuditEvent, options: { signal?: AbortSignal } = {}): void {
    if (options.signal?.aborted) throw new CaregapsError('CG_AUDIT_WRITE', 'The access layer stopped waiting for this audit event');
    const { line, mac: m } = chainLine(this.key, event, this.lines.length + 1, this.checkpoint.mac);
    this.lines.push(line);
    this.checkpoint = { count: this.lines.length, mac: m, time: new Date().toISOString() };
  }

  entries(): ChainedAuditEvent[] {
    return this.lines.map((l) => JSON.parse(l) as ChainedAuditEvent);
  }

  verify(): AuditVerification {
    const { ok, entries, problems } = verifyChain(this.key, this.lines, this.checkpoint);
    return { ok, entries, problems };
  }
}
