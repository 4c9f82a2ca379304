import type { ChainedAuditEvent } from './audit.js';

/**
 * One line of an access report: who did what, when, why and with what decision, and which of the report's own
 * patients it touched. Never another organisation's patient, never a list hash (a short list's hash can be
 * reversed by trying NHS numbers), never clinical content.
 */
export type AuditReportEntry = Pick<ChainedAuditEvent, 'seq' | 'id' | 'time' | 'user' | 'roles' | 'organisation' | 'purpose' | 'activity' | 'resource' | 'decision' | 'policy' | 'rule'> & {
  /** The report's patients this access touched (for a patient's report: that patient; else the controller's). */
  patients: string[];
  /** For the controller's own users' lists and exports: how many rows its user was given. */
  rowCount?: number;
  /** For a controller's report on an organisation: the organisation, when it is the controller itself. */
  subjectOrganisation?: string;
};

/** Whose accesses a report shows: one patient's, or one data controller's (its users' and its patients'). */
export type ReportSubject = { patient: string } | { organisation: string; registeredAt: (nhsNumber: string) => string | undefined };

function touched(event: ChainedAuditEvent): string[] {
  const all = [...(event.patient === undefined ? [] : [event.patient]), ...(event.patients ?? [])];
  return [...new Set(all)];
}

/** The entries a subject may see, each cut down to what that subject may know (DESIGN §5). */
export function minimisedReport(events: Iterable<ChainedAuditEvent>, subject: ReportSubject): AuditReportEntry[] {
  const report: AuditReportEntry[] = [];
  for (const event of events) {
    const patients = touched(event);
    let theirs: string[];
    let ownUser = false;
    if ('patient' in subject) {
      if (!patients.includes(subject.patient)) continue;
      theirs = [subject.patient];
    } else {
      ownUser = event.organisation === subject.organisation;
      theirs = patients.filter((nhs) => subject.registeredAt(nhs) === subject.organisation);
      if (!ownUser && theirs.length === 0 && event.subjectOrganisation !== subject.organisation) continue;
    }
    const entry: AuditReportEntry = {
      seq: event.seq,
      id: event.id,
      time: event.time,
      user: event.user,
      roles: [...event.roles],
      organisation: event.organisation,
      purpose: event.purpose,
      activity: event.activity,
      resource: event.resource,
      decision: event.decision,
      policy: event.policy,
      rule: event.rule,
      patients: theirs,
    };
    if (ownUser && event.rowCount !== undefined) entry.rowCount = event.rowCount;
    if (!('patient' in subject) && event.subjectOrganisation === subject.organisation) entry.subjectOrganisation = event.subjectOrganisation;
    report.push(entry);
  }
  return report;
}
