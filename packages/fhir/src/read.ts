import { stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { setImmediate as released } from 'node:timers/promises';
import { JSONParser } from '@streamparser/json';
import {
  inputChunks,
  inputName,
  inputText,
  itemsOf,
  jsonObjectBatches,
  type AdapterItem,
  type AdapterOptions,
  type SourceAdapter,
  type SourceInput,
  type SourceLocation,
} from '@caregaps/core';
import { ReferenceIndex } from './context.js';
import { arr, obj, str, type Json } from './json.js';
import { mapResource, type MapSettings } from './resources.js';

/** Options of the FHIR adapter. */
export interface FhirAdapterOptions extends AdapterOptions {
  /** Deepest Bundle nesting followed (a Bundle inside a Bundle entry); deeper ones are quarantined. Default 4. */
  maxBundleDepth?: number;
  /** Longest NDJSON line accepted, in bytes (default 16 MiB). */
  maxLineBytes?: number;
  /**
   * Largest JSON document (a Bundle or a single resource) read, in bytes (default 512 MiB); a larger one is
   * quarantined unread (CG_SOURCE_TOO_LARGE). Documents over `streamFromBytes` are streamed, not parsed whole.
   */
  maxBundleBytes?: number;
  /**
   * Size from which a Bundle is read as a stream, entry by entry, in two passes (reference targets, then the rest),
   * holding one entry at a time (default 8 MiB). Smaller documents are parsed whole, which is several times faster.
   * A single resource (not a Bundle) this large is quarantined (CG_SOURCE_TOO_LARGE).
   */
  streamFromBytes?: number;
}

/** Default of `maxBundleBytes`. */
export const MAX_BUNDLE_BYTES = 512 << 20;
/** Default of `streamFromBytes`. */
export const STREAM_FROM_BYTES = 8 << 20;

/** Items mapped between two releases of the event loop while a Bundle is read. */
const BATCH = 500;

/** Reference targets first (Organization, Medication, then Patient), so later resources can resolve them. */
const TYPE_ORDER = ['Organization', 'Medication', 'Patient'];

function rank(name: string): number {
  const base = basename(name);
  const i = TYPE_ORDER.findIndex((t) => base.startsWith(`${t}.`) || base.startsWith(`${t}-`) || base === `${t}.ndjson`);
  return i === -1 ? TYPE_ORDER.length : i;
}

interface Located {
  resource: Json;
  fullUrl?: string;
  at: SourceLocation;
}

/**
 * Reads FHIR R4: Bundles (transaction, batch, collection, searchset, and any other type holding resources), single
 * resources, Bulk Data `$export` NDJSON files and the export manifest. One item comes out for every resource (and
 * for every line, entry or file that is not one), in input order after reference targets; a batch per file or chunk.
 */
export async function* readFhirBatches(inputs: readonly SourceInput[], options: FhirAdapterOptions = {}): AsyncGenerator<AdapterItem[]> {
  const settings: MapSettings = {
    maps: options.maps,
    sourceKey: options.source ?? 'fhir',
    source: options.source,
    defaultPractice: options.defaultPractice,
  };
  const index = new ReferenceIndex(settings.sourceKey, options.testNumbers);
  const maxBytes = options.maxBundleBytes ?? MAX_BUNDLE_BYTES;
  const expanded: SourceInput[] = [];
  for (const input of inputs) {
    const name = inputName(input);
    if (!name.endsWith('.ndjson') && typeof input === 'string') {
      // Only a small file can be a manifest; documents are read again, one at a time, when their turn comes.
      const size = await sizeOf(input);
      if (size === undefined || size > MANIFEST_BYTES) {
        expanded.push(input);
        continue;
      }
      const text = await readOrFail(input);
      if (typeof text !== 'string') {
        yield [text];
        continue;
      }
      const manifest = manifestOutputs(text, input);
      expanded.push(...(manifest ?? [input]));
    } else expanded.push(input);
  }
  const ordered = expanded.map((input, i) => ({ input, i })).sort((a, b) => rank(inputName(a.input)) - rank(inputName(b.input)) || a.i - b.i);
  let inExport = false;
  for (const { input } of ordered) {
    const name = inputName(input);
    if (name.endsWith('.ndjson')) {
      // The NDJSON files of an export are one scope of ids; each Bundle document is its own.
      if (!inExport) index.newScope();
      inExport = true;
      yield* readNdjson(input, options, index, settings);
    } else {
      index.newScope();
      inExport = false;
      const size = typeof input === 'string' ? await sizeOf(input) : Buffer.byteLength(input.text);
      if (size !== undefined && size > maxBytes) {
        yield [tooLarge(name, size, maxBytes)];
        continue;
      }
      if (size !== undefined && size > (options.streamFromBytes ?? STREAM_FROM_BYTES)) {
        yield* streamBundle(input, name, options, index, settings);
        continue;
      }
      const text = await readOrFail(input);
      if (typeof text !== 'string') {
        yield [text];
        continue;
      }
      // Mapped a batch at a time, the event loop released between batches, so a large Bundle does not stall the process.
      let batch: AdapterItem[] = [];
      for (const item of readJsonDocument(text, name, options, index, settings)) {
        batch.push(item);
        if (batch.length === BATCH) {
          yield batch;
          batch = [];
          await released();
        }
      }
      yield batch;
    }
  }
}

/** `readFhirBatches`, one item at a time. */
export function readFhir(inputs: readonly SourceInput[], options: FhirAdapterOptions = {}): AsyncGenerator<AdapterItem> {
  return itemsOf(readFhirBatches(inputs, options));
}

/** Largest file read to see whether it is a Bulk Data manifest. */
const MANIFEST_BYTES = 1 << 20;

/** Size of a file in bytes, or undefined when it cannot be read (the read then reports why). */
async function sizeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch {
    return undefined;
  }
}

function tooLarge(file: string, size: number, max: number): AdapterItem {
  return {
    ok: false,
    code: 'CG_SOURCE_TOO_LARGE',
    reason: `the document is ${size} bytes, over maxBundleBytes (${max}); split it into smaller Bundles, send Bulk Data NDJSON, or raise maxBundleBytes`,
    at: { file },
  };
}

async function readOrFail(input: SourceInput): Promise<string | AdapterItem> {
  try {
    return await inputText(input);
  } catch (error) {
    return { ok: false, code: 'CG_INPUT', reason: (error as Error).message, at: { file: inputName(input) } };
  }
}

/** The NDJSON files a Bulk Data manifest lists (`output[].url`, read from the manifest's folder), or undefined. */
function manifestOutputs(text: string, path: string): string[] | undefined {
  let doc: Json | undefined;
  try {
    doc = obj(JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text));
  } catch {
    return undefined;
  }
  if (!doc || doc['resourceType'] !== undefined || !Array.isArray(doc['output']) || doc['transactionTime'] === undefined) return undefined;
  return doc['output']
    .map((o) => str(obj(o)?.['url']))
    .filter((u): u is string => u !== undefined)
    .map((u) => resolve(dirname(path), basename(new URL(u, 'file:///').pathname)));
}

async function* readNdjson(input: SourceInput, options: FhirAdapterOptions, index: ReferenceIndex, settings: MapSettings): AsyncGenerator<AdapterItem[]> {
  const file = inputName(input);
  try {
    for await (const lines of jsonObjectBatches(input, options.maxLineBytes ?? 16 << 20, 'maxLineBytes')) {
      const batch: AdapterItem[] = [];
      for (const item of lines) {
        if (!item.ok) {
          batch.push(item);
          continue;
        }
        const { object: resource, line } = item;
        if (resource['resourceType'] !== 'Bundle') {
          // The common case (one resource per line) without a generator per line.
          const located: Located = { resource, at: { file, line } };
          batch.push(safeMap(resource, located, index, settings, safeIndex(resource, undefined, index)));
        } else for (const mapped of mapOne({ resource, at: { file, line } }, index, settings, options, 0)) batch.push(mapped);
      }
      yield batch;
    }
  } catch (error) {
    yield [{ ok: false, code: 'CG_INPUT', reason: (error as Error).message, at: { file } }];
  }
}

function* readJsonDocument(text: string, file: string, options: FhirAdapterOptions, index: ReferenceIndex, settings: MapSettings): Generator<AdapterItem> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    yield { ok: false, code: 'CG_SOURCE_PARSE', reason: `not JSON: ${(error as Error).message}`, at: { file } };
    return;
  }
  const resource = obj(value);
  if (!resource) {
    yield { ok: false, code: 'CG_SOURCE_FIELD', reason: 'the file is not a JSON object', at: { file } };
    return;
  }
  yield* mapOne({ resource, at: { file } }, index, settings, options, 0);
}

/** A top-level Bundle's `resourceType` and entries, as a streaming parse meets them: a batch per chunk of input. */
async function* bundleEntries(input: SourceInput): AsyncGenerator<{ resourceType: unknown; entries: [number, unknown][] }> {
  const parser = new JSONParser({ paths: ['$.resourceType', '$.entry.*'], keepStack: false });
  let resourceType: unknown;
  let entries: [number, unknown][] = [];
  parser.onValue = ({ value, key }) => {
    if (key === 'resourceType') resourceType = value;
    else if (typeof key === 'number') entries.push([key, value]);
  };
  let first = true;
  for await (const chunk of inputChunks(input)) {
    let piece = chunk;
    // A leading byte-order mark is not JSON (text inputs come without it).
    if (first && typeof piece !== 'string' && piece[0] === 0xef && piece[1] === 0xbb && piece[2] === 0xbf) piece = piece.subarray(3);
    first = false;
    if (parser.isEnded) throw new Error('text follows the end of the JSON document');
    parser.write(piece);
    yield { resourceType, entries };
    entries = [];
    await released();
  }
  if (!parser.isEnded) parser.end();
  yield { resourceType, entries };
}

/**
 * A large Bundle read as a stream in two passes, one entry in memory at a time: the first indexes the reference
 * targets (Organizations and Medications as met, then Patients), the second maps every entry in order. A document
 * that is not valid JSON is one quarantine for the file, as when it is parsed whole.
 */
async function* streamBundle(input: SourceInput, file: string, options: FhirAdapterOptions, index: ReferenceIndex, settings: MapSettings): AsyncGenerator<AdapterItem[]> {
  const patients: [number, Located][] = [];
  let resourceType: unknown;
  let count = 0;
  try {
    for await (const batch of bundleEntries(input)) {
      resourceType = batch.resourceType;
      for (const [i, e] of batch.entries) {
        count++;
        const read = entryOf(e, { file, pointer: `/entry/${i}` });
        if (!('resource' in read)) continue;
        const rank = targetRank(read.resource);
        if (rank === 2) patients.push([i, read]);
        else if (rank >= 0) safeIndex(read.resource, read.fullUrl, index);
      }
    }
  } catch (error) {
    yield [{ ok: false, code: 'CG_SOURCE_PARSE', reason: `not JSON: ${(error as Error).message}`, at: { file } }];
    return;
  }
  if (resourceType !== 'Bundle') {
    yield [{ ok: false, code: 'CG_SOURCE_TOO_LARGE', reason: `a single resource (not a Bundle) over streamFromBytes (${options.streamFromBytes ?? STREAM_FROM_BYTES}) is not read; send it in a Bundle`, at: { file } }];
    return;
  }
  if (count === 0) {
    yield [{ ok: false, code: 'CG_SOURCE_FIELD', reason: 'the Bundle has no entries', at: { file } }];
    return;
  }
  const identities = new Map(patients.map(([i, located]) => [i, safeIndex(located.resource, located.fullUrl, index)]));
  for await (const batch of bundleEntries(input)) {
    const items: AdapterItem[] = [];
    for (const [i, e] of batch.entries) {
      const read = entryOf(e, { file, pointer: `/entry/${i}` });
      if (!('resource' in read)) items.push(read);
      else if (read.resource['resourceType'] === 'Bundle') items.push(...mapOne(read, index, settings, options, 1));
      else items.push(safeMap(read.resource, read, index, settings, identities.get(i)));
    }
    if (items.length > 0) yield items;
  }
}

/** A Bundle entry's resource, where it is, or the fault of an entry without one. */
function entryOf(e: unknown, at: SourceLocation): Located | AdapterItem {
  const entry = obj(e);
  const inner = obj(entry?.['resource']);
  const method = str(obj(entry?.['request'])?.['method']);
  if (!inner) {
    const why = method === 'DELETE' ? 'DELETE requests are not applied; send the resource with status entered-in-error' : 'the entry has no resource';
    return { ok: false, code: method === 'DELETE' ? 'CG_SOURCE_UNSUPPORTED' : 'CG_SOURCE_FIELD', reason: why, at };
  }
  const located: Located = { resource: inner, at: { ...at, pointer: `${at.pointer}/resource` } };
  const fullUrl = str(entry?.['fullUrl']);
  if (fullUrl !== undefined) located.fullUrl = fullUrl;
  return located;
}

/** The order reference targets are indexed in (Organization, Medication, Patient); -1 for other resources. */
function targetRank(resource: Json): number {
  const t = resource['resourceType'];
  return t === 'Organization' ? 0 : t === 'Medication' ? 1 : t === 'Patient' ? 2 : -1;
}

/** Maps one resource, expanding Bundles: their reference targets are indexed before any entry is mapped. */
function* mapOne(item: Located, index: ReferenceIndex, settings: MapSettings, options: FhirAdapterOptions, depth: number): Generator<AdapterItem> {
  const { resource } = item;
  if (resource['resourceType'] !== 'Bundle') {
    const identity = safeIndex(resource, item.fullUrl, index);
    yield safeMap(resource, item, index, settings, identity);
    return;
  }
  const pointer = item.at.pointer ?? '';
  if (depth >= (options.maxBundleDepth ?? 4)) {
    yield { ok: false, code: 'CG_SOURCE_FIELD', reason: 'Bundle nested deeper than maxBundleDepth', at: item.at };
    return;
  }
  if (arr(resource['entry']).length === 0) {
    // An empty Bundle yields no records; say so, so that no input passes without a trace.
    yield { ok: false, code: 'CG_SOURCE_FIELD', reason: 'the Bundle has no entries', at: item.at };
    return;
  }
  const entries: Located[] = [];
  const faults: AdapterItem[] = [];
  arr(resource['entry']).forEach((e, i) => {
    const read = entryOf(e, { ...item.at, pointer: `${pointer}/entry/${i}` });
    if ('resource' in read) entries[i] = read;
    else faults[i] = read;
  });
  const identities = new Map<Located, ReturnType<typeof safeIndex>>();
  for (const rank of [0, 1, 2]) {
    for (const located of entries) {
      if (located && targetRank(located.resource) === rank) identities.set(located, safeIndex(located.resource, located.fullUrl, index));
    }
  }
  const count = Math.max(entries.length, faults.length);
  for (let i = 0; i < count; i++) {
    const fault = faults[i];
    if (fault) {
      yield fault;
      continue;
    }
    const located = entries[i];
    if (!located) continue;
    if (located.resource['resourceType'] === 'Bundle') yield* mapOne(located, index, settings, options, depth + 1);
    else if (identities.has(located)) yield safeMap(located.resource, located, index, settings, identities.get(located));
    else yield safeMap(located.resource, located, index, settings, undefined);
  }
}

function safeIndex(resource: Json, fullUrl: string | undefined, index: ReferenceIndex) {
  try {
    return index.index(resource, fullUrl);
  } catch {
    return undefined;
  }
}

/** A resource whose mapping throws (a shape no check foresaw) is quarantined, never allowed to stop the stream. */
function safeMap(resource: Json, item: Located, index: ReferenceIndex, settings: MapSettings, identity: ReturnType<typeof safeIndex>): AdapterItem {
  const at: SourceLocation = { ...item.at };
  const type = str(resource['resourceType']);
  const id = str(resource['id']);
  if (type !== undefined && id !== undefined) at.recordId = `${type}/${id.slice(0, 64)}`;
  else if (type !== undefined && item.fullUrl !== undefined) at.recordId = item.fullUrl.slice(0, 180);
  try {
    if (type === 'Patient' && identity === undefined) {
      return { ok: false, code: 'CG_SOURCE_FIELD', reason: 'the Patient could not be indexed', at };
    }
    return mapResource(resource, at, index, settings, identity);
  } catch (error) {
    return { ok: false, code: 'CG_SOURCE_FIELD', reason: `unexpected shape: ${(error as Error).message}`, at };
  }
}

/** The FHIR R4 source adapter. Register it with `AdapterRegistry`, or call `readFhir` directly. */
export const fhirAdapter: SourceAdapter<FhirAdapterOptions> = {
  meta: {
    name: 'fhir-r4',
    version: '0.1.0',
    engine: '^0.1.0',
    reads: ['fhir-r4-bundle', 'fhir-r4-resource', 'fhir-bulk-ndjson', 'fhir-bulk-manifest'],
    description: 'FHIR R4 Bundles, single resources and Bulk Data $export output to record format v1.',
  },
  read: readFhir,
  readBatches: readFhirBatches,
};

