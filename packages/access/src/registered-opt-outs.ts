import { withHeldOptOuts, type OptOutRegister } from './opt-out-register.js';
import type { ResultsSource } from './source.js';
import type { AccessPatient } from './types.js';

/**
 * The results source with the register's opt-outs added to each patient's own (from the patient record): every
 * policy decision, list and count then honours an opt-out the moment it is recorded. A source that already adds this
 * register's opt-outs itself (its `optOutRegister`, e.g. `withAccess`'s engine source, whose population index must
 * see them) is used as it is; any other is wrapped, without its population index, which would not know them.
 */
export function withRegisteredOptOuts(source: ResultsSource, register: OptOutRegister): ResultsSource {
  if (source.optOutRegister === register) return source;
  const merge = (patient: AccessPatient): AccessPatient => withHeldOptOuts(patient, register);
  return {
    get asOf() {
      return source.asOf;
    },
    get organisations() {
      return source.organisations;
    },
    registries: () => source.registries(),
    *patients() {
      for (const patient of source.patients()) yield merge(patient);
    },
    patient: (nhsNumber) => {
      const patient = source.patient(nhsNumber);
      return patient && merge(patient);
    },
    statuses: (nhsNumber, options) => source.statuses(nhsNumber, options),
    events: (nhsNumber) => source.events(nhsNumber),
    clustersOf: (code) => source.clustersOf(code),
    termOf: (code) => source.termOf(code),
    counts: (query) => source.counts(query),
  };
}
