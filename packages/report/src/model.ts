/**
 * The report's numbers: counts by organisation from the batch evaluator, published through small-number
 * suppression, so nothing later in the report can show an unpublished count.
 * @module
 */
import {
  achievementDay,
  evaluatePopulation,
  formatDay,
  type CompiledRegistry,
  type IndicatorStatus,
  type PreparedPatient,
} from '@caregaps/core';
import {
  LEVELS,
  UNMAPPED,
  addToCounts,
  buildSummary,
  publishedRate,
  registeredOn,
  type OrganisationCounts,
  type OrganisationHierarchy,
  type OrganisationLevel,
  type Published,
  type RegistryInfo,
  type RegistryStatus,
  type SummaryRow,
  type SuppressionPolicy,
} from '@caregaps/access';

/** One indicator's published numbers for one organisation. */
export interface PublishedIndicator {
  met: Published;
  gap: Published;
  excepted: Published;
  notApplicable: Published;
  /** met + gap from the published numbers (suppressed if either is): the achievement denominator. */
  denominator: Published;
  /** met ÷ (met + gap) in percent from the published numbers; `null` when the denominator is 0. */
  achievement: Published | null;
}

/** One organisation's published numbers for one registry. */
export interface PublishedRow {
  level: OrganisationLevel;
  code: string;
  name: string;
  /** The name of the organisation it belongs to (one level up), `null` at the top. */
  parent: string | null;
  registry: string;
  /** Patients registered on the achievement date (the list size). */
  registered: Published;
  onRegister: Published;
  /** Register size ÷ list size in percent, from the published numbers. */
  prevalence: Published | null;
  indicators: Record<string, PublishedIndicator>;
}

/** Everything published for one achievement date. */
export interface Snapshot {
  asOf: string;
  rows: PublishedRow[];
}

/** The exact counts of one achievement date, before publication (never shown). */
export interface PopulationCounts {
  asOf: string;
  byLevel: Map<OrganisationLevel, OrganisationCounts[]>;
  /** Practices of the counted patients. */
  practices: Set<string>;
}

/**
 * Counts registered patients, register sizes and indicator statuses by organisation at every level, evaluating
 * each patient with the batch evaluator on `asOf`.
 */
export function countPopulation(
  patients: readonly PreparedPatient[],
  compiled: readonly CompiledRegistry[],
  organisations: OrganisationHierarchy,
  asOf: string,
): PopulationCounts {
  const day = achievementDay(asOf);
  const registries = registryInfo(compiled);
  const tables = new Map<OrganisationLevel, Map<string, OrganisationCounts>>(LEVELS.map((l) => [l, new Map()]));
  const practices = new Set<string>();
  for (const patient of patients) {
    if (!registeredOn(patient, day)) continue;
    practices.add(patient.practice);
    const statuses: RegistryStatus[] = [];
    for (const result of evaluatePopulation([patient], compiled, day)) {
      statuses.push({ registry: result.registry, onRegister: true, indicators: result.indicators });
    }
    for (const level of LEVELS) addToCounts(tables.get(level)!, organisations.ancestor(patient.practice, level), registries, statuses);
  }
  const byLevel = new Map<OrganisationLevel, OrganisationCounts[]>();
  for (const [level, table] of tables) byLevel.set(level, [...table.values()]);
  return { asOf: formatDay(day), byLevel, practices };
}

/** The registries as the access layer describes them. */
export function registryInfo(compiled: readonly CompiledRegistry[]): RegistryInfo[] {
  return compiled.map((r) => ({ id: r.id, title: r.registry.definition.title, indicators: r.indicatorIds }));
}

const MEASURE_KEY: Record<IndicatorStatus, keyof Omit<PublishedIndicator, 'denominator' | 'achievement'>> = {
  met: 'met',
  gap: 'gap',
  excepted: 'excepted',
  'not-applicable': 'notApplicable',
};

/** The sum of two published counts, or the suppression token if either is suppressed. */
export function publishedSum(a: Published, b: Published, isSuppressed: (v: Published) => boolean): Published {
  if (isSuppressed(a)) return a;
  if (isSuppressed(b)) return b;
  return (a as number) + (b as number);
}

/**
 * Publishes every count of every level through `suppression` (with the hierarchy and register → status sums, so
 * secondary suppression sees every total a reader could subtract) and derives every rate from published numbers.
 */
export function publish(
  counts: PopulationCounts,
  registries: readonly RegistryInfo[],
  organisations: OrganisationHierarchy,
  suppression: SuppressionPolicy,
): Snapshot {
  const isSuppressed = (v: Published) => suppression.isSuppressed(v);
  const rows: PublishedRow[] = [];
  for (const level of LEVELS) {
    const lines = buildSummary(counts.byLevel, registries, organisations, counts.practices, suppression, level);
    rows.push(...publishedRows(lines, (code) => parentName(organisations, code, level), isSuppressed));
  }
  return { asOf: counts.asOf, rows };
}

/**
 * Published summary lines (the access layer's `summary` rows, all of one level) as one row per organisation and
 * registry, with each indicator's achievement derived from the published numbers.
 */
export function publishedRows(lines: readonly SummaryRow[], parentOf: (code: string) => string | null, isSuppressed: (v: Published) => boolean): PublishedRow[] {
  const byKey = new Map<string, PublishedRow>();
  for (const line of lines) {
    const key = `${line.organisation}\u0000${line.registry}`;
    let row = byKey.get(key);
    if (!row) {
      row = { level: line.level, code: line.organisation, name: line.name, parent: parentOf(line.organisation), registry: line.registry, registered: 0, onRegister: 0, prevalence: null, indicators: {} };
      byKey.set(key, row);
    }
    if (line.measure === 'registered') row.registered = line.count;
    else if (line.measure === 'on-register') {
      row.onRegister = line.count;
      row.prevalence = line.rate;
    } else {
      const entry = (row.indicators[line.indicator!] ??= { met: 0, gap: 0, excepted: 0, notApplicable: 0, denominator: 0, achievement: null });
      entry[MEASURE_KEY[line.measure]] = line.count;
    }
  }
  for (const row of byKey.values()) {
    for (const entry of Object.values(row.indicators)) {
      entry.denominator = publishedSum(entry.met, entry.gap, isSuppressed);
      entry.achievement = publishedRate(entry.met, entry.denominator, isSuppressed);
    }
  }
  return [...byKey.values()];
}

function parentName(organisations: OrganisationHierarchy, code: string, level: OrganisationLevel): string | null {
  const up = LEVELS[LEVELS.indexOf(level) + 1];
  if (up === undefined) return null;
  // ancestor() walks the checked parent links from any organisation, not only from practices.
  const parent = code === UNMAPPED ? UNMAPPED : organisations.ancestor(code, up);
  return parent === UNMAPPED ? UNMAPPED : organisations.name(parent);
}

/** The rows of one level and registry, in code order. */
export function rowsOf(snapshot: Snapshot, level: OrganisationLevel, registry: string): PublishedRow[] {
  return snapshot.rows.filter((r) => r.level === level && r.registry === registry).sort((a, b) => (a.code < b.code ? -1 : a.code > b.code ? 1 : 0));
}
