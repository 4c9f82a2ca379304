import type { IndicatorStatus } from '@caregaps/core';
import { LEVELS, type OrganisationHierarchy, type OrganisationLevel } from './organisations.js';
import type { OrganisationCounts, RegistryInfo } from './source.js';
import { publishedRate, type Published, type SuppressionPolicy } from './suppression.js';

const STATUSES: readonly IndicatorStatus[] = ['met', 'gap', 'excepted', 'not-applicable'];

/** One published line: a count for an organisation, registry and measure, its denominator and the rate (%). */
export interface SummaryRow {
  level: OrganisationLevel;
  organisation: string;
  name: string;
  registry: string;
  /** The indicator, or `null` for the registered list and the register. */
  indicator: string | null;
  /** `registered` (list size), `on-register`, or an indicator status. */
  measure: 'registered' | 'on-register' | IndicatorStatus;
  count: Published;
  /** registered for `on-register`; on-register for a status; `null` for `registered`. */
  denominator: Published | null;
  /**
   * count ÷ denominator in percent from the published numbers (suppressed if either is), `null` if undefined: for a
   * status, its share of the register (met ÷ on the register).
   */
  rate: Published | null;
  /**
   * On `met` rows only, QOF achievement in percent: met ÷ (met + gap), the excepted and not-applicable left out (as
   * `caregaps evaluate --summary` and the report give it); suppressed if met or gap is; `null` on other rows.
   */
  achievement: Published | null;
}

/** An anonymised table: its rows and how it was made. */
export interface SummaryTable {
  asOf: string;
  level: OrganisationLevel;
  purpose: string;
  suppression: string;
  rows: SummaryRow[];
  /** Patients left out because a policy refused them (opt-outs for secondary use), published like any count. */
  excludedPatients: Published;
  /** Practices of registered patients that are not in the organisation records (counted under "(unmapped)"). */
  unmappedPractices: string[];
}

function cellId(level: OrganisationLevel, org: string, registry: string, measure: string): string {
  return `${level}\u0000${org}\u0000${registry}\u0000${measure}`;
}

/**
 * Publishes counts at every level at once, so that secondary suppression sees every total a reader could
 * subtract (practice → PCN → borough → ICB, and the register → its four statuses), then returns the rows of one level.
 */
export function buildSummary(
  countsByLevel: ReadonlyMap<OrganisationLevel, OrganisationCounts[]>,
  registries: readonly RegistryInfo[],
  organisations: OrganisationHierarchy,
  practices: ReadonlySet<string>,
  suppression: SuppressionPolicy,
  level: OrganisationLevel,
): SummaryRow[] {
  const cells = new Map<string, number>();
  const groups: { parent: string; children: string[] }[] = [];
  const measures = (registry: RegistryInfo) => ['registered', 'on-register', ...registry.indicators.flatMap((i) => STATUSES.map((s) => `${i}\u0000${s}`))];
  for (const [lvl, rows] of countsByLevel) {
    for (const row of rows) {
      cells.set(cellId(lvl, row.organisation, row.registry, 'registered'), row.registered);
      cells.set(cellId(lvl, row.organisation, row.registry, 'on-register'), row.onRegister);
      for (const [indicator, counts] of Object.entries(row.indicators)) {
        const ids = STATUSES.map((s) => cellId(lvl, row.organisation, row.registry, `${indicator}\u0000${s}`));
        STATUSES.forEach((s, i) => cells.set(ids[i]!, counts[s]));
        groups.push({ parent: cellId(lvl, row.organisation, row.registry, 'on-register'), children: ids });
      }
    }
  }
  // Hierarchy sums: a parent organisation's count is the sum of its child organisations' counts, when every child
  // belongs to exactly one parent (practices missing from the organisation file can break that; such groups are
  // not sums and are left out).
  for (let l = 1; l < LEVELS.length; l++) {
    const parentLevel = LEVELS[l]!;
    const childLevel = LEVELS[l - 1]!;
    const childrenOf = new Map<string, Set<string>>();
    const parentOfChild = new Map<string, string>();
    const broken = new Set<string>();
    for (const practice of practices) {
      const parent = organisations.ancestor(practice, parentLevel);
      const child = organisations.ancestor(practice, childLevel);
      const known = parentOfChild.get(child);
      if (known !== undefined && known !== parent) broken.add(parent).add(known);
      parentOfChild.set(child, parent);
      let set = childrenOf.get(parent);
      if (!set) childrenOf.set(parent, (set = new Set()));
      set.add(child);
    }
    for (const [parent, children] of childrenOf) {
      if (broken.has(parent)) continue;
      for (const registry of registries) {
        for (const measure of measures(registry)) {
          const parentCell = cellId(parentLevel, parent, registry.id, measure);
          if (!cells.has(parentCell)) continue;
          groups.push({ parent: parentCell, children: [...children].map((c) => cellId(childLevel, c, registry.id, measure)).filter((c) => cells.has(c)) });
        }
      }
    }
  }
  const published = suppression.publish({ cells, groups });
  const value = (id: string): Published => published.get(id)!;
  const isToken = (v: Published) => suppression.isSuppressed(v);
  const rows: SummaryRow[] = [];
  for (const row of countsByLevel.get(level) ?? []) {
    const registry = registries.find((r) => r.id === row.registry)!;
    const base = { level, organisation: row.organisation, name: organisations.name(row.organisation), registry: row.registry };
    const registered = value(cellId(level, row.organisation, row.registry, 'registered'));
    const onRegister = value(cellId(level, row.organisation, row.registry, 'on-register'));
    rows.push({ ...base, indicator: null, measure: 'registered', count: registered, denominator: null, rate: null, achievement: null });
    rows.push({ ...base, indicator: null, measure: 'on-register', count: onRegister, denominator: registered, rate: publishedRate(onRegister, registered, isToken), achievement: null });
    for (const indicator of registry.indicators) {
      const countOf = (status: IndicatorStatus) => value(cellId(level, row.organisation, row.registry, `${indicator}\u0000${status}`));
      const met = countOf('met');
      const gap = countOf('gap');
      const achievement = isToken(gap) ? publishedRate(met, gap, isToken) : publishedRate(met, isToken(met) ? met : (met as number) + (gap as number), isToken);
      for (const status of STATUSES) {
        const count = countOf(status);
        rows.push({ ...base, indicator, measure: status, count, denominator: onRegister, rate: publishedRate(count, onRegister, isToken), achievement: status === 'met' ? achievement : null });
      }
    }
  }
  rows.sort((a, b) => (a.organisation < b.organisation ? -1 : a.organisation > b.organisation ? 1 : a.registry < b.registry ? -1 : a.registry > b.registry ? 1 : 0));
  return rows;
}

/** The summary as CSV columns (rates and counts stay numbers; the token is text). */
export const SUMMARY_COLUMNS = ['level', 'organisation', 'name', 'registry', 'indicator', 'measure', 'count', 'denominator', 'rate', 'achievement'] as const;
