/**
 * The report page: one self-contained HTML file (inline CSS, inline SVG, a few lines of inline script to sort
 * tables) with a Content-Security-Policy that forbids every network request.
 * @module
 */
import { LEVELS, type OrganisationLevel, type Published } from '@caregaps/access';
import { POSITION_LABELS } from './charts.js';
import { POSITIONS } from './limits.js';
import { rowsOf, type PublishedRow } from './model.js';
import type { ReportChart, ReportModel, ReportRegistry } from './report.js';

const LEVEL_TITLES: Record<OrganisationLevel, string> = { icb: 'ICB', borough: 'Borough', pcn: 'PCN', practice: 'Practice' };
/** Levels from the top down, as the tables list them. */
const TOP_DOWN: readonly OrganisationLevel[] = [...LEVELS].reverse();

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const integer = new Intl.NumberFormat('en-GB');

function countCell(value: Published): string {
  if (typeof value === 'string') return `<td class="num suppressed" data-sort="" title="suppressed (small number)">${escapeHtml(value)}</td>`;
  return `<td class="num" data-sort="${value}">${integer.format(value)}</td>`;
}

function rateText(value: Published | null): string {
  if (value === null) return '–';
  if (typeof value === 'string') return escapeHtml(value);
  return `${value.toFixed(1)}%`;
}

function rateCell(value: Published | null): string {
  const sort = typeof value === 'number' ? String(value) : '';
  const cls = typeof value === 'string' ? 'num suppressed' : 'num';
  return `<td class="${cls}" data-sort="${sort}">${rateText(value)}</td>`;
}

function header(columns: readonly { label: string; title?: string; numeric?: boolean }[], groups = ''): string {
  const cells = columns.map(
    (c, i) => `<th scope="col" data-col="${i}"${c.numeric ? ' class="num"' : ''}${c.title ? ` title="${escapeHtml(c.title)}"` : ''}><button type="button">${escapeHtml(c.label)}</button></th>`,
  );
  return `<thead>${groups}<tr>${cells.join('')}</tr></thead>`;
}

function groupRow(level: OrganisationLevel, span: number): string {
  return `<tr class="group"><th colspan="${span}" scope="rowgroup">${LEVEL_TITLES[level]}</th></tr>`;
}

function orgCells(row: PublishedRow): string {
  return `<th scope="row" data-sort="${escapeHtml(row.name)}"><span class="name">${escapeHtml(row.name)}</span> <span class="code">${escapeHtml(row.code)}</span></th><td data-sort="${escapeHtml(row.parent ?? '')}">${escapeHtml(row.parent ?? '')}</td>`;
}

/** The short name of a registry: its title up to the first dash (the rest names the QOF register). */
export function shortTitle(title: string): string {
  return title.split(' — ')[0]!.trim();
}

/** Register sizes and prevalence: one row per organisation, a pair of columns per registry. */
function prevalenceTable(model: ReportModel): string {
  const columns = [
    { label: 'Organisation' },
    { label: 'Part of' },
    { label: 'List size', title: 'patients registered on the achievement date', numeric: true },
    ...model.registries.flatMap((r) => [
      { label: 'Register', title: `${r.title}: patients on the register`, numeric: true },
      { label: 'Prevalence', title: `${r.title}: register ÷ list size`, numeric: true },
    ]),
  ];
  const groups = `<tr><th colspan="3"></th>${model.registries.map((r) => `<th colspan="2" class="registry-head" title="${escapeHtml(r.title)}">${escapeHtml(shortTitle(r.title))}</th>`).join('')}</tr>`;
  const bodies = TOP_DOWN.map((level) => {
    const byRegistry = model.registries.map((r) => rowsOf(model.current, level, r.id));
    const first = byRegistry[0] ?? [];
    if (first.length === 0) return '';
    const rows = first.map((row) => {
      const cells = byRegistry.map((rows) => {
        const r = rows.find((x) => x.code === row.code);
        return r ? countCell(r.onRegister) + rateCell(r.prevalence) : '<td></td><td></td>';
      });
      return `<tr>${orgCells(row)}${countCell(row.registered)}${cells.join('')}</tr>`;
    });
    return `<tbody data-level="${level}">${groupRow(level, columns.length)}${rows.join('')}</tbody>`;
  });
  return `<div class="scroll"><table class="sortable" id="table-prevalence">${header(columns, groups)}${bodies.join('')}</table></div>`;
}

/** Achievement for one registry: one row per organisation, a column per indicator (achievement, met/denominator, excepted). */
function achievementTable(model: ReportModel, registry: ReportRegistry): string {
  const columns = [
    { label: 'Organisation' },
    { label: 'Part of' },
    { label: 'Register', numeric: true },
    ...registry.indicators.map((id) => ({ label: registry.provisional[id] ? `${id} *` : id, title: registry.indicatorTitles[id] ?? id, numeric: true })),
  ];
  const bodies = TOP_DOWN.map((level) => {
    const rows = rowsOf(model.current, level, registry.id);
    if (rows.length === 0) return '';
    const lines = rows.map((row) => {
      const cells = registry.indicators.map((id) => {
        const e = row.indicators[id];
        if (!e) return '<td class="num" data-sort="">–</td>';
        const sort = typeof e.achievement === 'number' ? String(e.achievement) : '';
        const cls = typeof e.achievement === 'string' ? 'num suppressed' : 'num';
        const show = (v: Published) => (typeof v === 'string' ? escapeHtml(v) : integer.format(v));
        return `<td class="${cls}" data-sort="${sort}"><span class="rate">${rateText(e.achievement)}</span><span class="detail">${show(e.met)} / ${show(e.denominator)} · exc ${show(e.excepted)}</span></td>`;
      });
      return `<tr>${orgCells(row)}${countCell(row.onRegister)}${cells.join('')}</tr>`;
    });
    return `<tbody data-level="${level}">${groupRow(level, columns.length)}${lines.join('')}</tbody>`;
  });
  const legend = registry.indicators
    .map((id) => {
      const provisional = registry.provisional[id] ? ` <em class="provisional">* provisional: ${escapeHtml(registry.provisional[id])}</em>` : '';
      return `<li><b>${escapeHtml(id)}</b> ${escapeHtml(registry.indicatorTitles[id] ?? '')}${provisional}</li>`;
    })
    .join('');
  return `<section class="registry" id="achievement-${escapeHtml(registry.id)}"><h3>${escapeHtml(registry.title)}</h3><ul class="indicators">${legend}</ul><div class="scroll"><table class="sortable" id="table-achievement-${escapeHtml(registry.id)}">${header(columns)}${bodies.join('')}</table></div></section>`;
}

function chartFigure(chart: ReportChart, caption: string): string {
  const svg = chart.svg.replace(/^<svg /, `<svg role="img" aria-label="${escapeHtml(chart.title)}" `);
  return `<figure class="chart" id="${escapeHtml(chart.id)}">${svg}<figcaption>${caption}</figcaption></figure>`;
}

function funnelCaption(f: ReportModel['funnels'][number]): string {
  const { funnel } = f;
  const name = (code: string) => funnel.points.find((p) => p.code === code)?.name ?? code;
  const parts: string[] = [];
  for (const position of POSITIONS) {
    if (position === 'within') continue;
    const codes = funnel.points.filter((p) => p.position === position).map((p) => `${escapeHtml(name(p.code))} (${escapeHtml(p.code)})`);
    if (codes.length) parts.push(`<span class="pos-${position}">${escapeHtml(POSITION_LABELS[position])}: ${codes.join(', ')}</span>`);
  }
  if (parts.length === 0) parts.push('Every plotted practice is within the 95% limits.');
  if (funnel.notPlotted.length) parts.push(`${funnel.notPlotted.length} practice${funnel.notPlotted.length === 1 ? '' : 's'} not plotted: suppressed numbers.`);
  if (funnel.empty.length) parts.push(`${funnel.empty.length} with no one in the denominator.`);
  return `${escapeHtml(f.title.replace(/\.+$/, ''))}. ${parts.join(' ')}`;
}

function trendTable(model: ReportModel, registry: ReportRegistry): string {
  const columns = [{ label: 'Indicator' }, { label: 'Organisation' }, ...model.dates.map((d) => ({ label: d, numeric: true }))];
  const lines: string[] = [];
  for (const indicator of registry.indicators) {
    for (const level of ['icb', 'borough'] as const) {
      const perDate = model.snapshots.map((s) => rowsOf(s, level, registry.id));
      for (const row of perDate[perDate.length - 1] ?? []) {
        const cells = perDate.map((rows) => rateCell(rows.find((r) => r.code === row.code)?.indicators[indicator]?.achievement ?? null));
        lines.push(`<tr><th scope="row" data-sort="${escapeHtml(indicator)}">${escapeHtml(indicator)}</th><td data-sort="${escapeHtml(row.name)}">${escapeHtml(row.name)}</td>${cells.join('')}</tr>`);
      }
    }
  }
  return `<div class="scroll"><table class="sortable" id="table-trend-${escapeHtml(registry.id)}"><caption>${escapeHtml(registry.title)}: achievement by date</caption>${header(columns)}<tbody>${lines.join('')}</tbody></table></div>`;
}

function list(items: readonly string[]): string {
  return `<ul>${items.map((i) => `<li>${i}</li>`).join('')}</ul>`;
}

const STYLE = `
:root{--ink:#1d2430;--muted:#5b6472;--line:#d9dde3;--band:#f4f6f8;--accent:#005eb8}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;color:var(--ink);background:#fff}
header{background:var(--accent);color:#fff;padding:18px 28px}
header h1{margin:0 0 4px;font-size:24px}
header p{margin:0;opacity:.92}
nav{padding:8px 28px;border-bottom:1px solid var(--line);background:var(--band)}
nav a{margin-right:18px;color:var(--accent);text-decoration:none;font-weight:600}
main{padding:0 28px 40px;max-width:1500px}
h2{margin:32px 0 8px;font-size:20px;border-bottom:2px solid var(--accent);padding-bottom:4px}
h3{margin:22px 0 6px;font-size:16px}
p.lead{color:var(--muted);margin:4px 0 12px;max-width:980px}
.scroll{overflow-x:auto;border:1px solid var(--line);border-radius:4px}
table{border-collapse:collapse;width:100%;font-size:13px}
caption{text-align:left;font-weight:600;padding:6px 8px}
th,td{padding:4px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top;white-space:nowrap}
thead th{background:#eef1f5}
th.registry-head{text-align:center;white-space:normal;border-left:1px solid var(--line)}
thead th button{all:unset;cursor:pointer;font-weight:600}
thead th[aria-sort=ascending] button::after{content:" ▲"}
thead th[aria-sort=descending] button::after{content:" ▼"}
tbody th{font-weight:400}
tr.group th{background:var(--band);font-weight:700;color:var(--accent)}
.num{text-align:right;font-variant-numeric:tabular-nums}
.suppressed{color:var(--muted)}
.code{color:var(--muted);font-size:11px}
.rate{display:block;font-weight:600}
.detail{display:block;color:var(--muted);font-size:11px}
ul.indicators{margin:0 0 8px;padding-left:18px;color:var(--muted);font-size:12px}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:16px}
figure.chart{margin:0;border:1px solid var(--line);border-radius:4px;padding:8px}
figure.chart svg{max-width:100%;height:auto}
figcaption{font-size:12px;color:var(--muted)}
figcaption span{display:block}
.pos-below-99\\.8{color:#b2182b;font-weight:600}.pos-above-99\\.8{color:#2166ac;font-weight:600}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:0}
dl.meta dt{font-weight:600}
`;

const SORT_SCRIPT = `
for (const table of document.querySelectorAll('table.sortable')) {
  table.querySelectorAll('thead th[data-col]').forEach((th) => {
    th.querySelector('button').addEventListener('click', () => {
      const col = Number(th.dataset.col);
      const dir = th.getAttribute('aria-sort') === 'ascending' ? -1 : 1;
      table.querySelectorAll('thead th').forEach((h) => h.removeAttribute('aria-sort'));
      th.setAttribute('aria-sort', dir === 1 ? 'ascending' : 'descending');
      for (const body of table.tBodies) {
        const rows = [...body.rows].filter((r) => !r.classList.contains('group'));
        const key = (r) => r.cells[col].dataset.sort ?? r.cells[col].textContent;
        rows.sort((a, b) => {
          const x = key(a), y = key(b);
          if (x === '' || y === '') return x === y ? 0 : x === '' ? 1 : -1;
          const nx = Number(x), ny = Number(y);
          return dir * (Number.isNaN(nx) || Number.isNaN(ny) ? x.localeCompare(y) : nx - ny);
        });
        for (const r of rows) body.appendChild(r);
      }
    });
  });
}
`;

/** The whole page. */
export function renderHtml(model: ReportModel): string {
  const dates = model.dates.length > 1 ? `; trends over ${model.dates.length} achievement dates` : '';
  const achievement = model.registries.map((r) => achievementTable(model, r)).join('');
  const funnels = model.funnels.map((f) => chartFigure(f, funnelCaption(f))).join('');
  const missing = model.missingFunnels.length
    ? `<p class="lead">No funnel plot for ${model.missingFunnels.map((m) => `${escapeHtml(m.indicator)} (${escapeHtml(m.reason)})`).join(', ')}.</p>`
    : '';
  const trends =
    model.dates.length > 1
      ? `<div class="charts">${model.trends.map((t) => chartFigure(t, escapeHtml(t.title))).join('')}</div>${model.registries.map((r) => trendTable(model, r)).join('')}`
      : `<p class="lead">One achievement date only: give more with <code>--trend</code> (for example the last day of each quarter) to see trends.</p>`;
  const notes: string[] = [
    `Counts below national level are published with ${escapeHtml(model.suppression.name)} ${escapeHtml(model.suppression.version)}: ${escapeHtml(model.suppression.decides)}. A suppressed number shows as <b>*</b>; every rate is computed from the published numbers, and is suppressed when a number it needs is.`,
    `Patients with a secondary-use, national data or type 1 opt-out are left out of every figure (${typeof model.optedOut === 'string' ? escapeHtml(model.optedOut) : integer.format(model.optedOut)} patients, published the same way).`,
    'Achievement is met ÷ (met + gap): patients excepted by a personalised care adjustment are outside the denominator, as in QOF.',
    'Funnel plots: each point is a practice, its achievement against its denominator. The control limits are p ± z·√(p(1−p)/n) around the overall achievement p, with z = 1.96 (95%) and 3.09 (99.8%). A practice outside the 99.8% limits is unlikely to differ by chance alone. Practices whose numbers are suppressed are not plotted.',
  ];
  if (model.quarantined.length) notes.push(`Input lines refused and quarantined: ${model.quarantined.map((q) => `${escapeHtml(q.code)} ${q.count}`).join(', ')}.`);
  if (model.organisationProblems.length) notes.push(`Organisation records not used as given: ${model.organisationProblems.map((p) => `${escapeHtml(p.code)} (${escapeHtml(p.reason)})`).join('; ')}.`);
  if (model.unmappedPractices.length) notes.push(`Practices not in the organisation records (counted under "(unmapped)"): ${model.unmappedPractices.map(escapeHtml).join(', ')}.`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(model.title)} — ${escapeHtml(model.asOf)}</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>${escapeHtml(model.title)}</h1><p>Achievement date ${escapeHtml(model.asOf)}${dates}. Anonymised: small numbers suppressed, other counts rounded to the nearest 5.</p></header>
<nav><a href="#prevalence">Registers</a><a href="#achievement">Achievement</a><a href="#variation">Variation</a><a href="#trends">Trends</a><a href="#method">About these figures</a></nav>
<main>
<section id="prevalence"><h2>Register sizes and prevalence</h2><p class="lead">Patients on each register and prevalence (register ÷ list size) by ICB, borough, PCN and practice. Click a column to sort.</p>${prevalenceTable(model)}</section>
<section id="achievement"><h2>Indicator achievement</h2><p class="lead">Achievement (met ÷ (met + gap)), with met / denominator and exceptions, by organisation. Click a column to sort.</p>${achievement}</section>
<section id="variation"><h2>Variation between practices</h2><p class="lead">Funnel plots of practice achievement against denominator with 95% and 99.8% control limits.</p>${missing}<div class="charts">${funnels}</div></section>
<section id="trends"><h2>Trends</h2>${trends}</section>
<section id="method"><h2>About these figures</h2>${list(notes)}</section>
</main>
<script>${SORT_SCRIPT}</script>
</body>
</html>
`;
}
