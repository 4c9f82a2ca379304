// What the report page shows, apart from how it is computed (report.ts) and how it is drawn (html.ts).
import type { OrganisationProblem, Published, RegistryInfo } from '@caregaps/access';
import type { Funnel } from './charts.js';
import type { Snapshot } from './model.js';

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
