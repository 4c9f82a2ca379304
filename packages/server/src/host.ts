import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadRegistries, readRecords, type CodesetSourceContent, type CompiledRegistry } from '@caregaps/core';
import { Engine } from '@caregaps/engine';
import { AgreementRegistry, BatchResultsSource, OptOutRegister, withAccess, type AccessLayer, type AuditSink } from '@caregaps/access';
import type { Authenticator } from './authenticator.js';
import { developmentAuthenticator } from './development.js';
import { loadAgreements, loadCareTeams, loadOptOuts, saveOptOuts } from './host-files.js';
import type { ServerOptions } from './server.js';
import { gapHistory, type GapHistory } from './since.js';
import { quarterEnds, type TrendSources } from './scorecard.js';

const data = (name: string) => fileURLToPath(new URL(`../data/${name}`, import.meta.url));

/** The demo principals shipped with the package (GPs, a PCN lead, an ICB analyst, data controllers, record feeds). */
export const DEMO_PRINCIPALS = data('demo-principals.json');

/** The demo's care teams (a PCN diabetes outreach team) and its signed sharing agreement (the practice and its PCN). */
export const DEMO_CARE_TEAMS = data('demo-care-teams.json');
export const DEMO_AGREEMENTS = data('demo-agreements.json');

/**
 * The sample population `--demo` serves (records, organisations, achievement date): shipped in the package's data
 * folder (copied there when the package is packed), or, in the git checkout, `examples/sample-population`.
 */
export const DEMO_SAMPLE = {
  folder: [data('sample-population'), fileURLToPath(new URL('../../../examples/sample-population', import.meta.url))].find((dir) => existsSync(dir)) ?? data('sample-population'),
  asOf: '2025-03-31',
};

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
  /** Care teams file (`{ "careTeams": [{ id, organisation, patients }] }`): who is under which team's care. */
  careTeams?: string;
  /** Sharing agreements file (the versions `access.agreements.toJSON()` saves) to start from. */
  agreements?: string;
  /** The opt-out register's file: read at start when it exists, written whole after every change. */
  optOuts?: string;
  /** Earlier achievement dates for trends (default: the last days of the four calendar quarters before `asOf`). */
  trendDates?: readonly string[];
}

/** A loaded host: everything `createServer` needs, plus what loading found. */
export interface Host extends Pick<ServerOptions, 'engine' | 'access' | 'registries' | 'authenticator' | 'gapHistory' | 'trends' | 'onOptOutsChanged'> {
  engine: Engine;
  access: AccessLayer;
  registries: readonly CompiledRegistry[];
  sources: readonly CodesetSourceContent[];
  gapHistory: GapHistory;
  trends: TrendSources;
  /** Saves the opt-out register to its file (given `optOuts`). */
  onOptOutsChanged?: () => void;
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
  let access: AccessLayer;
  let authenticator: Authenticator;
  try {
    access = withAccess(engine, {
      compiled: loaded.compiled,
      index: loaded.index,
      audit: options.audit,
      ...(options.careTeams ? { careTeams: loadCareTeams(options.careTeams) } : {}),
      ...(options.agreements ? { agreements: new AgreementRegistry(loadAgreements(options.agreements)) } : {}),
      ...(options.optOuts ? { optOutRegister: new OptOutRegister(loadOptOuts(options.optOuts)) } : {}),
    });
    authenticator = options.authenticator ?? developmentAuthenticator({ principals: options.principals ?? DEMO_PRINCIPALS });
  } catch (error) {
    engine.close();
    throw error;
  }
  const history = gapHistory(engine, loaded.compiled, loaded.index);
  // Trends: the engine's stored records evaluated on each earlier date by the batch evaluator.
  const records = { get: (nhsNumber: string) => engine.record(nhsNumber), values: () => engine.records() };
  const trends: TrendSources = {
    dates: options.trendDates ?? quarterEnds(engine.asOf),
    sourceAt: (asOf, registry) => new BatchResultsSource(records, loaded.compiled.filter((r) => r.id === registry), loaded.index, access.source.organisations, asOf),
  };
  const file = options.optOuts;
  return {
    engine, access, registries: loaded.compiled, authenticator, sources: loaded.sources, gapHistory: history, trends,
    ...(file ? { onOptOutsChanged: () => saveOptOuts(file, access.optOuts) } : {}),
    accepted, quarantined: engine.quarantine.size,
  };
}
