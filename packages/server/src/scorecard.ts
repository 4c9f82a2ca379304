import { CaregapsError, type CompiledRegistry } from '@caregaps/core';
import type { AccessLayer, AccessView, OrganisationHierarchy, Principal, Purpose, ResultsSource, SuppressionPolicy } from '@caregaps/access';
import { POSITION_LABELS, funnelOf, publishedRows, renderSvg, trendSpec, type PublishedRow, type TrendPoint } from '@caregaps/report';
import { count, percent } from './format.js';
import { esc, purposeField } from './html.js';

/** Where trends come from: the achievement dates to show, and the results on each (the same records, evaluated then). */
export interface TrendSources {
  /** Achievement dates, oldest first (YYYY-MM-DD); the current one is included by the server. */
  dates: readonly string[];
  /** The results on `asOf` of one registry (only it is evaluated). */
  sourceAt(asOf: string, registry: string): ResultsSource;
}

/** The last days of the `quarters` calendar quarters before `asOf`, oldest first (the default trend dates). */
export function quarterEnds(asOf: string, quarters = 4): string[] {
  const [year, month] = asOf.split('-').map(Number) as [number, number];
  const out: string[] = [];
  for (let back = 0; back <= 3 * quarters + 2 && out.length < quarters; back++) {
    const m = month - back; // months counted back from asOf's month (may go below 1)
    if (((m % 3) + 3) % 3 !== 0) continue;
    const end = new Date(Date.UTC(year, m, 0)).toISOString().slice(0, 10); // day 0 of the next month: the month's last day
    if (end < asOf) out.unshift(end);
  }
  return out;
}

/** What a scorecard shows: one registry, one practice. */
export interface ScorecardQuery {
  registry: string;
  practice?: string;
}

export function scorecardQuery(query: Record<string, unknown>, registries: readonly CompiledRegistry[]): ScorecardQuery {
  const registry = String(query['registry'] ?? registries[0]?.id ?? '');
  if (!registries.some((r) => r.id === registry)) throw new CaregapsError('CG_USAGE', `No registry named ${registry}`);
  const practice = query['practice'];
  return practice === undefined || practice === '' ? { registry } : { registry, practice: String(practice) };
}

const LEVELS = ['pcn', 'borough', 'icb'] as const;

/**
 * A practice's scorecard: each indicator's QOF achievement at the practice against its PCN, borough and ICB, its rank
 * among the practices and its position on the funnel plot — all from the access layer's published (suppressed)
 * numbers, four audited summaries — and its trend over the achievement dates.
 */
export class Scorecards {
  /** Access layers over earlier achievement dates, kept until the records change. */
  private past = new Map<string, AccessLayer>();
  private version = -1;

  constructor(
    private readonly access: AccessLayer,
    private readonly registries: readonly CompiledRegistry[],
    private readonly trends: TrendSources | undefined,
  ) {}

  private layerAt(asOf: string, registry: string, version: number): AccessLayer {
    if (version !== this.version) {
      this.past = new Map();
      this.version = version;
    }
    const key = `${asOf}|${registry}`;
    let layer = this.past.get(key);
    if (!layer) {
      layer = this.access.withSource(this.trends!.sourceAt(asOf, registry));
      this.past.set(key, layer);
    }
    return layer;
  }

  async render(view: AccessView, query: ScorecardQuery, version: number): Promise<{ form: string; body: string }> {
    const suppression = this.access.suppression;
    const isSuppressed = (v: Parameters<SuppressionPolicy['isSuppressed']>[0]) => suppression.isSuppressed(v);
    const compiled = this.registries.find((r) => r.id === query.registry)!;
    const practices = publishedRows((await view.summary({ level: 'practice', registry: query.registry })).rows, () => null, isSuppressed);
    const practice = practices.find((p) => p.code === (query.practice ?? view.principal.organisation)) ?? practices.find((p) => p.code === query.practice) ?? practices[0];
    const form = scorecardForm(this.registries, practices, query.registry, practice?.code, view.purpose);
    if (!practice) return { form, body: '<p>No practice has published figures for this registry.</p>' };
    const hierarchy: OrganisationHierarchy = this.access.source.organisations;
    const levels: Record<(typeof LEVELS)[number], PublishedRow | undefined> = { pcn: undefined, borough: undefined, icb: undefined };
    let icbRows: PublishedRow[] = [];
    for (const level of LEVELS) {
      const rows = publishedRows((await view.summary({ level, registry: query.registry })).rows, () => null, isSuppressed);
      levels[level] = rows.find((r) => r.code === hierarchy.ancestor(practice.code, level));
      if (level === 'icb') icbRows = rows;
    }
    const asOf = this.access.source.asOf;
    const lines = compiled.indicatorIds.map((id) => {
      const own = practice.indicators[id]?.achievement ?? null;
      const ranked = practices.map((p) => p.indicators[id]?.achievement).filter((a): a is number => typeof a === 'number');
      const rank = typeof own === 'number' ? `${1 + ranked.filter((a) => a > own).length} of ${ranked.length}` : 'not ranked (suppressed)';
      const funnel = funnelOf({ asOf, rows: [...practices, ...icbRows] }, query.registry, id, suppression);
      const point = funnel?.points.find((p) => p.code === practice.code);
      const position = point ? POSITION_LABELS[point.position] : 'not plotted (suppressed or empty)';
      const cell = (row: PublishedRow | undefined) => {
        const c = row?.indicators[id];
        return c ? `<td class="num">${percent(c.achievement)}<br><small>met ${count(c.met)} of ${count(c.denominator)}</small></td>` : '<td class="num">–</td>';
      };
      const title = compiled.registry.definition.indicators.find((i) => i.id === id)?.title ?? id;
      return `<tr data-indicator="${esc(id)}"><th scope="row"><abbr title="${esc(title)}">${esc(id)}</abbr></th>${cell(practice)}${cell(levels.pcn)}${cell(levels.borough)}${cell(levels.icb)}<td data-rank>${esc(rank)}</td><td data-position="${esc(point?.position ?? '')}">${esc(position)}</td></tr>`;
    });
    const name = (row: PublishedRow | undefined, fallback: string) => (row ? `${esc(row.name)} (${esc(row.code)})` : fallback);
    const table = `<table id="scorecard-table"><caption>${esc(compiled.registry.definition.title)}: ${esc(practice.name)} (${esc(practice.code)}) against its PCN, borough and ICB, as of ${esc(asOf)} (QOF achievement = met ÷ (met + gap), from published numbers)</caption>
<thead><tr><th scope="col">Indicator</th><th scope="col" class="num">Practice</th><th scope="col" class="num">PCN: ${name(levels.pcn, '–')}</th><th scope="col" class="num">Borough: ${name(levels.borough, '–')}</th><th scope="col" class="num">ICB: ${name(levels.icb, '–')}</th><th scope="col">Rank among the practices with a published figure (of ${practices.length})</th><th scope="col">Funnel plot position</th></tr></thead>
<tbody>${lines.join('\n')}</tbody></table>`;
    return { form, body: table + (await this.trend(view.principal, view.purpose, query.registry, practice, compiled, version)) };
  }

  /** The practice's and the ICB's achievement per indicator on each trend date (two audited summaries per date). */
  private async trend(principal: Principal, purpose: Purpose, registry: string, practice: PublishedRow, compiled: CompiledRegistry, version: number): Promise<string> {
    if (!this.trends) return '';
    const suppression = this.access.suppression;
    const isSuppressed = (v: Parameters<SuppressionPolicy['isSuppressed']>[0]) => suppression.isSuppressed(v);
    const current = this.access.source.asOf;
    const dates = [...new Set([...this.trends.dates.filter((d) => d < current), current])].sort();
    const points: TrendPoint[] = [];
    const rows: string[] = [];
    for (const date of dates) {
      const view = (date === current ? this.access : this.layerAt(date, registry, version)).as(principal, purpose);
      const own = publishedRows((await view.summary({ level: 'practice', registry })).rows, () => null, isSuppressed).find((r) => r.code === practice.code);
      const icb = publishedRows((await view.summary({ level: 'icb', registry })).rows, () => null, isSuppressed)[0];
      const cells = compiled.indicatorIds.map((id) => {
        const a = own?.indicators[id]?.achievement;
        if (typeof a === 'number') points.push({ date, series: id, value: a / 100 });
        return `<td class="num">${percent(a)}</td><td class="num">${percent(icb?.indicators[id]?.achievement)}</td>`;
      });
      rows.push(`<tr data-date="${esc(date)}"><th scope="row">${esc(date)}</th>${cells.join('')}</tr>`);
    }
    const header = compiled.indicatorIds.map((id) => `<th scope="col" class="num">${esc(id)} practice</th><th scope="col" class="num">${esc(id)} ICB</th>`).join('');
    const chart = points.length
      ? `<figure class="chart" aria-labelledby="trend-heading">${await renderSvg(trendSpec(points, { title: `${practice.name}: QOF achievement by achievement date`, seriesTitle: 'Indicator', yTitle: 'QOF achievement', yDomain: [0, 1] }))}<figcaption>Each line is one indicator's achievement at the practice on each date (published numbers; suppressed points left out). The table gives the same with the ICB's.</figcaption></figure>`
      : '<p>Every trend point is suppressed.</p>';
    return `<h2 id="trend-heading">Trend over ${dates.length} achievement dates</h2>${chart}
<table id="trend-table"><caption>Achievement by date: the practice and the ICB</caption><thead><tr><th scope="col">Achievement date</th>${header}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
  }
}

function scorecardForm(registries: readonly CompiledRegistry[], practices: readonly PublishedRow[], registry: string, practice: string | undefined, purpose: string): string {
  const regs = registries.map((r) => `<option value="${esc(r.id)}"${r.id === registry ? ' selected' : ''}>${esc(r.registry.definition.title)}</option>`).join('');
  const options = practices.map((p) => `<option value="${esc(p.code)}"${p.code === practice ? ' selected' : ''}>${esc(p.name)} (${esc(p.code)})</option>`).join('');
  return `<form class="query" method="get" action="/scorecard"><label for="registry">Registry<select id="registry" name="registry">${regs}</select></label>
<label for="practice">Practice<select id="practice" name="practice">${options}</select></label>${purposeField(purpose)}<button type="submit">Show</button></form>`;
}
