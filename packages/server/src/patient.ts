import type { PatientRecordView, RecordEntry } from '@caregaps/access';
import type { CascadeExplanation } from '@caregaps/core';
import { renderSvg, type ChartSpec } from '@caregaps/report';
import { esc } from './html.js';

/** The London Care Record's headings, in its order; allergies and encounters only where the record has some. */
const HEADINGS: readonly [keyof PatientRecordView['categories'], string, 'always' | 'where-present'][] = [
  ['problems', 'Problems and diagnoses', 'always'],
  ['medications', 'Medications', 'always'],
  ['allergies', 'Allergies and adverse reactions', 'where-present'],
  ['results', 'Results', 'always'],
  ['encounters', 'Encounters and attendances', 'where-present'],
  ['procedures', 'Procedures, reviews and care plans', 'always'],
  ['immunisations', 'Immunisations', 'where-present'],
  ['other', 'Other entries', 'always'],
];

function valueOf(entry: RecordEntry): string {
  if (entry.values) return Object.entries(entry.values).map(([k, v]) => `${esc(k)} ${esc(v)}`).join(', ') + (entry.unit ? ` ${esc(entry.unit)}` : '');
  if (entry.value !== undefined) return `${esc(entry.value)}${entry.unit ? ` ${esc(entry.unit)}` : ''}`;
  return '';
}

function decided(cascade: CascadeExplanation | undefined): string {
  if (!cascade) return '';
  const facts = Object.entries(cascade.facts)
    .map(([name, f]) => `${esc(name)} = ${esc(f.value === null ? 'none' : f.value)}`)
    .join('; ');
  return `rule ${esc(cascade.decidedBy.rule)}: ${esc(cascade.decidedBy.action)}${facts ? ` — ${facts}` : ''}`;
}

/** One result code's values over time, oldest first, when it has at least two dated values. */
interface Series {
  label: string;
  unit: string;
  /** `component` names a part of a compound value (systolic, diastolic); '' for a single value. */
  points: { date: string; value: number; component: string; source: string }[];
}

function seriesOf(results: readonly RecordEntry[]): Series[] {
  const byCode = new Map<string, Series>();
  for (const e of results) {
    const parts: [string, number][] = e.values ? Object.entries(e.values) : e.value !== undefined ? [['', e.value]] : [];
    if (parts.length === 0) continue;
    const key = `${e.system}|${e.code}|${e.unit ?? ''}`;
    const series = byCode.get(key) ?? { label: e.term ?? e.code, unit: e.unit ?? '', points: [] };
    for (const [component, value] of parts) series.points.push({ date: e.date, value, component, source: e.sourceName });
    byCode.set(key, series);
  }
  return [...byCode.values()]
    .filter((s) => new Set(s.points.map((p) => p.date)).size >= 2)
    .map((s) => ({ ...s, points: [...s.points].sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : a.component < b.component ? -1 : 1)) }));
}

/** Results with values over time: a chart per result code (vega-lite, drawn to SVG on the server) and its values in words. */
async function valuesOverTime(results: readonly RecordEntry[]): Promise<string> {
  const figures: string[] = [];
  for (const [i, s] of seriesOf(results).entries()) {
    const compound = s.points.some((p) => p.component !== '');
    const spec = {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: `${s.label}${s.unit ? ` (${s.unit})` : ''}`,
      width: 360,
      height: 140,
      data: { values: s.points },
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'date', type: 'ordinal', title: 'Date', axis: { labelAngle: 0 } },
        y: { field: 'value', type: 'quantitative', title: s.unit || 'Value', scale: { zero: false } },
        ...(compound ? { color: { field: 'component', type: 'nominal', title: 'Component' } } : {}),
      },
    } as unknown as ChartSpec;
    const byDate = new Map<string, typeof s.points>();
    for (const p of s.points) byDate.set(p.date, [...(byDate.get(p.date) ?? []), p]);
    const described = [...byDate.entries()]
      .map(([date, ps]) => `${esc(date)}: ${ps.map((p) => `${p.component ? `${esc(p.component)} ` : ''}${esc(p.value)}`).join(', ')}${s.unit ? ` ${esc(s.unit)}` : ''} (${esc(ps[0]!.source)})`)
      .join('; ');
    figures.push(`<figure class="chart" aria-labelledby="series-${i}"><figcaption id="series-${i}">${esc(s.label)} over time: ${described}.</figcaption>${await renderSvg(spec)}</figure>`);
  }
  return figures.length ? `<h4>Values over time</h4>${figures.join('')}` : '';
}

/** A patient's registry statuses with explanations and record entries by heading, each with its source. */
export async function patientBody(view: PatientRecordView): Promise<string> {
  const statuses =
    view.registries === null
      ? '<p>Registry statuses are not shared with your organisation.</p>'
      : view.registries.length === 0
        ? '<p>Not on any register.</p>'
        : view.registries
            .map((r) => {
              const rows = Object.entries(r.indicators)
                .map(([id, status]) => {
                  const why = r.explanation?.indicators[id];
                  const explanation = why ? (status === 'met' || status === 'gap' ? decided(why.numerator) : decided(why.denominator)) : '';
                  return `<tr><th scope="row">${esc(id)}</th><td class="status-${esc(status)}">${esc(status)}</td><td>${explanation}</td></tr>`;
                })
                .join('');
              return `<table class="statuses" data-registry="${esc(r.registry)}"><caption>${esc(r.registry)}: ${r.onRegister ? 'on the register' : 'not on the register'}</caption>
<thead><tr><th scope="col">Indicator</th><th scope="col">Status</th><th scope="col">Why (deciding rule and facts read)</th></tr></thead><tbody>${rows}</tbody></table>`;
            })
            .join('\n');
  const sections: string[] = [];
  for (const [key, heading, when] of HEADINGS) {
    const entries = view.categories[key] ?? [];
    if (entries.length === 0) {
      if (when === 'always') sections.push(`<h3>${esc(heading)}</h3><p>None shown.</p>`);
      continue;
    }
    const rows = entries
      .map(
        (e) =>
          `<tr><td>${esc(e.date)}</td><td>${esc(e.term ?? e.code)}</td><td>${esc(e.system)} ${esc(e.code)}</td><td class="num">${valueOf(e)}</td><td>${esc(e.sourceName)} (${esc(e.source)})</td></tr>`,
      )
      .join('');
    const table = `<table data-category="${esc(key)}"><thead><tr><th scope="col">Date</th><th scope="col">Entry</th><th scope="col">Code</th><th scope="col" class="num">Value</th><th scope="col">Source</th></tr></thead><tbody>${rows}</tbody></table>`;
    sections.push(`<h3>${esc(heading)}</h3>${table}${key === 'results' ? await valuesOverTime(entries) : ''}`);
  }
  return `<p>Registered at ${esc(view.practice)}; statuses as of ${esc(view.asOf)}.</p>
<h2>Registry statuses</h2>${statuses}
<h2>Joined-up record</h2>${sections.join('\n')}`;
}
