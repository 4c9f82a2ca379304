import type { ErrorCode, SourceLocation } from '../errors.js';
import type { CaregapsRecord } from '../records/types.js';
import type { NormalisationMap } from './normalise.js';
import type { TestNumberAssigner } from './test-numbers.js';

/**
 * What an adapter is, apart from what it does: checked when the adapter is registered (see `AdapterRegistry`).
 */
export interface AdapterMeta {
  /** Lower-case name, `a-z`, `0-9` and `-`, e.g. `fhir-r4` or `acme-lab-feed`. */
  name: string;
  /** The adapter's own version, `x.y.z`. */
  version: string;
  /** The versions of `@caregaps/core` it works with, as a semver range, e.g. `^0.1.0`. */
  engine: string;
  /** What it reads, e.g. `["fhir-r4-bundle", "fhir-bulk-ndjson"]`. */
  reads: readonly string[];
  description?: string;
}

/** One input: a file path, or named text already in memory (tests, network bodies). */
export type SourceInput = string | { name: string; text: string };

/** Options every adapter understands; adapters add their own. */
export interface AdapterOptions {
  /** Maps other code systems and local codes to SNOMED CT, with unit conversions. Unmapped codes are kept. */
  maps?: NormalisationMap;
  /** ODS code of the sending organisation, written as each event's `source`. */
  source?: string;
  /** ODS code of the practice to register patients with when the source has no GP registration. */
  defaultPractice?: string;
  /** Assigns NHS test-range numbers to source patients that have none (synthetic or foreign data). */
  testNumbers?: TestNumberAssigner;
}

/** A record the adapter produced, with where in the source it came from. */
export interface AdapterRecord {
  ok: true;
  record: CaregapsRecord;
  at: SourceLocation;
  /** When the source last updated this record (ISO date-time); used to settle conflicting demographics. */
  updated?: string;
  /**
   * For patients: the source gives no registration date, so registration starts at the patient's first record
   * (the linker sets `registeredFrom` once all records are read).
   */
  registeredFromFirstRecord?: boolean;
}

/** A source item that did not become a record, with the reason and where it is. Counted, never dropped. */
export interface AdapterQuarantine {
  ok: false;
  code: ErrorCode;
  reason: string;
  at: SourceLocation;
  /** For items without a valid NHS number: the other identifier systems the source gave for the patient. */
  identifiers?: string[];
}

/** What an adapter yields for each item it reads. */
export type AdapterItem = AdapterRecord | AdapterQuarantine;

/** A source adapter: its `meta`, and `read`, which yields one or more items for every item of its input. */
export interface SourceAdapter<Options extends AdapterOptions = AdapterOptions> {
  readonly meta: AdapterMeta;
  read(inputs: readonly SourceInput[], options: Options): AsyncIterable<AdapterItem>;
  /**
   * Optional: the same items as `read`, in batches (e.g. one per chunk of input). Hosts that read many items use it
   * when present: one await per batch instead of one per item.
   */
  readBatches?(inputs: readonly SourceInput[], options: Options): AsyncIterable<readonly AdapterItem[]>;
}
