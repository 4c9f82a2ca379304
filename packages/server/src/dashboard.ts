import { CaregapsError, provisionalReason, type CompiledRegistry } from '@caregaps/core';
import { LEVELS, type AccessView, type OrganisationLevel, type Published, type SummaryRow, type SuppressionPolicy } from '@caregaps/access';
import { achievement, count, percent } from './format.js';
import { esc } from './html.js';

/** What a dashboard shows: one registry at one level of the organisation hierarchy. */
export interface DashboardQuery {
  level: OrganisationLevel;
  registry: string;
}

/** Reads `?level=&registry=` (defaults: practice, the first registry); unknown values are a usage error. */
export function dashboardQuery(query: Record<string, unknown>, registries: readonly CompiledRegistry[]): DashboardQuery {
  const level = (query['level'] ?? 'practice') as OrganisationLevel;
  if (!LEVELS.includes(level)) throw new CaregapsError('CG_USAGE', `level must be one of ${LEVELS.join(', ')}`);
  const registry = String(query['registry'] ?? registries[0]?.id ?? '');
  if (!registries.some((r) => r.id === registry)) throw new CaregapsError('CG_USAGE', `No registry named ${registry}`);
  return { level, registry };
}

interface OrganisationLine {
  code: string;
  name: string;
  registered: Published;
  onRegister: Published;
  prevalence: Published | null;
  indicators: Map<string, Record<'met' | 'gap' | 'excepted' | 'not-applicable', Published>>;
}

function linesOf(rows: readonly SummaryRow[]): OrganisationLine[] {
  const lines = new Map<string, OrganisationLine>();
  for (const row of rows) {
    let line = lines.get(row.organisation);
    if (!line) {
      line = { code: row.organisation, name: row.name, registered: 0, onRegister: 0, prevalence: null, indicators: new Map() };
      lines.set(row.organisation, line);
    }
    if (row.measure === 'registered') line.registered = row.count;
    else if (row.measure === 'on-register') {
      line.onRegister = row.count;
      line.prevalence = row.rate;
    } else if (row.indicator !== null) {
      let counts = line.indicators.get(row.indicator);
      if (!counts) line.indicators.set(row.indicator, (counts = { met: 0, gap: 0, excepted: 0, 'not-applicable': 0 }));
      counts[row.measure] = row.count;
    }
  }
  return [...lines.values()];
}

/**
 * The live part of a dashboard: the register and each indicator's achievement per organisation, from the access
 * layer's anonymised summary (small numbers suppressed, rates from published numbers), with provisional flags.
 */
export async function dashboardFragment(view: AccessView, registries: readonly CompiledRegistry[], suppression: SuppressionPolicy, query: DashboardQuery): Promise<string> {
  const compiled = registries.find((r) => r.id === query.registry)!;
  const table = await view.summary({ level: query.level, registry: query.registry });
  const lines = linesOf(table.rows);
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
        const c = l.indicators.get(id);
        if (!c) return '<td class="num">–</td>';
        const a = achievement(c, suppression);
        return `<td class="num" data-indicator="${esc(id)}">${percent(a.achievement)}<br><small>gross ${percent(a.gross)}; met ${count(c.met)}, gap ${count(c.gap)}, excepted ${count(c.excepted)}</small></td>`;
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
  return `${about}${register}${achievementTable}${provisionalList}`;
}

/** The form that picks the level and registry (plain GET: works without script, bookmarkable). */
export function dashboardForm(registries: readonly CompiledRegistry[], query: DashboardQuery): string {
  const levels = LEVELS.map((l) => `<option value="${l}"${l === query.level ? ' selected' : ''}>${l === 'icb' ? 'ICB' : l === 'pcn' ? 'PCN' : l[0]!.toUpperCase() + l.slice(1)}</option>`).join('');
  const regs = registries.map((r) => `<option value="${esc(r.id)}"${r.id === query.registry ? ' selected' : ''}>${esc(r.registry.definition.title)}</option>`).join('');
  return `<form class="query" method="get" action="/dashboard"><label for="level">Level<select id="level" name="level">${levels}</select></label>
<label for="registry">Registry<select id="registry" name="registry">${regs}</select></label><button type="submit">Show</button></form>`;
}
