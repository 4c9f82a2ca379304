/**
 * Caregaps population report: register sizes, prevalence and indicator achievement by borough, PCN and practice,
 * funnel plots of practice variation and trends over achievement dates, as one self-contained, anonymised HTML page.
 * @packageDocumentation
 */
export { createReport, loadPopulation, secondaryUsePatients, reportDates, type ReportOptions, type ReportResult } from './report.js';
export type { ReportModel, ReportRegistry, ReportChart, ReportFunnel } from './report-model.js';
export { countPopulation, publish, publishedRows, publishedSum, registryInfo, rowsOf, type PopulationCounts, type PublishedIndicator, type PublishedRow, type Snapshot } from './model.js';
export { controlLimits, positionOf, limitCurve, Z95, Z998, POSITIONS, type Band, type Position, type LimitPoint } from './limits.js';
export { funnelOf, funnelSpec, trendSpec, renderSvg, POSITION_LABELS, type ChartSpec, type Funnel, type FunnelPoint, type TrendPoint } from './charts.js';
export { renderHtml, escapeHtml } from './html.js';
