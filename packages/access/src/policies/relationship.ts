import type { AccessPolicy, ListScope } from '../policy.js';
import type { AccessRequest, Activity, Verdict } from '../types.js';

/** A care team: its id, the organisation it belongs to, and the NHS numbers of the patients under its care. */
export interface CareTeam {
  id: string;
  organisation: string;
  patients: readonly string[];
}

/** The activities that read identifiable data about a patient. */
export const PATIENT_LEVEL: readonly Activity[] = ['view-patient-list', 'export-patient-list', 'view-patient-record'];

/** Whether a patient is registered at a practice on a day (registration not ended, not dead). */
function registeredAt(request: AccessRequest, practice: string): boolean {
  const p = request.patient;
  if (!p || p.practice !== practice) return false;
  if (p.registeredFrom > request.today) return false;
  if (p.registeredTo && p.registeredTo <= request.today) return false;
  return !(p.deathDate && p.deathDate <= request.today);
}

/**
 * Legitimate relationship: identifiable data about a patient needs the patient to be registered at the user's
 * organisation, or to be under the care of a care team the user belongs to (a team of the user's organisation).
 * A data controller's audit report needs the user to act for that organisation. Population requests are not its
 * business. A patient that does not exist has no relationship, exactly as a forbidden one.
 */
export function relationshipPolicy(careTeams: readonly CareTeam[] = []): AccessPolicy {
  const teamsOf = new Map<string, CareTeam[]>();
  for (const team of careTeams) {
    for (const nhs of team.patients) {
      const list = teamsOf.get(nhs);
      if (list) list.push(team);
      else teamsOf.set(nhs, [team]);
    }
  }
  return {
    meta: { name: 'legitimate-relationship', version: '1.0.0', decides: 'whether the user has a care relationship with the patient (registration or care team)', aggregates: 'by-opt-outs' },
    decide(request: AccessRequest): Verdict {
      // A data controller's own report or opt-out register.
      const controllerWide = request.activity === 'view-audit-report' || request.activity === 'manage-opt-outs';
      if (controllerWide && request.organisation !== undefined) {
        return request.organisation === request.principal.organisation
          ? { decision: 'allow', rule: 'data-controller' }
          : { decision: 'deny', rule: 'not-data-controller' };
      }
      const aboutPatient = PATIENT_LEVEL.includes(request.activity) || controllerWide;
      if (!aboutPatient || request.nhsNumber === undefined) return { decision: 'not-applicable', rule: 'population-request' };
      if (!request.patient) return { decision: 'deny', rule: 'no-legitimate-relationship' };
      if (registeredAt(request, request.principal.organisation)) return { decision: 'allow', rule: 'registered-at-organisation' };
      // An access report is the registered practice's (the data controller's) to give; its opt-outs its to record.
      if (controllerWide) return { decision: 'deny', rule: 'no-legitimate-relationship' };
      const member = new Set(request.principal.careTeams ?? []);
      const team = teamsOf.get(request.patient.nhsNumber)?.find((t) => member.has(t.id) && t.organisation === request.principal.organisation);
      if (team) return { decision: 'allow', rule: `care-team:${team.id}` };
      return { decision: 'deny', rule: 'no-legitimate-relationship' };
    },
    // A list row needs registration at the user's organisation or one of the user's care teams there.
    listScope(request: AccessRequest): ListScope | undefined {
      if (request.activity !== 'view-patient-list' && request.activity !== 'export-patient-list') return undefined;
      const member = new Set(request.principal.careTeams ?? []);
      const patients = careTeams.filter((t) => member.has(t.id) && t.organisation === request.principal.organisation).flatMap((t) => t.patients);
      return { practices: [request.principal.organisation], patients };
    },
  };
}
