import type { OptOut } from '@caregaps/core';
import type { AccessPolicy, RecordItem } from '../policy.js';
import type { AccessRequest, Verdict } from '../types.js';
import { PATIENT_LEVEL } from './relationship.js';

/** Opt-outs that remove a patient from every secondary-use output, identifiable or aggregate. */
export const SECONDARY_USE_OPT_OUTS: readonly OptOut[] = ['secondary-use', 'national-data-opt-out', 'type-1'];

/**
 * Opt-outs. For secondary use, a patient with a secondary-use, national data or type 1 opt-out is refused (and so
 * left out of lists, exports and counts). For direct care no opt-out refuses anything; a shared-record opt-out
 * hides, from any organisation other than the patient's own practice, every record that organisation did not
 * itself send.
 */
export function optOutPolicy(options: { applyToAggregates?: boolean } = {}): AccessPolicy {
  const applyToAggregates = options.applyToAggregates !== false;
  return {
    meta: { name: 'opt-outs', version: '1.0.0', decides: 'whether opt-outs remove the patient from a secondary-use output or hide shared records', aggregates: 'by-opt-outs' },
    decide(request: AccessRequest): Verdict {
      const output = PATIENT_LEVEL.includes(request.activity) || request.activity === 'view-aggregate';
      if (request.purpose !== 'secondary-use' || !request.patient || !output) return { decision: 'not-applicable', rule: 'no-opt-out-applies' };
      if (request.activity === 'view-aggregate' && !applyToAggregates) return { decision: 'not-applicable', rule: 'aggregates-exempt' };
      const held = request.patient.optOuts.find((o) => SECONDARY_USE_OPT_OUTS.includes(o));
      return held ? { decision: 'deny', rule: `opt-out:${held}` } : { decision: 'allow', rule: 'no-secondary-use-opt-out' };
    },
    visible(request: AccessRequest, item: RecordItem): Verdict {
      const patient = request.patient;
      if (!patient?.optOuts.includes('shared-record')) return { decision: 'not-applicable', rule: 'no-shared-record-opt-out' };
      const viewer = request.principal.organisation;
      if (viewer === patient.practice || item.source === viewer) return { decision: 'allow', rule: 'own-organisation' };
      return { decision: 'deny', rule: 'opt-out:shared-record' };
    },
  };
}
