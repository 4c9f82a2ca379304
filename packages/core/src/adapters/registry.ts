import packageJson from '../../package.json' with { type: 'json' };
import { CaregapsError, type Problem } from '../errors.js';
import { checkRecord } from '../records/validate.js';
import semver from 'semver';
import type { AdapterItem, AdapterOptions, SourceAdapter, SourceInput } from './types.js';

/** The version of `@caregaps/core` that adapters declare support for in `meta.engine`. */
export const ENGINE_VERSION: string = packageJson.version;

const NAME = /^[a-z][a-z0-9-]{0,63}$/;

/**
 * Checks an adapter before it is used (Fastify-style): well-formed `meta`, an engine range that includes this
 * version of core, and a `read` function. Throws `CG_ADAPTER_META` or `CG_ADAPTER_ENGINE` saying what to fix.
 */
export function checkAdapter(adapter: unknown, engineVersion: string = ENGINE_VERSION): asserts adapter is SourceAdapter {
  const problems: Problem[] = [];
  const meta = (adapter as { meta?: unknown } | null)?.meta as Record<string, unknown> | undefined;
  const named = typeof meta?.['name'] === 'string' ? (meta['name'] as string) : '(unnamed)';
  const bad = (pointer: string, message: string) => problems.push({ code: 'CG_ADAPTER_META', message, pointer });
  if (typeof meta !== 'object' || meta === null) bad('/meta', 'meta is missing: declare { name, version, engine, reads }');
  else {
    if (typeof meta['name'] !== 'string' || !NAME.test(meta['name'])) bad('/meta/name', 'name must be lower-case letters, digits and "-", starting with a letter');
    if (typeof meta['version'] !== 'string' || semver.valid(meta['version']) !== meta['version']) bad('/meta/version', 'version must be a plain semver version such as 1.0.0');
    if (typeof meta['engine'] !== 'string' || meta['engine'].trim() === '' || semver.validRange(meta['engine']) === null) bad('/meta/engine', 'engine must be a semver range such as ^0.1.0');
    const reads = meta['reads'];
    if (!Array.isArray(reads) || reads.length === 0 || !reads.every((r) => typeof r === 'string' && r.length > 0)) {
      bad('/meta/reads', 'reads must be a non-empty list of the input kinds the adapter reads, e.g. ["fhir-r4-bundle"]');
    }
  }
  if (typeof (adapter as { read?: unknown } | null)?.read !== 'function') bad('/read', 'read(inputs, options) must be a function returning an AsyncIterable');
  if (problems.length) throw new CaregapsError('CG_ADAPTER_META', `Adapter ${named} cannot be registered`, problems);
  const engine = meta!['engine'] as string;
  if (!semver.satisfies(engineVersion, engine)) {
    throw new CaregapsError(
      'CG_ADAPTER_ENGINE',
      `Adapter ${named} supports @caregaps/core ${engine}, but this is ${engineVersion}`,
      [{ code: 'CG_ADAPTER_ENGINE', message: `engine range "${engine}" does not include ${engineVersion}`, pointer: '/meta/engine' }],
    );
  }
}

function checkBatch(batch: readonly AdapterItem[]): AdapterItem[] {
  const out: AdapterItem[] = new Array(batch.length);
  for (let i = 0; i < batch.length; i++) {
    const item = batch[i]!;
    const fault = item.ok ? checkRecord(item.record) : undefined;
    out[i] = fault ? { ok: false, code: fault.code, reason: fault.message, at: item.at } : item;
  }
  return out;
}

const BATCH = 512;

/**
 * Runs an adapter and checks everything it yields, in batches: each record must pass record format v1
 * (`checkRecord`), or it is quarantined with the fault; if the adapter throws, the items before the throw are kept and
 * the error becomes one final `CG_ADAPTER_FAILED` item, so a faulty adapter never crashes the host and never loses
 * items silently. Uses the adapter's `readBatches` when it has one.
 */
export async function* readCheckedBatches<O extends AdapterOptions>(
  adapter: SourceAdapter<O>,
  inputs: readonly SourceInput[],
  options: O,
): AsyncGenerator<AdapterItem[]> {
  let pending: AdapterItem[] = [];
  try {
    if (adapter.readBatches) {
      for await (const batch of adapter.readBatches(inputs, options)) if (batch.length) yield checkBatch(batch);
    } else {
      for await (const item of adapter.read(inputs, options)) {
        pending.push(item);
        if (pending.length >= BATCH) {
          const full = pending;
          pending = [];
          yield checkBatch(full);
        }
      }
      if (pending.length) yield checkBatch(pending);
    }
  } catch (error) {
    const failed: AdapterItem = {
      ok: false,
      code: 'CG_ADAPTER_FAILED',
      reason: `adapter ${adapter.meta.name} threw: ${error instanceof Error ? error.message : String(error)}`,
      at: {},
    };
    yield [...checkBatch(pending), failed];
  }
}

/** `readCheckedBatches`, one item at a time. */
export async function* readChecked<O extends AdapterOptions>(
  adapter: SourceAdapter<O>,
  inputs: readonly SourceInput[],
  options: O,
): AsyncGenerator<AdapterItem> {
  for await (const batch of readCheckedBatches(adapter, inputs, options)) yield* batch;
}

/** The items of a batched adapter one at a time: how an adapter with `readBatches` implements `read`. */
export async function* itemsOf(batches: AsyncIterable<readonly AdapterItem[]>): AsyncGenerator<AdapterItem> {
  for await (const batch of batches) yield* batch;
}

/** The adapters a host has registered, by name. */
export class AdapterRegistry {
  private readonly adapters = new Map<string, SourceAdapter<never>>();

  constructor(private readonly engineVersion: string = ENGINE_VERSION) {}

  /** Checks and adds an adapter. Throws `CG_ADAPTER_META`, `CG_ADAPTER_ENGINE` or `CG_ADAPTER_DUPLICATE`. */
  register<O extends AdapterOptions>(adapter: SourceAdapter<O>): this {
    checkAdapter(adapter, this.engineVersion);
    const { name } = adapter.meta;
    if (this.adapters.has(name)) {
      throw new CaregapsError('CG_ADAPTER_DUPLICATE', `An adapter named ${name} is already registered`);
    }
    this.adapters.set(name, adapter as unknown as SourceAdapter<never>);
    return this;
  }

  /** The registered adapter with this name. Throws `CG_ADAPTER_UNKNOWN` naming the registered ones. */
  get<O extends AdapterOptions = AdapterOptions>(name: string): SourceAdapter<O> {
    const adapter = this.adapters.get(name);
    if (!adapter) {
      throw new CaregapsError('CG_ADAPTER_UNKNOWN', `No adapter named ${name}; registered: ${[...this.adapters.keys()].join(', ') || 'none'}`);
    }
    return adapter as unknown as SourceAdapter<O>;
  }

  names(): string[] {
    return [...this.adapters.keys()];
  }

  /** Reads inputs with the named adapter, every item checked (see `readChecked`). */
  read<O extends AdapterOptions>(name: string, inputs: readonly SourceInput[], options: O): AsyncGenerator<AdapterItem> {
    return readChecked(this.get<O>(name), inputs, options);
  }

  /** `read` in batches (see `readCheckedBatches`). */
  readBatches<O extends AdapterOptions>(name: string, inputs: readonly SourceInput[], options: O): AsyncGenerator<AdapterItem[]> {
    return readCheckedBatches(this.get<O>(name), inputs, options);
  }
}
