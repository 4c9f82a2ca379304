/**
 * Builds the population report: reads records and organisations, evaluates every achievement date with the batch
 * evaluator, publishes the counts through small-number suppression, and renders the page.
 * @module
 */
import {
  CaregapsError,
  PatientStore,
  Quarantine,
  achievementDay,
  formatDay,
  loadRegistries,
  preparedPatients,
  provisionalReason,
  readRecords,
  type CodesetIndex,
  type CompiledRegistry,
  type OrganisationRecord,
  type PreparedPatient,
} from '@caregaps/core';
import {
  OrganisationHierarchy,
  SECONDARY_USE_OPT_OUTS,
  nhsDigitalSuppression,
  type OrganisationProblem,
  type Published,
  type RegistryInfo,
  type SuppressionPolicy,
} from '@caregaps/access';
import { funnelOf, funnelSpec, renderSvg, trendSpec, type Funnel, type TrendPoint } from './charts.js';
import { renderHtml, shortTitle } from './html.js';
import { countPopulation, publish, registryInfo, rowsOf, type Snapshot } from './model.js';

/** What to report on. */
export interface ReportOptions {
  /** Records in format v1 (NDJSON file path or a stream of chunks). */
  records: string | AsyncIterable<string | Uint8Array>;
  /** Organisation records (NDJSON); any other records in it are applied like records. */
  organisations?: string | AsyncIterable<string | Uint8Array>;
  /** The achievement date the tables and funnel plots are for (YYYY-MM-DD). */
  asOf: string;
  /** More achievement dates for the trends (the as-of date is always one of them). */
  trend?: readonly string[];
  registries: string;
  codesets: string;
  /** Codeset sources laid over `codesets`, in order (see `loadRegistries`). */
  codesetSources?: readonly string[];
  /** Only these registries. */
  only?: readonly string[];
  /** Funnel plots only for these indicators (default: every indicator). */
  indicators?: readonly string[];
  /** Disclosure control (default: NHS Digital's method from @caregaps/access). */
  suppression?: SuppressionPolicy;
  title?: string;
  /** Told about each stage as it finishes (for progress output). */
  onProgress?: (message: string) => void;
}

/** A registry with its indicator titles, as the report names them. */
export interface ReportRegistry extends RegistryInfo {
  indicatorTitles: Record<string, string>;
  /** Provisional indicators (they read a missing, partial or substitute cluster) and why. */
  provisional: Record<string, string>;
}

/** One chart: what it shows and its SVG. */
export interface ReportChart {
  id: string;
  title: string;
  svg: string;
}

/** A funnel plot with its data and SVG. */
export interface ReportFunnel extends ReportChart {
  funnel: Funnel;
}

/** Everything the page shows; every count in it is published (suppressed or rounded). */
export interface ReportModel {
  title: string;
  asOf: string;
  dates: string[];
  registries: ReportRegistry[];
  /** One snapshot per date, in date order. */
  snapshots: Snapshot[];
  current: Snapshot;
  suppression: { name: string; version: string; decides: string };
  funnels: ReportFunnel[];
  /** Funnel plots that could not be drawn, with why. */
  missingFunnels: { registry: string; indicator: string; reason: string }[];
  trends: ReportChart[];
  /** Patients left out for secondary-use opt-outs (published). */
  optedOut: Published;
  quarantined: { code: string; count: number }[];
  organisationProblems: OrganisationProblem[];
  unmappedPractices: string[];
}

/** The result: the page, its model and what was refused on the way in. */
export interface ReportResult {
  html: string;
  model: ReportModel;
  quarantine: Quarantine;
  accepted: number;
}

/** Reads records (and organisations) into a store; every refused line goes to the quarantine. */
export async function loadPopulation(
  sources: readonly (string | AsyncIterable<string | Uint8Array>)[],
): Promise<{ store: PatientStore; organisations: OrganisationRecord[]; quarantine: Quarantine; accepted: number }> {
  const store = new PatientStore();
  const quarantine = new Quarantine();
  const organisations: OrganisationRecord[] = [];
  let accepted = 0;
  for (const source of sources) {
    for await (const item of readRecords(source)) {
      if (!item.ok) {
        quarantine.add(item);
        continue;
      }
      accepted++;
      if (item.record.kind === 'organisation') organisations.push(item.record);
      else store.apply(item.record);
    }
  }
  return { store, organisations, quarantine, accepted };
}

/** Patients counted in secondary-use outputs: those without a secondary-use, national data or type 1 opt-out. */
export function secondaryUsePatients(store: PatientStore, index: CodesetIndex): { patients: PreparedPatient[]; optedOut: number } {
  const patients: PreparedPatient[] = [];
  let optedOut = 0;
  for (const prepared of preparedPatients(store, index)) {
    const optOuts = store.get(prepared.nhsNumber)?.patient?.optOuts ?? [];
    if (optOuts.some((o) => SECONDARY_USE_OPT_OUTS.includes(o))) optedOut++;
    else patients.push(prepared);
  }
  return { patients, optedOut };
}

/** The achievement dates of a report: the as-of date and the trend dates, checked, unique and in order. */
export function reportDates(asOf: string, trend: readonly string[] = []): string[] {
  const days = new Set([achievementDay(asOf), ...trend.map((d) => achievementDay(d.trim()))]);
  return [...days].sort((a, b) => a - b).map(formatDay);
}

function describeRegistries(compiled: readonly CompiledRegistry[]): ReportRegistry[] {
  return registryInfo(compiled).map((info, i) => ({
    ...info,
    indicatorTitles: Object.fromEntries(compiled[i]!.registry.definition.indicators.map((d) => [d.id, d.title])),
    provisional: Object.fromEntries(
      Object.entries(compiled[i]!.provisional.indicators).filter(([, c]) => c.length).map(([id, c]) => [id, provisionalReason(c)]),
    ),
  }));
}

/** Overall (top-level) trend points: achievement per indicator and prevalence per registry, where published. */
function trendPoints(snapshots: readonly Snapshot[], registry: ReportRegistry, suppression: SuppressionPolicy): { achievement: TrendPoint[]; prevalence: TrendPoint[] } {
  const ok = (v: Published): v is number => !suppression.isSuppressed(v);
  const achievement: TrendPoint[] = [];
  const prevalence: TrendPoint[] = [];
  for (const snapshot of snapshots) {
    const top = rowsOf(snapshot, 'icb', registry.id);
    const registered = top.map((r) => r.registered);
    const onRegister = top.map((r) => r.onRegister);
    if (registered.every(ok) && onRegister.every(ok)) {
      const d = registered.reduce((a, b) => a + b, 0);
      if (d > 0) prevalence.push({ date: snapshot.asOf, series: shortTitle(registry.title), value: onRegister.reduce((a, b) => a + b, 0) / d });
    }
    for (const indicator of registry.indicators) {
      const entries = top.map((r) => r.indicators[indicator]);
      if (!entries.every((e) => e && ok(e.met) && ok(e.denominator))) continue;
      const met = entries.reduce((a, e) => a + (e!.met as number), 0);
      const n = entries.reduce((a, e) => a + (e!.denominator as number), 0);
      if (n > 0) achievement.push({ date: snapshot.asOf, series: indicator, value: met / n });
    }
  }
  return { achievement, prevalence };
}

/** Builds the report model (evaluating every date) and renders the page. */
export async function createReport(options: ReportOptions): Promise<ReportResult> {
  const dates = reportDates(options.asOf, options.trend);
  const asOf = formatDay(achievementDay(options.asOf));
  const suppression = options.suppression ?? nhsDigitalSuppression();
  const loaded = loadRegistries(options.registries, options.codesets, { ...(options.only ? { only: options.only } : {}), codesetSources: options.codesetSources ?? [] });
  const sources = options.organisations === undefined ? [options.records] : [options.organisations, options.records];
  const { store, organisations: orgRecords, quarantine, accepted } = await loadPopulation(sources);
  const organisations = new OrganisationHierarchy(orgRecords);
  const { patients, optedOut } = secondaryUsePatients(store, loaded.index);
  const registries = describeRegistries(loaded.compiled);
  const unknown = (options.indicators ?? []).filter((id) => !registries.some((r) => r.indicators.includes(id)));
  if (unknown.length) throw new CaregapsError('CG_USAGE', `No loaded registry has the indicator${unknown.length === 1 ? '' : 's'} ${unknown.join(', ')}`);
  const progress = options.onProgress ?? (() => {});
  progress(`read ${accepted} records (${quarantine.size} quarantined); ${patients.length} patients counted, ${optedOut} left out for opt-outs`);

  const snapshots: Snapshot[] = [];
  let practices = new Set<string>();
  for (const date of dates) {
    const counts = countPopulation(patients, loaded.compiled, organisations, date);
    if (date === asOf) practices = counts.practices;
    snapshots.push(publish(counts, registries, organisations, suppression));
    progress(`evaluated ${date}`);
  }
  const current = snapshots.find((s) => s.asOf === asOf)!;

  const funnels: ReportFunnel[] = [];
  const missingFunnels: ReportModel['missingFunnels'] = [];
  for (const registry of registries) {
    for (const indicator of registry.indicators) {
      if (options.indicators && !options.indicators.includes(indicator)) continue;
      const funnel = funnelOf(current, registry.id, indicator, suppression);
      if (!funnel) {
        missingFunnels.push({ registry: registry.id, indicator, reason: 'the overall numbers are suppressed or zero' });
        continue;
      }
      const title = `${indicator}: ${registry.indicatorTitles[indicator] ?? ''}`.replace(/: $/, '');
      funnels.push({ id: `funnel-${indicator}`, title, svg: await renderSvg(funnelSpec(funnel, `${indicator} · ${shortTitle(registry.title)}`)), funnel });
    }
  }

  const trends: ReportChart[] = [];
  if (dates.length > 1) {
    const prevalence: TrendPoint[] = [];
    for (const registry of registries) {
      const points = trendPoints(snapshots, registry, suppression);
      prevalence.push(...points.prevalence);
      if (points.achievement.length === 0) continue;
      const title = `${shortTitle(registry.title)}: achievement`;
      trends.push({ id: `trend-${registry.id}`, title, svg: await renderSvg(trendSpec(points.achievement, { title, seriesTitle: 'Indicator', yTitle: 'Achievement', yDomain: [0, 1] })) });
    }
    if (prevalence.length > 0) {
      const title = 'Register prevalence';
      trends.unshift({ id: 'trend-prevalence', title, svg: await renderSvg(trendSpec(prevalence, { title, seriesTitle: 'Register', yTitle: 'Prevalence' })) });
    }
  }

  const model: ReportModel = {
    title: options.title ?? 'Population report',
    asOf,
    dates,
    registries,
    snapshots,
    current,
    suppression: { ...suppression.meta },
    funnels,
    missingFunnels,
    trends,
    optedOut: suppression.publish({ cells: new Map([['opted-out', optedOut]]), groups: [] }).get('opted-out')!,
    quarantined: [...quarantine.counts].map(([code, count]) => ({ code, count })),
    organisationProblems: organisations.problems,
    unmappedPractices: [...practices].filter((p) => !organisations.knows(p)).sort(),
  };
  return { html: renderHtml(model), model, quarantine, accepted };
}
