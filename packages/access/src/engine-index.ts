import type { IndicatorStatus, OptOut } from '@caregaps/core';
import { PatientDirectory } from './directory.js';
import { addToCounts, type OrganisationCounts, type PopulationIndex, type RegistryInfo, type RegistryStatus } from './source.js';
import type { AccessPatient } from './types.js';

const STATUSES: readonly IndicatorStatus[] = ['met', 'gap', 'excepted', 'not-applicable'];

/** The engine's counts of one registry at one organisation (its `counts(registry, organisation)`). */
export interface EngineCounts {
  registered: number;
  register: number;
  indicators: Record<string, Record<IndicatorStatus, number>>;
}

/** What the index reads from the engine: its aggregates, one patient's statuses, its change stream. */
export interface IndexedEngine {
  readonly asOf: string;
  counts(registry: string, organisation?: string): EngineCounts | undefined;
  patient(nhsNumber: string, options?: { explain?: boolean }): { practice: string; registered?: boolean; registries: RegistryStatus[] } | undefined;
  readonly changes$?: { subscribe(next: (change: { nhsNumber: string; practice: string; registry: string }) => void): unknown };
}

/** A group's counts at one practice, per registry. */
type Contribution = Map<string, OrganisationCounts>;

/**
 * The population index over an incremental engine. Anonymised counts are the engine's per-practice aggregates,
 * less what the refused opt-out groups contribute at each practice; those contributions are summed from the group
 * members' statuses once and kept until a member's statuses, registration or opt-outs change (the engine's change
 * stream and the directory say which practices) or the achievement date moves.
 */
export class EngineIndex implements PopulationIndex {
  private readonly contributions = new Map<string, Map<string, Contribution>>();
  private contributionsAsOf: string | undefined;
  private readonly stale = new Set<string>();
  /** registry → NHS number → the patient's status in it, for patients whose lists were read; dropped on any change. */
  private readonly statuses = new Map<string, Map<string, RegistryStatus | null>>();
  private statusesAsOf: string | undefined;
  private readonly directory = new PatientDirectory();
  /** Grows with every write noted and every change the engine reports: equal revisions, equal counts. */
  revision = 0;
  /** Opt-outs held apart from the records (an opt-out register), added to each patient's own. */
  private held: (nhsNumber: string) => readonly OptOut[] = () => [];

  constructor(
    private readonly engine: IndexedEngine,
    private readonly registries: readonly RegistryInfo[],
    private readonly patientOf: (nhsNumber: string) => AccessPatient | undefined,
  ) {
    const directory = this.directory;
    engine.changes$?.subscribe((change) => {
      this.revision++;
      this.statuses.get(change.registry)?.delete(change.nhsNumber);
      const place = directory.placeOf(change.nhsNumber);
      if (place?.practice !== change.practice) this.note([change.nhsNumber]);
      if (place && place.key !== '') this.stale.add(place.practice).add(change.practice);
    });
  }

  /** Takes every patient's practice and opt-outs (at start, or after a stream was ingested). */
  rebuild(patients: Iterable<AccessPatient>): void {
    this.revision++;
    for (const patient of patients) this.directory.set(patient.nhsNumber, this.withHeld(patient));
  }

  /** Re-reads these patients' registration and opt-outs (after their records changed). */
  note(nhsNumbers: Iterable<string>): void {
    this.revision++;
    for (const nhs of nhsNumbers) {
      const patient = this.patientOf(nhs);
      this.directory.set(nhs, patient && this.withHeld(patient));
      for (const kept of this.statuses.values()) kept.delete(nhs);
    }
  }

  addOptOuts(held: (nhsNumber: string) => readonly OptOut[], holders: Iterable<string>): void {
    this.held = held;
    this.note(holders);
  }

  private withHeld(patient: AccessPatient): AccessPatient {
    const held = this.held(patient.nhsNumber);
    return held.length === 0 ? patient : { ...patient, optOuts: [...new Set([...patient.optOuts, ...held])] };
  }

  status(nhsNumber: string, registry: string): RegistryStatus | undefined {
    if (this.statusesAsOf !== this.engine.asOf) {
      this.statuses.clear();
      this.statusesAsOf = this.engine.asOf;
    }
    let kept = this.statuses.get(registry);
    if (!kept) this.statuses.set(registry, (kept = new Map()));
    let status = kept.get(nhsNumber);
    if (status === undefined) {
      status = this.engine.patient(nhsNumber, { explain: false })?.registries.find((r) => r.registry === registry) ?? null;
      kept.set(nhsNumber, status);
    }
    return status ?? undefined;
  }

  atPractice(practice: string): Iterable<string> {
    return this.directory.atPractice(practice);
  }

  totals(registry: string): Record<string, Record<IndicatorStatus, number>> {
    return this.engine.counts(registry)?.indicators ?? {};
  }

  optOutGroups(): { key: string; size: number; member: AccessPatient }[] {
    const groups: { key: string; size: number; member: AccessPatient }[] = [];
    for (const [key, size] of this.directory.groups()) {
      const nhs = this.directory.memberOf(key);
      const own = nhs === undefined ? undefined : this.patientOf(nhs);
      const member = own && this.withHeld(own);
      if (member) groups.push({ key, size, member });
    }
    return groups;
  }

  countsWithout(refused: ReadonlySet<string>, registry?: string): { counts: OrganisationCounts[]; practices: Set<string>; excluded: number } {
    const registries = this.registries.filter((r) => registry === undefined || r.id === registry);
    const everyoneRefused = refused.has('');
    const counts: OrganisationCounts[] = [];
    const practices = new Set<string>();
    let excluded = 0;
    for (const [practice, members] of this.directory.practices()) {
      const groups = this.directory.optedOutAt(practice);
      let withOptOuts = 0;
      let refusedHere = 0;
      for (const [key, group] of groups) {
        withOptOuts += group.size;
        if (refused.has(key)) refusedHere += group.size;
      }
      if (everyoneRefused) refusedHere += members.size - withOptOuts;
      excluded += refusedHere;
      if (members.size > refusedHere) practices.add(practice);
      if (members.size === 0) continue;
      const contributions = this.contributionsAt(practice);
      for (const r of registries) {
        // Start from everyone at the practice and take the refused groups away, or (when the group without opt-outs
        // is refused) start from nothing and add the allowed groups.
        const row = everyoneRefused ? emptyRow(practice, r) : this.engineRow(practice, r);
        for (const [key, contribution] of contributions) {
          if (refused.has(key) !== everyoneRefused) addRow(row, contribution.get(r.id), everyoneRefused ? 1 : -1);
        }
        if (row.registered > 0) counts.push(row);
      }
    }
    return { counts, practices, excluded };
  }

  private engineRow(practice: string, registry: RegistryInfo): OrganisationCounts {
    const c = this.engine.counts(registry.id, practice);
    const row = emptyRow(practice, registry);
    if (!c) return row;
    row.registered = c.registered;
    row.onRegister = c.register;
    for (const id of registry.indicators) for (const s of STATUSES) row.indicators[id]![s] = c.indicators[id]?.[s] ?? 0;
    return row;
  }

  /** Each opt-out group's counts at a practice, from its members' statuses (kept until one of them changes). */
  private contributionsAt(practice: string): Map<string, Contribution> {
    if (this.contributionsAsOf !== this.engine.asOf) {
      this.contributions.clear();
      this.contributionsAsOf = this.engine.asOf;
    }
    for (const p of this.directory.takeChanged()) this.contributions.delete(p);
    for (const p of this.stale) this.contributions.delete(p);
    this.stale.clear();
    let byGroup = this.contributions.get(practice);
    if (byGroup) return byGroup;
    byGroup = new Map();
    for (const [key, group] of this.directory.optedOutAt(practice)) {
      const table = new Map<string, OrganisationCounts>();
      for (const nhs of group) {
        const status = this.engine.patient(nhs, { explain: false });
        if (status?.registered) addToCounts(table, practice, this.registries, status.registries);
      }
      byGroup.set(key, new Map([...table.values()].map((row) => [row.registry, row])));
    }
    this.contributions.set(practice, byGroup);
    return byGroup;
  }
}

function emptyRow(practice: string, registry: RegistryInfo): OrganisationCounts {
  const row: OrganisationCounts = { organisation: practice, registry: registry.id, registered: 0, onRegister: 0, indicators: {} };
  for (const id of registry.indicators) row.indicators[id] = { met: 0, gap: 0, excepted: 0, 'not-applicable': 0 };
  return row;
}

function addRow(row: OrganisationCounts, add: OrganisationCounts | undefined, sign: 1 | -1): void {
  if (!add) return;
  row.registered += sign * add.registered;
  row.onRegister += sign * add.onRegister;
  for (const [id, counts] of Object.entries(add.indicators)) for (const s of STATUSES) row.indicators[id]![s] += sign * counts[s];
}
