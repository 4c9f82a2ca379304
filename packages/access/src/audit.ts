import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
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
  'subjectOrganisation', 'patients', 'rowCount', 'listHash', 'decision', 'policy', 'rule',
];

/** An event as stored: its position and the SHA-256 of the previous stored line (64 zeros for the first). */
export type ChainedAuditEvent = AuditEvent & { seq: number; prev: string };

/** Where audit events go. `append` must be durable when it returns (or throw: the access is then refused). */
export interface AuditSink {
  append(event: AuditEvent): void | Promise<void>;
  /** Every stored event, oldest first (for access reports). */
  entries(): Iterable<ChainedAuditEvent> | Promise<Iterable<ChainedAuditEvent>>;
}

export const GENESIS = '0'.repeat(64);

export function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** The head (anchor) of a chain: how many entries and the hash of the last line. */
export interface AuditHead {
  count: number;
  last: string;
}

/** One problem found by the verifier: the line (from 1) and what is wrong. */
export interface AuditProblem {
  line: number;
  problem: string;
}

export interface AuditVerification {
  ok: boolean;
  entries: number;
  problems: AuditProblem[];
}

/** Serialises an event with its chain fields first, so the stored line is what is hashed. */
function chainLine(event: AuditEvent, seq: number, prev: string): string {
  for (const key of Object.keys(event)) {
    if (!AUDIT_FIELDS.includes(key)) throw new CaregapsError('CG_AUDIT_WRITE', `Audit events may not hold the field ${key}`);
  }
  return JSON.stringify({ seq, prev, ...event });
}

/**
 * Checks a chain of stored lines: each parses, numbers follow 1, 2, 3…, each `prev` is the hash of the line
 * before, and (given a head) the count and last hash match the head. Detects modification, deletion, insertion,
 * reordering and — with the head — truncation.
 */
export function verifyChain(lines: readonly string[], head: AuditHead | undefined): AuditVerification {
  const problems: AuditProblem[] = [];
  let prevHash = GENESIS;
  lines.forEach((text, i) => {
    const line = i + 1;
    let entry: Partial<ChainedAuditEvent>;
    try {
      entry = JSON.parse(text) as Partial<ChainedAuditEvent>;
    } catch {
      problems.push({ line, problem: 'not valid JSON (torn or edited line)' });
      prevHash = sha256(text);
      return;
    }
    if (entry.seq !== line) problems.push({ line, problem: `sequence number ${String(entry.seq)} where ${line} was expected (deleted, inserted or reordered entry)` });
    if (entry.prev !== prevHash) problems.push({ line, problem: 'previous-entry hash does not match (the entry before was changed, removed or moved)' });
    for (const key of Object.keys(entry)) if (!AUDIT_FIELDS.includes(key)) problems.push({ line, problem: `field ${key} is not an audit field` });
    prevHash = sha256(text);
  });
  if (!head) problems.push({ line: 0, problem: 'no head file: truncation of the log cannot be detected' });
  else {
    if (head.count !== lines.length) problems.push({ line: lines.length, problem: `the head records ${head.count} entries, the log has ${lines.length} (truncated or appended outside the writer)` });
    else if (head.last !== (lines.length ? prevHash : GENESIS)) problems.push({ line: lines.length, problem: 'the last entry does not match the head (last entry changed)' });
  }
  return { ok: problems.length === 0, entries: lines.length, problems };
}

/** An in-memory hash-chained log (tests, short-lived processes). `lines` and `head` are what a file would hold. */
export class MemoryAuditLog implements AuditSink {
  readonly lines: string[] = [];
  head: AuditHead = { count: 0, last: GENESIS };

  append(event: AuditEvent): void {
    const line = chainLine(event, this.lines.length + 1, this.head.last);
    this.lines.push(line);
    this.head = { count: this.lines.length, last: sha256(line) };
  }

  entries(): ChainedAuditEvent[] {
    return this.lines.map((l) => JSON.parse(l) as ChainedAuditEvent);
  }

  verify(): AuditVerification {
    return verifyChain(this.lines, this.head);
  }
}

function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** The head file kept beside a log: `<log>.head`. */
export function headFileOf(log: string): string {
  return `${log}.head`;
}

/**
 * The embedded audit log: a local NDJSON file, one event per line, each carrying the SHA-256 of the line before,
 * plus a head file (`<log>.head`, replaced atomically after every append) holding the entry count and the last
 * line's hash, so truncation is detected. Every append is written and fsynced before it returns. Opening a log
 * whose chain or head does not verify is refused, so a damaged log is never silently extended.
 */
export class NdjsonAuditLog implements AuditSink {
  private head: AuditHead;
  private readonly headFile: string;

  constructor(
    readonly file: string,
    private readonly options: { fsync?: boolean } = {},
  ) {
    this.headFile = headFileOf(file);
    if (!existsSync(file) && !existsSync(this.headFile)) {
      this.head = { count: 0, last: GENESIS };
      return;
    }
    const result = verifyAuditLog(file);
    if (!result.ok) {
      throw new CaregapsError('CG_AUDIT_TAMPERED', `The audit log ${file} does not verify: ${result.problems.map((p) => `line ${p.line}: ${p.problem}`).join('; ')}`);
    }
    this.head = readHead(this.headFile)!;
  }

  append(event: AuditEvent): void {
    const line = chainLine(event, this.head.count + 1, this.head.last);
    const fd = openSync(this.file, 'a');
    try {
      writeSync(fd, line + '\n');
      if (this.options.fsync !== false) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    const head: AuditHead = { count: this.head.count + 1, last: sha256(line) };
    const tmp = `${this.headFile}.tmp`;
    writeFileSync(tmp, JSON.stringify(head) + '\n');
    renameSync(tmp, this.headFile);
    this.head = head;
  }

  entries(): ChainedAuditEvent[] {
    if (!existsSync(this.file)) return [];
    return splitLines(readFileSync(this.file, 'utf8')).map((l) => JSON.parse(l) as ChainedAuditEvent);
  }
}

function readHead(file: string): AuditHead | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const head = JSON.parse(readFileSync(file, 'utf8')) as Partial<AuditHead>;
    if (typeof head.count === 'number' && typeof head.last === 'string') return { count: head.count, last: head.last };
  } catch {
    // An unreadable head is reported as missing by the verifier.
  }
  return undefined;
}

/** Verifies an NDJSON audit log against its head file (`<log>.head` unless given). */
export function verifyAuditLog(file: string, headFile = headFileOf(file)): AuditVerification {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const problems: AuditProblem[] = [];
  if (text !== '' && !text.endsWith('\n')) problems.push({ line: splitLines(text).length, problem: 'the last line is incomplete (torn write)' });
  const result = verifyChain(splitLines(text), readHead(headFile));
  problems.push(...result.problems);
  return { ok: problems.length === 0, entries: result.entries, problems };
}
