import {
  CaregapsError,
  achievementDay,
  type CodesetIndex,
  type CompiledRegistry,
  type EventRecord,
  type IndicatorStatus,
  type OrganisationRecord,
  type PatientState,
} from '@caregaps/core';
import { createAccess, type AccessLayer, type AccessOptions } from './access.js';
import { OrganisationHierarchy } from './organisations.js';
import {
  accessPatientOf,
  addToCounts,
  type CountQuery,
  type OrganisationCounts,
  type RegistryInfo,
  type RegistryStatus,
  type ResultsSource,
} from './source.js';
import type { AccessPatient } from './types.js';
import { clusterNames, eventsByDate, termOf } from './codes.js';

/** The stored records of each patient (demographics, opt-outs and live events); a core `PatientStore` is one. */
export interface RecordLookup {
  get(nhsNumber: string): PatientState | undefined;
  values(): Iterable<PatientState>;
}

/**
 * What the access layer reads from an incremental engine (`@caregaps/engine`'s `Engine`). Typed structurally so
 * this package does not depend on the engine.
 */
export interface EngineLike {
  readonly asOf: string;
  patient(
    nhsNumber: string,
    options?: { explain?: boolean },
  ): { practice: string; registries: { registry: string; onRegister: boolean; indicators: Record<string, IndicatorStatus>; explanation?: RegistryStatus['explanation'] }[] } | undefined;
  organisations(): { code: string; name: string | undefined; type: OrganisationRecord['type'] | undefined; parent: string | undefined }[];
  /** The stored record of one patient (an engine without it needs `records` passed to `withAccess`). */
  record?(nhsNumber: string): PatientState | undefined;
  /** Every stored patient record (an engine without it needs `records` passed to `withAccess`). */
  records?(): Iterable<PatientState>;
}

/** A results source over an incremental engine: statuses from the engine, records from the record lookup. */
export class EngineResultsSource implements ResultsSource {
  private readonly byRegistry: readonly RegistryInfo[];

  constructor(
    private readonly engine: EngineLike,
    private readonly records: RecordLookup,
    compiled: readonly CompiledRegistry[],
    private readonly index: CodesetIndex,
  ) {
    this.byRegistry = compiled.map((r) => ({ id: r.id, title: r.registry.definition.title, indicators: r.indicatorIds }));
  }

  /** The engine's achievement date now (it moves with `advanceTo`). */
  get asOf(): string {
    return this.engine.asOf;
  }

  /** The engine's organisation hierarchy now (nodes whose own record has not arrived are left out). */
  get organisations(): OrganisationHierarchy {
    const records: OrganisationRecord[] = [];
    for (const n of this.engine.organisations()) {
      if (n.type === undefined) continue;
      records.push({ kind: 'organisation', code: n.code, name: n.name ?? n.code, type: n.type, parent: n.parent ?? null });
    }
    return new OrganisationHierarchy(records);
  }

  registries(): readonly RegistryInfo[] {
    return this.byRegistry;
  }

  *patients(): Iterable<AccessPatient> {
    for (const state of this.records.values()) if (state.patient) yield accessPatientOf(state.patient);
  }

  patient(nhsNumber: string): AccessPatient | undefined {
    const record = this.records.get(nhsNumber)?.patient;
    return record ? accessPatientOf(record) : undefined;
  }

  statuses(nhsNumber: string, options: { explain?: boolean } = {}): RegistryStatus[] {
    const status = this.engine.patient(nhsNumber, { explain: options.explain === true });
    return (status?.registries ?? []).map((r) => {
      const out: RegistryStatus = { registry: r.registry, onRegister: r.onRegister, indicators: r.indicators };
      if (r.explanation) out.explanation = r.explanation;
      return out;
    });
  }

  events(nhsNumber: string): readonly EventRecord[] {
    return eventsByDate(this.records.get(nhsNumber)?.events.values() ?? []);
  }

  clustersOf(code: string): readonly string[] {
    return clusterNames(this.index, code);
  }

  termOf(code: string): string | undefined {
    return termOf(this.index, code);
  }

  /**
   * Counts by organisation over the patients `include` accepts. The engine's own aggregates count everyone, so
   * exclusions (opt-outs) need a pass over the patients; statuses come from the engine, not re-evaluated.
   */
  counts(query: CountQuery): OrganisationCounts[] {
    const registries = this.byRegistry.filter((r) => query.registry === undefined || r.id === query.registry);
    const organisations = this.organisations;
    const day = achievementDay(this.asOf);
    const table = new Map<string, OrganisationCounts>();
    for (const state of this.records.values()) {
      if (!state.patient) continue;
      const patient = accessPatientOf(state.patient);
      if (!registeredOnDay(patient, day) || !query.include(patient)) continue;
      addToCounts(table, organisations.ancestor(patient.practice, query.level), registries, this.statuses(patient.nhsNumber));
    }
    return [...table.values()];
  }
}

function registeredOnDay(patient: AccessPatient, day: number): boolean {
  const from = achievementDay(patient.registeredFrom);
  const ends = [patient.registeredTo, patient.deathDate].filter((d): d is string => typeof d === 'string').map((d) => achievementDay(d));
  return from <= day && ends.every((end) => end > day);
}

/** Options for `withAccess`: the access options less the source, plus what the engine was built with. */
export type WithAccessOptions = Omit<AccessOptions, 'source'> & {
  /** The compiled registries the engine was created with. */
  compiled: readonly CompiledRegistry[];
  /** The codeset index the engine was created with. */
  index: CodesetIndex;
  /** The patients' stored records, for an engine without `record`/`records` (e.g. a PatientStore fed the same records). */
  records?: RecordLookup;
};

/**
 * The access layer over an incremental engine: `withAccess(engine, options).as(principal, purpose)`. Statuses and
 * explanations come from the engine; demographics, opt-outs and events (with their source organisation) come from
 * `engine.record`/`engine.records` when the engine has them, otherwise from `options.records`.
 */
export function withAccess(engine: EngineLike, options: WithAccessOptions): AccessLayer {
  const { compiled, index, records, ...access } = options;
  let lookup = records;
  if (!lookup && typeof engine.record === 'function' && typeof engine.records === 'function') {
    lookup = { get: (nhs) => engine.record!(nhs), values: () => engine.records!() };
  }
  if (!lookup) {
    throw new CaregapsError(
      'CG_USAGE',
      'withAccess needs the patients\' stored records (registration, opt-outs, events with their source): the engine has no record()/records(); pass options.records (e.g. a PatientStore fed the same records)',
    );
  }
  return createAccess({ ...access, source: new EngineResultsSource(engine, lookup, compiled, index) });
}
