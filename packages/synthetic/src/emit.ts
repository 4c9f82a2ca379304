/**
 * A generated patient turned into record format v1: as NDJSON bytes written straight into a reusable byte buffer
 * (no string or object per event: 180 M lines must not allocate 180 M of anything), or as record objects for callers
 * that evaluate in memory. Both give the same records: each line is `JSON.stringify` of the matching object.
 * @module
 */
import { formatDay, type CaregapsRecord, type EventRecord, type OptOut, type PatientRecord } from '@caregaps/core';
import type { EventBuffer } from './buffer.js';
import type { CodeFact } from './codes.js';
import type { Practice } from './organisations.js';

/** One patient's demographics and registration, as the generator drew them (day numbers). */
export interface PatientSketch {
  nhsNumber: string;
  /** The patient's index in base 36: the middle of every event id. */
  tag: string;
  birth: number;
  sex: 'female' | 'male';
  practice: Practice;
  registeredFrom: number;
  deathDay: number | undefined;
  leftDay: number | undefined;
  /** The practice the patient moved from, and since when they were registered there. */
  previous: { practice: Practice; from: number } | undefined;
  optOuts: OptOut[];
  /** The patient's share of the records per patient, relative to others (age and spread). */
  recordWeight: number;
}

const dayTexts = new Map<number, string>();
/** YYYY-MM-DD of a day number; the ~40,000 days a population uses are formatted once. */
export function dayText(day: number): string {
  let text = dayTexts.get(day);
  if (text === undefined) dayTexts.set(day, (text = formatDay(day)));
  return text;
}

/** The patient upserts: the previous practice's registration first when the patient moved. */
export function patientRecords(p: PatientSketch): PatientRecord[] {
  const record = (practice: Practice, from: number, to: number | undefined, death: number | undefined): PatientRecord => ({
    kind: 'patient',
    nhsNumber: p.nhsNumber,
    birthDate: dayText(p.birth),
    sex: p.sex,
    practice: practice.code,
    registeredFrom: dayText(from),
    registeredTo: to === undefined ? null : dayText(to),
    deathDate: death === undefined ? null : dayText(death),
    optOuts: p.optOuts,
    source: practice.code,
  });
  const out: PatientRecord[] = [];
  if (p.previous) out.push(record(p.previous.practice, p.previous.from, p.registeredFrom - 1, undefined));
  out.push(record(p.practice, p.registeredFrom, p.deathDay ?? p.leftDay, p.deathDay));
  return out;
}

const sourceOf = (p: PatientSketch, day: number): string => (p.previous && day < p.registeredFrom ? p.previous.practice.code : p.practice.code);

/** The patient's records as objects: the upserts, then the events in date order. */
export function recordObjects(p: PatientSketch, events: EventBuffer, facts: readonly CodeFact[]): CaregapsRecord[] {
  const records: CaregapsRecord[] = patientRecords(p);
  for (const i of events.order()) {
    const fact = facts[events.fact[i]!]!;
    const day = events.day[i]!;
    const source = sourceOf(p, day);
    const event: EventRecord = {
      kind: 'event',
      id: `${source}:${fact.medicine ? 'med' : 'obs'}:${p.tag}.${i}`,
      nhsNumber: p.nhsNumber,
      code: fact.code,
      date: dayText(day),
    };
    const value = events.value[i]!;
    const diastolic = events.diastolic[i]!;
    if (!Number.isNaN(diastolic)) event.values = { systolic: value, diastolic };
    else if (!Number.isNaN(value)) {
      event.value = value;
      if (fact.unit) event.unit = fact.unit;
    }
    event.source = source;
    records.push(event);
  }
  return records;
}

const ascii = (text: string): Uint8Array => Uint8Array.from(text, (ch) => ch.charCodeAt(0));
const VALUE = ascii(',"value":');
const SYSTOLIC = ascii(',"values":{"systolic":');
const DIASTOLIC = ascii(',"diastolic":');
const EVENT = ascii('{"kind":"event","id":"');
const NHS = ascii('","nhsNumber":"');
const UTF8 = new TextEncoder();
/** Bytes of one date, YYYY-MM-DD. */
const DATE_BYTES = 10;

/** A practice's parts of every event line: the id prefixes and the closing source, built once per practice. */
interface SourceParts {
  obs: Uint8Array;
  med: Uint8Array;
  tail: Uint8Array;
}

/** Writes patients as NDJSON into a byte buffer that the caller takes (and hands to a stream) when it is full. */
export class NdjsonEncoder {
  private buf: Uint8Array;
  private at = 0;
  /** Per code: `","code":"<code>","date":"` and, for codes with a unit, `,"unit":"<unit>"`. */
  private readonly codeParts: Uint8Array[];
  private readonly unitParts: (Uint8Array | undefined)[];
  /** Per code: 1 for a medicine (its ids read `:med:`). */
  private readonly medicine: Uint8Array;
  private readonly sources = new Map<string, SourceParts>();
  /** YYYY-MM-DD of day `dateFrom + k` at `k * 10`, filled as days are first written (`dateKnown[k]` = 1). */
  private dateFrom = 0;
  private dateBytes = new Uint8Array(0);
  private dateKnown = new Uint8Array(0);

  constructor(
    facts: readonly CodeFact[],
    private readonly chunkBytes = 1 << 20,
  ) {
    this.buf = new Uint8Array(chunkBytes + (64 << 10));
    this.codeParts = facts.map((f) => ascii(`","code":"${f.code}","date":"`));
    this.unitParts = facts.map((f) => (f.unit ? ascii(`,"unit":"${f.unit}"`) : undefined));
    this.medicine = Uint8Array.from(facts, (f) => (f.medicine ? 1 : 0));
  }

  /** Bytes written and not yet taken. */
  get size(): number {
    return this.at;
  }

  /** True when a chunk's worth is waiting to be taken. */
  get full(): boolean {
    return this.at >= this.chunkBytes;
  }

  /** The bytes written so far; the encoder starts a fresh buffer (the one returned now belongs to the caller). */
  take(): Uint8Array {
    const out = this.buf.subarray(0, this.at);
    this.buf = new Uint8Array(this.chunkBytes + (64 << 10));
    this.at = 0;
    return out;
  }

  /** Writes one patient's records, exactly as `recordObjects` gives them. */
  patient(p: PatientSketch, events: EventBuffer): void {
    for (const record of patientRecords(p)) this.text(JSON.stringify(record) + '\n');
    const current = this.source(p.practice.code);
    const previous = p.previous ? this.source(p.previous.practice.code) : current;
    const order = events.order();
    for (let n = 0; n < order.length; n++) {
      const i = order[n]!;
      const day = events.day[i]!;
      const fact = events.fact[i]!;
      const source = p.previous && day < p.registeredFrom ? previous : current;
      const value = events.value[i]!;
      const diastolic = events.diastolic[i]!;
      this.ensure(512);
      this.bytes(EVENT);
      this.bytes(this.medicine[fact] === 1 ? source.med : source.obs);
      this.ascii(p.tag);
      this.buf[this.at++] = 46; // '.'
      this.int(i);
      this.bytes(NHS);
      this.ascii(p.nhsNumber);
      this.bytes(this.codeParts[fact]!);
      this.date(day);
      this.buf[this.at++] = 34; // '"'
      if (diastolic === diastolic) {
        this.bytes(SYSTOLIC);
        this.number(value);
        this.bytes(DIASTOLIC);
        this.number(diastolic);
        this.buf[this.at++] = 125; // '}'
      } else if (value === value) {
        this.bytes(VALUE);
        this.number(value);
        const unit = this.unitParts[fact];
        if (unit) this.bytes(unit);
      }
      this.bytes(source.tail);
    }
  }

  private source(code: string): SourceParts {
    let parts = this.sources.get(code);
    if (parts === undefined) {
      parts = { obs: ascii(`${code}:obs:`), med: ascii(`${code}:med:`), tail: ascii(`,"source":"${code}"}\n`) };
      this.sources.set(code, parts);
    }
    return parts;
  }

  private ensure(bytes: number): void {
    if (this.at + bytes <= this.buf.length) return;
    const bigger = new Uint8Array(Math.max(this.buf.length * 2, this.at + bytes));
    bigger.set(this.buf.subarray(0, this.at));
    this.buf = bigger;
  }

  private bytes(part: Uint8Array): void {
    if (part.length > 24) {
      this.buf.set(part, this.at);
      this.at += part.length;
      return;
    }
    const buf = this.buf;
    let at = this.at;
    for (let k = 0; k < part.length; k++) buf[at++] = part[k]!;
    this.at = at;
  }

  /** Text known to be ASCII (codes, tags, NHS numbers), a byte per character. */
  private ascii(text: string): void {
    const buf = this.buf;
    let at = this.at;
    for (let k = 0; k < text.length; k++) buf[at++] = text.charCodeAt(k);
    this.at = at;
  }

  private text(text: string): void {
    this.ensure(text.length * 3);
    this.at += UTF8.encodeInto(text, this.buf.subarray(this.at)).written;
  }

  private date(day: number): void {
    let k = day - this.dateFrom;
    if (k < 0 || k >= this.dateKnown.length) k = this.widenDates(day);
    const dates = this.dateBytes;
    let from = k * DATE_BYTES;
    if (this.dateKnown[k] === 0) {
      const text = dayText(day);
      for (let c = 0; c < DATE_BYTES; c++) dates[from + c] = text.charCodeAt(c);
      this.dateKnown[k] = 1;
    }
    const buf = this.buf;
    let at = this.at;
    for (let c = 0; c < DATE_BYTES; c++) buf[at++] = dates[from++]!;
    this.at = at;
  }

  /** Makes room in the date table for `day` (the table covers every day written so far, and a margin) and returns its slot. */
  private widenDates(day: number): number {
    const known = this.dateKnown.length;
    const from = known === 0 ? day - 4096 : Math.min(this.dateFrom, day - 4096);
    const to = known === 0 ? day + 4096 : Math.max(this.dateFrom + known, day + 4096);
    const bytes = new Uint8Array((to - from) * DATE_BYTES);
    const flags = new Uint8Array(to - from);
    if (known > 0) {
      bytes.set(this.dateBytes, (this.dateFrom - from) * DATE_BYTES);
      flags.set(this.dateKnown, this.dateFrom - from);
    }
    this.dateFrom = from;
    this.dateBytes = bytes;
    this.dateKnown = flags;
    return day - from;
  }

  /** A non-negative integer's digits. */
  private int(n: number): void {
    if (n < 10) {
      this.buf[this.at++] = 48 + n;
      return;
    }
    let digits = 1;
    for (let m = n; m >= 10; m = Math.floor(m / 10)) digits++;
    const buf = this.buf;
    let at = this.at + digits;
    this.at = at;
    for (let m = n; digits > 0; digits--) {
      buf[--at] = 48 + (m % 10);
      m = Math.floor(m / 10);
    }
  }

  /** A number as JSON writes it. */
  private number(v: number): void {
    if (Number.isInteger(v) && v >= 0 && v < 1e15) return this.int(v);
    const text = JSON.stringify(v);
    for (let k = 0; k < text.length; k++) this.buf[this.at++] = text.charCodeAt(k);
  }
}
