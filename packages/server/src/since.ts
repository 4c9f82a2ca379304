import { achievementDay, formatDay, preparePatient, type CodesetIndex, type CompiledRegistry, type PatientState } from '@caregaps/core';

/** When a patient's gap in one indicator began. */
export interface GapStart {
  /** The first day (YYYY-MM-DD) of the gap that holds on the achievement date. */
  since: string;
  /** True when the gap holds as far back as the search looks (`since` is then the earliest day checked). */
  atLeast: boolean;
}

/** Finds when gaps began, for gap lists. */
export interface GapHistory {
  since(nhsNumber: string, registry: string, indicator: string): GapStart | undefined;
}

/** How far back the search looks, in steps of `STEP_DAYS`. */
const STEPS = 60;
const STEP_DAYS = 30;

/**
 * "In a gap since": the first day from which, taking each day in turn as the achievement date, the patient has been
 * on the register and in a gap for the indicator without a break up to the current achievement date. The rules only
 * read records dated on or before the achievement date they are evaluated for, so each earlier day sees the record
 * as it stood then (less anything entered late). Searched back in 30-day steps for up to five years, then to the day
 * between the last step in a gap and the first one out of it (a break shorter than 30 days between two steps is not
 * seen). Reads the patient's stored record through `record` and evaluates with the compiled registries.
 */
export function gapHistory(source: { readonly asOf: string; record(nhsNumber: string): PatientState | undefined }, compiled: readonly CompiledRegistry[], index: CodesetIndex): GapHistory {
  return {
    since(nhsNumber, registryId, indicator) {
      const registry = compiled.find((r) => r.id === registryId);
      const at = registry?.indicatorIds.indexOf(indicator) ?? -1;
      const state = source.record(nhsNumber);
      const prepared = state ? preparePatient(state, index) : undefined;
      if (!registry || at < 0 || !prepared) return undefined;
      const inGap = (day: number) => {
        const outcome = registry.evaluate(prepared, day);
        return outcome.onRegister && outcome.statuses[at] === 'gap';
      };
      let gap = achievementDay(source.asOf);
      if (!inGap(gap)) return undefined;
      let out: number | undefined;
      for (let step = 1; step <= STEPS; step++) {
        const day = gap - STEP_DAYS;
        if (!inGap(day)) {
          out = day;
          break;
        }
        gap = day;
      }
      if (out === undefined) return { since: formatDay(gap), atLeast: true };
      while (gap - out > 1) {
        const mid = Math.floor((gap + out) / 2);
        if (inGap(mid)) gap = mid;
        else out = mid;
      }
      return { since: formatDay(gap), atLeast: false };
    },
  };
}
