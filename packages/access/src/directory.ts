import type { OptOut } from '@caregaps/core';
import type { AccessPatient } from './types.js';

/** The key of the group of patients holding exactly these opt-outs ('' for none). */
export function optOutKey(optOuts: readonly OptOut[]): string {
  return [...new Set(optOuts)].sort().join(',');
}

/**
 * Who is registered where and who holds which opt-outs, kept as patient records change: the practice index that
 * makes a practice's gap list proportional to the practice, and the opt-out groups that let anonymised counts come
 * from the engine's aggregates less the few groups a policy refuses. It holds NHS numbers and opt-out keys only.
 */
export class PatientDirectory {
  private readonly practiceOf = new Map<string, string>();
  private readonly keyOf = new Map<string, string>();
  private readonly byPractice = new Map<string, Set<string>>();
  /** practice → opt-out key → NHS numbers, for patients holding at least one opt-out. */
  private readonly optedOut = new Map<string, Map<string, Set<string>>>();
  /** opt-out key → how many patients hold exactly it (the key '' included). */
  private readonly groupSizes = new Map<string, number>();
  /** Practices whose membership or opt-outs changed, for whoever caches per-practice figures (see `takeChanged`). */
  private changed = new Set<string>();

  /** Takes a patient's latest registration and opt-outs (or, with `undefined`, forgets the patient). */
  set(nhsNumber: string, patient: AccessPatient | undefined): void {
    const practice = patient?.practice;
    const key = patient ? optOutKey(patient.optOuts) : undefined;
    const oldPractice = this.practiceOf.get(nhsNumber);
    const oldKey = this.keyOf.get(nhsNumber);
    if (oldPractice === practice && oldKey === key) {
      // The same group at the same practice, but registration may have changed: a group member's counts go stale.
      if (key) this.changed.add(practice!);
      return;
    }
    if (oldPractice !== undefined) {
      this.byPractice.get(oldPractice)!.delete(nhsNumber);
      if (oldKey !== '') this.optedOut.get(oldPractice)!.get(oldKey!)!.delete(nhsNumber);
      this.groupSizes.set(oldKey!, this.groupSizes.get(oldKey!)! - 1);
      this.changed.add(oldPractice);
    }
    if (practice === undefined || key === undefined) {
      this.practiceOf.delete(nhsNumber);
      this.keyOf.delete(nhsNumber);
      return;
    }
    this.practiceOf.set(nhsNumber, practice);
    this.keyOf.set(nhsNumber, key);
    let members = this.byPractice.get(practice);
    if (!members) this.byPractice.set(practice, (members = new Set()));
    members.add(nhsNumber);
    if (key !== '') {
      let groups = this.optedOut.get(practice);
      if (!groups) this.optedOut.set(practice, (groups = new Map()));
      let group = groups.get(key);
      if (!group) groups.set(key, (group = new Set()));
      group.add(nhsNumber);
    }
    this.groupSizes.set(key, (this.groupSizes.get(key) ?? 0) + 1);
    this.changed.add(practice);
  }

  /** The NHS numbers whose latest patient record names this practice. */
  atPractice(practice: string): ReadonlySet<string> {
    return this.byPractice.get(practice) ?? EMPTY;
  }

  /** Every practice named by a patient record, with how many patients it has. */
  practices(): IterableIterator<[string, ReadonlySet<string>]> {
    return this.byPractice.entries();
  }

  /** The opt-out groups at a practice (patients holding at least one opt-out): key → NHS numbers. */
  optedOutAt(practice: string): ReadonlyMap<string, ReadonlySet<string>> {
    return this.optedOut.get(practice) ?? EMPTY_GROUPS;
  }

  /** The practice and opt-out key of a patient, if known. */
  placeOf(nhsNumber: string): { practice: string; key: string } | undefined {
    const practice = this.practiceOf.get(nhsNumber);
    return practice === undefined ? undefined : { practice, key: this.keyOf.get(nhsNumber)! };
  }

  /** Every opt-out key held by at least one patient ('' for the patients with none), with the group's size. */
  groups(): [string, number][] {
    return [...this.groupSizes].filter(([, size]) => size > 0);
  }

  /** One member of a group, found by walking the practices: the group without opt-outs is most of them. */
  memberOf(key: string): string | undefined {
    for (const [practice, members] of this.byPractice) {
      if (key !== '') {
        const group = this.optedOut.get(practice)?.get(key);
        if (group?.size) return group.values().next().value;
        continue;
      }
      for (const nhs of members) if (this.keyOf.get(nhs) === '') return nhs;
    }
    return undefined;
  }

  /** The practices changed since the last call. */
  takeChanged(): Set<string> {
    const changed = this.changed;
    this.changed = new Set();
    return changed;
  }
}

const EMPTY: ReadonlySet<string> = new Set();
const EMPTY_GROUPS: ReadonlyMap<string, ReadonlySet<string>> = new Map();
