import { CaregapsError, provisionalReason, type CompiledRegistry } from '@caregaps/core';
import { LEVELS, type AccessView, type OrganisationLevel, type SuppressionPolicy } from '@caregaps/access';
import { funnelOf, funnelSpec, publishedRows, type PublishedRow } from '@caregaps/report';
import { chartSvg } from './charts.js';
import { count, grossAchievement, percent } from './format.js';
import { esc, purposeField } from './html.js';

/** What a dashboard shows: one registry at one level of the organisation hierarchy. */
export interface DashboardQuery {
  level: OrganisationLevel;
  registry: string;
  /** The indicator whose funnel plot a practice-level dashboard draws (default: its first). */
  funnel?: string;
}

/** Reads `?level=&registry=` (defaults: practice, the first registry); unknown values are a usage error. */
export function dashboardQuery(query: Record<string, unknown>, registries: readonly CompiledRegistry[]): DashboardQuery {
  const level = (query['level'] ?? 'practice') as OrganisationLevel;
  if (!LEVELS.includes(level)) throw new CaregapsError('CG_USAGE', `level must be one of ${LEVELS.join(', ')}`);
  const registry = String(query['registry'] ?? registries[0]?.id ?? '');
  const compiled = registries.find((r) => r.id === registry);
  if (!compiled) throw new CaregapsError('CG_USAGE', `No registry named ${registry}`);
  const funnel = query['funnel'];
  if (funnel === undefined || funnel === '') return { level, registry };
  if (!compiled.indicatorIds.includes(String(funnel))) throw new CaregapsError('CG_USAGE', `Registry ${registry} has no indicator ${String(funnel)}`);
  return { level, registry, funnel: String(funnel) };
}

/**
 * The live part of a dashboard: the register and each indicator's achievement per organisation, from the access
 * layer's anonymised summary (small numbers suppressed, rates from published numbers), with provisional flags.
 */
export async function dashboardFragment(view: AccessView, registries: readonly CompiledRegistry[], suppression: SuppressionPolicy, query: DashboardQuery): Promise<string> {
  const compiled = registries.find((r) => r.id === query.registry)!;
  const table = await view.summary({ level: query.level, registry: query.registry });
  const isSuppressed = (v: Parameters<SuppressionPolicy['isSuppressed']>[0]) => suppression.isSuppressed(v);
  const lines = publishedRows(table.rows, () => null, isSuppressed);
  const provisional = compiled.provisional;
  const flag = (id: string) => ((provisional.indicators[id] ?? []).length ? ' <span class="provisional" title="provisional">(provisional)</span>' : '');
  const registerFlag = provisional.register.length ? ' <span class="provisional">(provisional)</span>' : '';
  const register = `<table id="register-table"><caption>${esc(compiled.registry.definition.title)}: register size and prevalence by ${esc(query.level)}${registerFlag}</caption>
<thead><tr><th scope="col">Organisation</th><th scope="col">Code</th><th scope="col" class="num">List size</th><th scope="col" class="num">On register</th><th scope="col" class="num">Prevalence</th></tr></thead>
<tbody>${lines
    .map(
      (l) =>
        `<tr data-organisation="${esc(l.code)}"><th scope="row">${esc(l.name)}</th><td>${esc(l.code)}</td><td class="num" data-measure="registered">${count(l.registered)}</td><td class="num" data-measure="on-register">${count(l.onRegister)}</td><td class="num">${percent(l.prevalence)}</td></tr>`,
    )
    .join('\n')}</tbody></table>`;
  const indicators = compiled.indicatorIds;
  const header = indicators.map((id) => `<th scope="col" class="num">${esc(id)}${flag(id)}</th>`).join('');
  const achievementTable = `<table id="achievement-table"><caption>Indicator achievement (QOF achievement = met ÷ (met + gap); gross = met ÷ (met + gap + excepted))</caption>
<thead><tr><th scope="col">Organisation</th>${header}</tr></thead>
<tbody>${lines
    .map((l) => {
      const cells = indicators.map((id) => {
        const c = l.indicators[id];
        if (!c) return '<td class="num">–</td>';
        return `<td class="num" data-indicator="${esc(id)}">${percent(c.achievement)}<br><small>gross ${percent(grossAchievement(c, isSuppressed))}; met ${count(c.met)}, gap ${count(c.gap)}, excepted ${count(c.excepted)}</small></td>`;
      });
      return `<tr data-organisation="${esc(l.code)}"><th scope="row">${esc(l.name)}</th>${cells.join('')}</tr>`;
    })
    .join('\n')}</tbody></table>`;
  const reasons = [
    ...(provisional.register.length ? [`<li>Register: ${esc(provisionalReason(provisional.register))}</li>`] : []),
    ...Object.entries(provisional.indicators)
      .filter(([, clusters]) => clusters.length)
      .map(([id, clusters]) => `<li>${esc(id)}: ${esc(provisionalReason(clusters))}</li>`),
  ];
  const about = `<p>As of ${esc(table.asOf)}, purpose ${esc(table.purpose)}; disclosure control ${esc(table.suppression)} (1–7 shown as *, other counts rounded to the nearest 5); patients left out by policy: ${count(table.excludedPatients)}.</p>`;
  const provisionalList = reasons.length ? `<h2>Provisional figures</h2><ul id="provisional">${reasons.join('')}</ul>` : '';
  const funnel = query.level === 'practice' ? await funnelFigure(view, compiled.id, query.funnel ?? indicators[0], lines, suppression, table.asOf) : '';
  return `${about}${register}${achievementTable}${funnel}${provisionalList}`;
}

/**
 * One indicator's funnel plot of the practices, as the population report draws it (the report's own functions), from
 * published numbers only: the practice rows already read and the ICB rows (one more audited summary).
 */
async function funnelFigure(view: AccessView, registry: string, indicator: string | undefined, practices: readonly PublishedRow[], suppression: SuppressionPolicy, asOf: string): Promise<string> {
  if (indicator === undefined) return '';
  const icb = await view.summary({ level: 'icb', registry });
  const rows = [...practices, ...publishedRows(icb.rows, () => null, (v) => suppression.isSuppressed(v))];
  const funnel = funnelOf({ asOf, rows }, registry, indicator, suppression);
  const heading = `<h2 id="funnel-heading">Variation between practices: ${esc(indicator)}</h2>`;
  if (!funnel) return `${heading}<p>No funnel plot: the overall numbers are suppressed or zero.</p>`;
  const svg = await chartSvg(funnelSpec(funnel, `${indicator}: achievement by practice list size`));
  const described = funnel.points.map((p) => `${esc(p.name)} ${(100 * p.p).toFixed(1)}% of ${p.n}`).join('; ');
  const left = [...funnel.notPlotted, ...funnel.empty];
  return `${heading}<figure class="chart" aria-labelledby="funnel-heading">${svg}<figcaption>Mean ${(100 * funnel.mean).toFixed(1)}% (95% and 99.8% control limits). Plotted: ${described || 'none'}.${left.length ? ` Not plotted (suppressed or empty): ${esc(left.join(', '))}.` : ''}</figcaption></figure>`;
}

/** The form that picks the level and registry (plain GET: works without script, bookmarkable). */
export function dashboardForm(registries: readonly CompiledRegistry[], query: DashboardQuery, purpose?: string): string {
  const levels = LEVELS.map((l) => `<option value="${l}"${l === query.level ? ' selected' : ''}>${l === 'icb' ? 'ICB' : l === 'pcn' ? 'PCN' : l[0]!.toUpperCase() + l.slice(1)}</option>`).join('');
  const regs = registries.map((r) => `<option value="${esc(r.id)}"${r.id === query.registry ? ' selected' : ''}>${esc(r.registry.definition.title)}</option>`).join('');
  const indicators = registries.find((r) => r.id === query.registry)?.indicatorIds ?? [];
  const funnels = indicators.map((id) => `<option value="${esc(id)}"${id === query.funnel ? ' selected' : ''}>${esc(id)}</option>`).join('');
  return `<form class="query" method="get" action="/dashboard"><label for="level">Level<select id="level" name="level">${levels}</select></label>
<label for="registry">Registry<select id="registry" name="registry">${regs}</select></label>
<label for="funnel">Funnel plot (practice level)<select id="funnel" name="funnel"><option value="">first indicator</option>${funnels}</select></label>${purposeField(purpose)}<button type="submit">Show</button></form>`;
}
