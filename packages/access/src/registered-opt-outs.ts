import type { OptOutRegister } from './opt-out-register.js';
import type { PopulationIndex, ResultsSource } from './source.js';
import type { AccessPatient } from './types.js';

/**
 * The results source with the register's opt-outs added to each patient's own (from the patient record): every
 * policy decision, list and count then honours an opt-out the moment it is recorded.
 */
export function withRegisteredOptOuts(source: ResultsSource, register: OptOutRegister): ResultsSource {
  const merge = (patient: AccessPatient): AccessPatient => {
    const held = register.held(patient.nhsNumber);
    return held.length === 0 ? patient : { ...patient, optOuts: [...new Set([...patient.optOuts, ...held])] };
  };
  // The source's population index counts by opt-out group: it must see the register's opt-outs too (installed on
  // first use, so an index that appears later — after an ingest — gets them as well).
  let overlaid: PopulationIndex | undefined;
  return {
    get index() {
      const index = source.index;
      if (index && index !== overlaid) {
        if (!overlaid) register.subscribe((nhs) => overlaid!.note([nhs]));
        index.addOptOuts((nhs) => register.held(nhs), register.holders());
        overlaid = index;
      }
      return index;
    },
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
