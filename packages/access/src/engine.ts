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
import { EngineIndex, type EngineCounts } from './engine-index.js';
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
  ): {
    practice: string;
    /** Registered on the achievement date (the engine's own list-size test). */
    registered?: boolean;
    registries: { registry: string; onRegister: boolean; indicators: Record<string, IndicatorStatus>; explanation?: RegistryStatus['explanation'] }[];
  } | undefined;
  organisations(): { code: string; name: string | undefined; type: OrganisationRecord['type'] | undefined; parent: string | undefined }[];
  /**
   * Counts of one registry at an organisation (everything under it), or over everyone. With `changes$`, it lets the
   * access layer count from the engine's aggregates instead of visiting every patient.
   */
  counts?(registry: string, organisation?: string): EngineCounts | undefined;
  /** Changes of register membership and indicator status, as they happen. */
  readonly changes$?: { subscribe(next: (change: { nhsNumber: string; practice: string; registry: string }) => void): unknown };
  /**
   * Patient and organisation records as the engine accepts them (`Engine.writes$`), however they were written:
   * `withAccess` follows it, as registration, practice and opt-outs change only through patient records (which
   * `changes$` does not tell) and an organisation record can move a practice in the hierarchy.
   */
  readonly writes$?: { subscribe(next: (write: RecordWrite) => void): unknown };
  /** The stored record of one patient (an engine without it needs `records` passed to `withAccess`). */
  record?(nhsNumber: string): PatientState | undefined;
  /** Every stored patient record (an engine without it needs `records` passed to `withAccess`). */
  records?(): Iterable<PatientState>;
}

/** A record the engine accepted (`@caregaps/engine`'s `RecordWrite`). */
export type RecordWrite = { kind: 'patient'; nhsNumber: string } | { kind: 'organisation'; code: string };

/** Beyond this many patients written since the index was last read, it is rebuilt in one pass over the records. */
const REREAD_LIMIT = 1024;

/** A results source over an incremental engine: statuses from the engine, records from the record lookup. */
export class EngineResultsSource implements ResultsSource {
  private readonly byRegistry: readonly RegistryInfo[];
  private readonly indexes: EngineIndex | undefined;
  /** Patients whose records were written since the index was last read (`undefined`: too many, rebuild). */
  private written: Set<string> | undefined = new Set();
  /** Organisation records written since then. */
  private organisationsWritten = false;

  /**
   * With `indexed`, the source keeps a practice index and opt-out groups over the engine's aggregates (the engine
   * needs `counts` and `changes$`); it is told what is written through `noteWritten` (`withAccess` subscribes it to
   * the engine's `writes$`).
   */
  constructor(
    private readonly engine: EngineLike,
    private readonly records: RecordLookup,
    compiled: readonly CompiledRegistry[],
    private readonly codesets: CodesetIndex,
    options: { indexed?: boolean } = {},
  ) {
    this.byRegistry = compiled.map((r) => ({ id: r.id, title: r.registry.definition.title, indicators: r.indicatorIds }));
    const counts = engine.counts;
    if (options.indexed !== true || typeof counts !== 'function' || !engine.changes$) return;
    const indexed = {
      get asOf() {
        return engine.asOf;
      },
      counts: (registry: string, organisation?: string) => counts.call(engine, registry, organisation),
      patient: (nhs: string) => this.statusOf(nhs),
      changes$: engine.changes$,
    };
    this.indexes = new EngineIndex(indexed, this.byRegistry, (nhs) => this.patient(nhs));
    this.rebuildDirectory();
  }

  /** The population index, brought up to date with the records written since it was last read. */
  get index(): EngineIndex | undefined {
    const indexes = this.indexes;
    if (!indexes) return undefined;
    // Read here, not as each write is told: a large ingest costs one pass over the records, not one read per patient.
    if (this.written === undefined) this.rebuildDirectory();
    else if (this.written.size > 0 || this.organisationsWritten) indexes.note(this.written);
    this.written = new Set();
    this.organisationsWritten = false;
    return indexes;
  }

  /** One pass over the stored records: every patient's practice and opt-outs. */
  private rebuildDirectory(): void {
    this.indexes?.rebuild(this.patients());
  }

  /**
   * The engine accepted a record: a patient's registration and opt-outs are read again, and an organisation record
   * (which may move a practice in the hierarchy) makes the counts new, when the index is next read.
   */
  noteWritten(write: RecordWrite): void {
    if (write.kind === 'organisation') this.organisationsWritten = true;
    else if (this.written !== undefined) {
      this.written.add(write.nhsNumber);
      if (this.written.size > REREAD_LIMIT) this.written = undefined;
    }
  }

  private statusOf(nhsNumber: string): { practice: string; registered: boolean; registries: RegistryStatus[] } | undefined {
    const status = this.engine.patient(nhsNumber, { explain: false });
    if (!status) return undefined;
    // An engine that does not say whether the patient is registered: the same test on the stored record.
    const patient = status.registered === undefined ? this.patient(nhsNumber) : undefined;
    const registered = status.registered ?? (patient !== undefined && registeredOnDay(patient, achievementDay(this.asOf)));
    return { practice: status.practice, registered, registries: status.registries };
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
    return clusterNames(this.codesets, code);
  }

  termOf(code: string): string | undefined {
    return termOf(this.codesets, code);
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
  // The indexes need the engine's own records, and to see every write: patient records change registration and
  // opt-outs, which the engine's change stream does not report.
  const writes$ = records === undefined ? engine.writes$ : undefined;
  const source = new EngineResultsSource(engine, lookup, compiled, index, { indexed: writes$ !== undefined });
  writes$?.subscribe((write) => source.noteWritten(write));
  return createAccess({ ...access, source });
}
