import { CaregapsError } from '@caregaps/core';
import type { AccessView, AuditReportEntry } from '@caregaps/access';
import { esc } from './html.js';

/** Which access report: the signed-in data controller's own organisation, or one patient's (by NHS number). */
export type AuditQuery = { organisation: string } | { patient: string };

/** Reads `?patient=<NHS number>`; without it, the report of the viewer's own organisation. */
export function auditQuery(query: Record<string, unknown>, organisation: string): AuditQuery {
  const patient = query['patient'];
  if (patient === undefined || patient === '') return { organisation };
  if (typeof patient !== 'string' || !/^\d{10}$/.test(patient)) throw new CaregapsError('CG_USAGE', 'An NHS number is 10 digits');
  return { patient };
}

/**
 * An access report through the access layer (itself an audited access), which cuts each entry down to what the
 * subject may know: in an organisation's report, only its own patients' NHS numbers.
 */
export async function auditFragment(view: AccessView, query: AuditQuery): Promise<string> {
  const events = await view.auditReport(query);
  const patientCell = (e: AuditReportEntry) =>
    [e.patients.length ? e.patients.map(esc).join(', ') : '', e.rowCount !== undefined ? `${esc(e.rowCount)} row${e.rowCount === 1 ? '' : 's'}` : ''].filter(Boolean).join('; ');
  const rows = events
    .slice()
    .reverse()
    .map(
      (e) =>
        `<tr><td>${esc(e.time)}</td><td>${esc(e.user)} (${esc(e.roles.join(', '))}, ${esc(e.organisation)})</td><td>${esc(e.purpose)}</td><td>${esc(e.activity)}</td><td>${esc(e.resource)}</td><td>${patientCell(e)}</td><td>${esc(e.decision)}</td><td>${esc(e.policy)}: ${esc(e.rule)}</td></tr>`,
    )
    .join('\n');
  const title = 'patient' in query ? `Every access to the record of ${esc(query.patient)}` : `Accesses by ${esc(view.principal.organisation)}'s users and to its patients`;
  return `<table id="audit-table"><caption>${title} (${events.length}, newest first)</caption>
<thead><tr><th scope="col">Time (UTC)</th><th scope="col">User</th><th scope="col">Purpose</th><th scope="col">Activity</th><th scope="col">Resource</th><th scope="col">Patient or rows</th><th scope="col">Decision</th><th scope="col">Decided by</th></tr></thead>
<tbody>${rows}</tbody></table>`;
}

/** The form that asks for one patient's access report. */
export function auditForm(query: AuditQuery): string {
  const value = 'patient' in query ? query.patient : '';
  return `<form class="query" method="get" action="/audit"><label for="patient">Patient's NHS number (empty: your organisation's report)<input id="patient" name="patient" inputmode="numeric" pattern="\\d{10}" value="${esc(value)}"></label><button type="submit">Show</button></form>`;
}
