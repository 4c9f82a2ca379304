import { CaregapsError, isValidNhsNumber, type OptOut } from '@caregaps/core';
import { OPT_OUT_TYPES, type OptOutEntry } from '@caregaps/access';
import { esc } from './html.js';

/** What the opt-out forms post: an NHS number, a type and (to add) the day the resident opted out. */
export function optOutChange(form: Record<string, unknown>): { nhsNumber: string; type: OptOut; date?: string } {
  const nhsNumber = String(form['nhsNumber'] ?? '').replace(/\s+/g, '');
  if (!isValidNhsNumber(nhsNumber)) throw new CaregapsError('CG_USAGE', `Not a valid NHS number (10 digits with a correct check digit): ${nhsNumber}`);
  const type = String(form['type'] ?? '');
  if (!OPT_OUT_TYPES.includes(type as OptOut)) throw new CaregapsError('CG_USAGE', `Choose an opt-out type: ${OPT_OUT_TYPES.join(', ')}`);
  const date = String(form['date'] ?? '');
  return { nhsNumber, type: type as OptOut, ...(date ? { date } : {}) };
}

const DESCRIPTIONS: Record<OptOut, string> = {
  'shared-record': 'shared record: other organisations see only what they sent themselves',
  'secondary-use': 'secondary use: left out of planning and research outputs',
  'national-data-opt-out': 'national data opt-out: left out of planning and research outputs',
  'type-1': 'type 1: the practice’s data leaves it for direct care only',
};

function row(e: OptOutEntry): string {
  const action = e.removed
    ? `removed ${esc(e.removed.at.slice(0, 10))} by ${esc(e.removed.by)} (${esc(e.removed.organisation)})`
    : `<form method="post" action="/opt-outs/remove" class="inline"><input type="hidden" name="nhsNumber" value="${esc(e.nhsNumber)}"><input type="hidden" name="type" value="${esc(e.type)}"><button type="submit" aria-label="Remove the ${esc(e.type)} opt-out of ${esc(e.nhsNumber)}">Remove</button></form>`;
  return `<tr data-opt-out="${esc(e.id)}" class="${e.removed ? 'removed' : 'held'}"><th scope="row"><a href="/patients/${esc(e.nhsNumber)}">${esc(e.nhsNumber)}</a></th><td>${esc(e.type)}</td><td>${esc(e.date)}</td><td>${esc(e.recordedBy)} (${esc(e.organisation)}) at ${esc(e.recordedAt.slice(0, 16).replace('T', ' '))} UTC</td><td>${action}</td></tr>`;
}

/** The data controller's opt-out register: its patients' opt-outs (removed ones kept) and the form to record one. */
export function optOutsBody(entries: readonly OptOutEntry[], today: string): string {
  const table = entries.length
    ? `<table id="opt-out-table"><caption>Opt-outs of your registered patients, oldest first</caption>
<thead><tr><th scope="col">NHS number</th><th scope="col">Type</th><th scope="col">Opted out on</th><th scope="col">Recorded by</th><th scope="col">Status</th></tr></thead>
<tbody>${entries.map(row).join('\n')}</tbody></table>`
    : '<p>No opt-out of your registered patients is recorded in the register.</p>';
  const types = OPT_OUT_TYPES.map((t) => `<option value="${esc(t)}">${esc(DESCRIPTIONS[t])}</option>`).join('');
  const form = `<h2>Record an opt-out</h2><form method="post" action="/opt-outs" class="query">
<label for="nhsNumber">NHS number<input id="nhsNumber" name="nhsNumber" inputmode="numeric" autocomplete="off" pattern="[0-9 ]{10,12}" required></label>
<label for="type">Type<select id="type" name="type">${types}</select></label>
<label for="date">Opted out on<input id="date" name="date" type="date" value="${esc(today)}" max="${esc(today)}" required></label>
<button type="submit">Record opt-out</button></form>
<p>Opt-outs held here are added to those in the patient's record and apply to every list, count and record view at once. Each change is recorded in the audit log.</p>`;
  return table + form;
}
