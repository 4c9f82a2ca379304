import { fileURLToPath } from 'node:url';
import { loadRegistries, readRecords, type CodesetSourceContent, type CompiledRegistry } from '@caregaps/core';
import { Engine } from '@caregaps/engine';
import { withAccess, type AccessLayer, type AuditSink } from '@caregaps/access';
import type { Authenticator } from './authenticator.js';
import { developmentAuthenticator } from './development.js';
import type { ServerOptions } from './server.js';

/** The demo principals shipped with the package (a GP, a nurse, an ICB analyst, a practice record feed). */
export const DEMO_PRINCIPALS = fileURLToPath(new URL('../data/demo-principals.json', import.meta.url));

/** What `openHost` loads. */
export interface HostOptions {
  /** Record files (NDJSON, record format v1). */
  records: readonly string[];
  /** Organisation records (NDJSON), loaded first. */
  organisations?: string;
  asOf: string;
  registries: string;
  codesets: string;
  codesetSources?: readonly string[];
  /** Only these registries. */
  only?: readonly string[];
  /** Keep the engine's state here (durable). */
  store?: string;
  audit: AuditSink;
  /** The authenticator (default: the development one over `principals`). */
  authenticator?: Authenticator;
  /** Principals file for the development authenticator (default: the demo principals). */
  principals?: string;
}

/** A loaded host: everything `createServer` needs, plus what loading found. */
export interface Host extends Pick<ServerOptions, 'engine' | 'access' | 'registries' | 'authenticator'> {
  engine: Engine;
  access: AccessLayer;
  registries: readonly CompiledRegistry[];
  sources: readonly CodesetSourceContent[];
  accepted: number;
  quarantined: number;
}

/** Loads registries, builds the engine over the record files and the access layer over the engine. */
export async function openHost(options: HostOptions): Promise<Host> {
  const loaded = loadRegistries(options.registries, options.codesets, {
    ...(options.only ? { only: [...options.only] } : {}),
    codesetSources: [...(options.codesetSources ?? [])],
  });
  const engine = new Engine({ ...loaded, asOf: options.asOf, ...(options.store ? { store: { directory: options.store } } : {}) });
  let accepted = 0;
  try {
    if (options.organisations) accepted += (await engine.ingest(readRecords(options.organisations))).accepted;
    for (const file of options.records) accepted += (await engine.ingest(readRecords(file), { bulk: true })).accepted;
  } catch (error) {
    engine.close();
    throw error;
  }
  const access = withAccess(engine, { compiled: loaded.compiled, index: loaded.index, audit: options.audit });
  const authenticator = options.authenticator ?? developmentAuthenticator({ principals: options.principals ?? DEMO_PRINCIPALS });
  return { engine, access, registries: loaded.compiled, authenticator, sources: loaded.sources, accepted, quarantined: engine.quarantine.size };
}
