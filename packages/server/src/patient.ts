import type { PatientRecordView, RecordEntry } from '@caregaps/access';
import type { CascadeExplanation } from '@caregaps/core';
import { esc } from './html.js';

const HEADINGS: readonly [keyof PatientRecordView['categories'], string][] = [
  ['problems', 'Problems and diagnoses'],
  ['medications', 'Medications'],
  ['results', 'Results'],
  ['procedures', 'Procedures, reviews and care plans'],
  ['immunisations', 'Immunisations'],
  ['other', 'Other entries'],
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

/** A patient's registry statuses with explanations and record entries by heading, each with its source. */
export function patientBody(view: PatientRecordView): string {
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
  const sections = HEADINGS.map(([key, heading]) => {
    const entries = view.categories[key];
    if (entries.length === 0) return `<h3>${esc(heading)}</h3><p>None shown.</p>`;
    const rows = entries
      .map(
        (e) =>
          `<tr><td>${esc(e.date)}</td><td>${esc(e.term ?? e.code)}</td><td>${esc(e.system)} ${esc(e.code)}</td><td class="num">${valueOf(e)}</td><td>${esc(e.sourceName)} (${esc(e.source)})</td></tr>`,
      )
      .join('');
    return `<h3>${esc(heading)}</h3><table data-category="${esc(key)}"><thead><tr><th scope="col">Date</th><th scope="col">Entry</th><th scope="col">Code</th><th scope="col" class="num">Value</th><th scope="col">Source</th></tr></thead><tbody>${rows}</tbody></table>`;
  }).join('\n');
  return `<p>Registered at ${esc(view.practice)}; statuses as of ${esc(view.asOf)}.</p>
<h2>Registry statuses</h2>${statuses}
<h2>Joined-up record</h2>${sections}`;
}
