import {
  PatientStore,
  achievementDay,
  explainOutcome,
  formatDay,
  preparePatient,
  type CodesetIndex,
  type CompiledRegistry,
  type EventRecord,
  type Explanation,
  type IndicatorStatus,
  type OptOut,
  type PreparedPatient,
} from '@caregaps/core';
import type { OrganisationHierarchy, OrganisationLevel } from './organisations.js';
import type { AccessPatient } from './types.js';
import { clusterNames, eventsByDate, termOf } from './codes.js';

/** One registry's result for one patient: on the register or not, each indicator's status and (asked for) why. */
export interface RegistryStatus {
  registry: string;
  onRegister: boolean;
  indicators: Record<string, IndicatorStatus>;
  explanation?: Explanation;
}

/** A registry as the access layer lists it. */
export interface RegistryInfo {
  id: string;
  title: string;
  indicators: readonly string[];
}

/** Counts for one organisation and one registry: registered list, register size, and statuses per indicator. */
export interface OrganisationCounts {
  organisation: string;
  registry: string;
  /** Patients registered on the achievement date (the list size behind prevalence). */
  registered: number;
  onRegister: number;
  indicators: Record<string, Record<IndicatorStatus, number>>;
}

/** Which patients to count. The access layer passes the exclusions its policies decided (e.g. opt-outs). */
export interface CountQuery {
  level: OrganisationLevel;
  registry?: string;
  include: (patient: AccessPatient) => boolean;
}

/**
 * What the access layer needs from whatever holds the results (the batch evaluator here, the incremental engine
 * through an adapter). Every method is read-only; identifiable data leaves it only through the access layer.
 */
export interface ResultsSource {
  /** The achievement date the results are for (YYYY-MM-DD). */
  readonly asOf: string;
  readonly organisations: OrganisationHierarchy;
  registries(): readonly RegistryInfo[];
  /** Every patient whose patient record has arrived. */
  patients(): Iterable<AccessPatient>;
  patient(nhsNumber: string): AccessPatient | undefined;
  /** The patient's status in every registry on the achievement date; `explain` adds the deciding rules. */
  statuses(nhsNumber: string, options?: { explain?: boolean }): RegistryStatus[];
  /** The patient's live events (retracted ones removed), each with the organisation that sent it in `source`. */
  events(nhsNumber: string): readonly EventRecord[];
  /** The clusters a code belongs to, for categorising events and naming them. */
  clustersOf(code: string): readonly string[];
  /** The term of a code, from the codesets, when known. */
  termOf(code: string): string | undefined;
  /** Counts by organisation at one level, over the patients `include` accepts. */
  counts(query: CountQuery): OrganisationCounts[];
  /** Indexes that spare the access layer a visit to every patient (absent: it visits every patient). */
  readonly index?: PopulationIndex;
}

/**
 * What a source keeps so that anonymised counts and one practice's lists cost what the practice or the opt-outs
 * cost, not the population: a practice index, opt-out groups, and counts maintained by organisation.
 */
export interface PopulationIndex {
  /** Grows with every change the index is told of (writes, the engine's changes): equal revisions, equal counts. */
  readonly revision: number;
  /**
   * Re-reads these patients' registration and opt-outs. A host that applies patient records after building the
   * access layer names their patients here (the engine's change stream tells only of status changes).
   */
  note(nhsNumbers: Iterable<string>): void;
  /**
   * Opt-outs held apart from the patient records (an opt-out register), added to each patient's own from now on;
   * `holders` are the patients holding any now. Changes later are told through `note`.
   */
  addOptOuts(held: (nhsNumber: string) => readonly OptOut[], holders: Iterable<string>): void;
  /** The NHS numbers whose latest patient record names this practice. */
  atPractice(practice: string): Iterable<string>;
  /** One patient's status in one registry (kept by the index until the engine reports a change), if known. */
  status(nhsNumber: string, registry: string): RegistryStatus | undefined;
  /** One registry's status counts over every registered patient: indicator → status → count. */
  totals(registry: string): Record<string, Record<IndicatorStatus, number>>;
  /**
   * The patients grouped by the exact set of opt-outs they hold (`key` '' for none): each group's size and one
   * member, for a policy that decides every member alike to decide the group.
   */
  optOutGroups(): { key: string; size: number; member: AccessPatient }[];
  /**
   * Practice-level counts (as `counts({ level: 'practice' })`) over every patient outside the `refused` groups; the
   * practices of those patients (registered or not); and how many patients the refused groups hold.
   */
  countsWithout(refused: ReadonlySet<string>, registry?: string): { counts: OrganisationCounts[]; practices: Set<string>; excluded: number };
}

const STATUSES: readonly IndicatorStatus[] = ['met', 'gap', 'excepted', 'not-applicable'];

/** The patient fields the access layer reads, from a patient record. */
export function accessPatientOf(record: {
  nhsNumber: string;
  practice: string;
  registeredFrom: string;
  registeredTo?: string | null;
  deathDate?: string | null;
  optOuts?: readonly string[];
}): AccessPatient {
  return {
    nhsNumber: record.nhsNumber,
    practice: record.practice,
    registeredFrom: record.registeredFrom,
    registeredTo: record.registeredTo ?? null,
    deathDate: record.deathDate ?? null,
    optOuts: (record.optOuts ?? []) as AccessPatient['optOuts'],
  };
}

/** Whether a prepared patient is registered on a day number (the rule every register applies first). */
export function registeredOn(patient: Pick<PreparedPatient, 'registeredFrom' | 'registrationEnd'>, day: number): boolean {
  return patient.registeredFrom <= day && patient.registrationEnd > day;
}

/** Adds one patient's statuses to the per-organisation counts (shared by every source implementation). */
export function addToCounts(
  table: Map<string, OrganisationCounts>,
  organisation: string,
  registries: readonly RegistryInfo[],
  statuses: readonly RegistryStatus[] | undefined,
): void {
  for (const registry of registries) {
    const key = `${organisation}\u0000${registry.id}`;
    let row = table.get(key);
    if (!row) {
      row = { organisation, registry: registry.id, registered: 0, onRegister: 0, indicators: {} };
      for (const id of registry.indicators) row.indicators[id] = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<IndicatorStatus, number>;
      table.set(key, row);
    }
    row.registered++;
    const status = statuses?.find((s) => s.registry === registry.id);
    if (!status?.onRegister) continue;
    row.onRegister++;
    for (const [id, s] of Object.entries(status.indicators)) row.indicators[id]![s]++;
  }
}

/**
 * A results source over @caregaps/core's batch evaluator: a PatientStore, the compiled registries and the codeset
 * index. Outcomes are evaluated once per patient on first use and kept; explanations are evaluated on demand.
 */
export class BatchResultsSource implements ResultsSource {
  readonly asOf: string;
  private readonly day: number;
  private readonly prepared = new Map<string, PreparedPatient>();
  private readonly outcomes = new Map<string, RegistryStatus[]>();

  constructor(
    /** A core `PatientStore`, or any lookup with its `get` and `values` (e.g. an engine's stored records). */
    private readonly store: Pick<PatientStore, 'get' | 'values'>,
    private readonly compiled: readonly CompiledRegistry[],
    private readonly codesets: CodesetIndex,
    readonly organisations: OrganisationHierarchy,
    asOf: string,
  ) {
    this.day = achievementDay(asOf);
    this.asOf = formatDay(this.day);
  }

  registries(): readonly RegistryInfo[] {
    return this.compiled.map((r) => ({ id: r.id, title: r.registry.definition.title, indicators: r.indicatorIds }));
  }

  *patients(): Iterable<AccessPatient> {
    for (const state of this.store.values()) if (state.patient) yield accessPatientOf(state.patient);
  }

  patient(nhsNumber: string): AccessPatient | undefined {
    const record = this.store.get(nhsNumber)?.patient;
    return record ? accessPatientOf(record) : undefined;
  }

  private preparedOf(nhsNumber: string): PreparedPatient | undefined {
    let p = this.prepared.get(nhsNumber);
    if (!p) {
      const state = this.store.get(nhsNumber);
      p = state ? preparePatient(state, this.codesets) : undefined;
      if (p) this.prepared.set(nhsNumber, p);
    }
    return p;
  }

  statuses(nhsNumber: string, options: { explain?: boolean } = {}): RegistryStatus[] {
    const explain = options.explain === true;
    if (!explain) {
      const cached = this.outcomes.get(nhsNumber);
      if (cached) return cached;
    }
    const patient = this.preparedOf(nhsNumber);
    if (!patient) return [];
    const result = this.compiled.map((registry) => {
      const outcome = registry.evaluate(patient, this.day, { explain });
      const indicators: Record<string, IndicatorStatus> = {};
      if (outcome.onRegister) registry.indicatorIds.forEach((id, i) => (indicators[id] = outcome.statuses[i]!));
      const status: RegistryStatus = { registry: registry.id, onRegister: outcome.onRegister, indicators };
      const explanation = explain ? explainOutcome(outcome, registry) : undefined;
      if (explanation) status.explanation = explanation;
      return status;
    });
    if (!explain) this.outcomes.set(nhsNumber, result);
    return result;
  }

  events(nhsNumber: string): readonly EventRecord[] {
    return eventsByDate(this.store.get(nhsNumber)?.events.values() ?? []);
  }

  clustersOf(code: string): readonly string[] {
    return clusterNames(this.codesets, code);
  }

  termOf(code: string): string | undefined {
    return termOf(this.codesets, code);
  }

  counts(query: CountQuery): OrganisationCounts[] {
    const registries = this.registries().filter((r) => query.registry === undefined || r.id === query.registry);
    const table = new Map<string, OrganisationCounts>();
    for (const patient of this.patients()) {
      const prepared = this.preparedOf(patient.nhsNumber);
      if (!prepared || !registeredOn(prepared, this.day) || !query.include(patient)) continue;
      const org = this.organisations.ancestor(patient.practice, query.level);
      addToCounts(table, org, registries, this.statuses(patient.nhsNumber));
    }
    return [...table.values()];
  }
}
