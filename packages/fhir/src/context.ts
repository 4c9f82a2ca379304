import { isValidNhsNumber, type TestNumberAssigner } from '@caregaps/core';
import { arr, obj, str, type Json } from './json.js';
import { dayOf } from './dates.js';
import { NHS_NUMBER_SYSTEM, ODS_SYSTEM } from './systems.js';

/** Who a Patient resource is, as far as the records need: the NHS number (or why there is none) and the practice. */
export interface PatientIdentity {
  nhsNumber?: string;
  /** Why there is no NHS number. */
  problem?: string;
  /** The Patient's id was given before with another NHS number: which patient it means cannot be told. */
  conflict?: true;
  /** Identifier systems the source gave instead (reported in quarantine). */
  identifiers: string[];
  /** ODS code from generalPractitioner, when the source gives one. */
  practice?: string;
  /** The registration period, when the GP identifier carries one (as PDS does): `period.start` / `period.end`. */
  registeredFrom?: string;
  registeredTo?: string;
}

/**
 * What the adapter remembers across resources and files: patients, organisations and medications by every key a
 * reference may use (`urn:uuid:…` full URLs and `Type/id`), so references resolve within a bundle and across the
 * files of a Bulk Data export.
 */
export class ReferenceIndex {
  private readonly patients = new Map<string, PatientIdentity>();
  private readonly organisations = new Map<string, string | undefined>();
  private readonly medications = new Map<string, unknown>();
  /** Patient keys given in the current scope: one Bundle document, or the NDJSON files of one export. */
  private scoped = new Set<string>();

  constructor(
    private readonly sourceKey: string,
    private readonly testNumbers: TestNumberAssigner | undefined,
  ) {}

  /**
   * Starts a new scope of ids: a separate Bundle document may reuse an id another document used for another patient
   * (its references mean its own Patient); within one scope, one id with two NHS numbers is a conflict.
   */
  newScope(): void {
    this.scoped = new Set();
  }

  /** Indexes a resource that other resources refer to. Returns the patient identity for Patients. */
  index(resource: Json, fullUrl: string | undefined): PatientIdentity | undefined {
    const type = resource['resourceType'];
    const id = str(resource['id']);
    const keys = [fullUrl, id !== undefined && typeof type === 'string' ? `${type}/${id}` : undefined].filter((k): k is string => k !== undefined);
    if (keys.length === 0) return type === 'Patient' ? this.identify(resource, undefined) : undefined;
    if (type === 'Organization') {
      const ods = odsCode(resource['identifier']);
      for (const k of keys) this.organisations.set(k, ods);
    } else if (type === 'Medication') {
      for (const k of keys) this.medications.set(k, resource['code']);
    } else if (type === 'Patient') {
      const key = keys[keys.length - 1]!;
      // Only a Patient of this document (or export) can conflict; one from an earlier document is replaced.
      const known = keys
        .filter((k) => this.scoped.has(k))
        .map((k) => this.patients.get(k))
        .find((p) => p?.nhsNumber !== undefined || p?.conflict);
      const identity = this.identify(resource, key);
      for (const k of keys) this.scoped.add(k);
      if (known?.conflict) return known;
      if (known !== undefined && identity.nhsNumber !== undefined && identity.nhsNumber !== known.nhsNumber) {
        // One id, two NHS numbers: neither this Patient nor anything referring to the id can be filed safely.
        const conflict: PatientIdentity = {
          problem: `${key} was given before with NHS number ${known.nhsNumber} and now with ${identity.nhsNumber}; resources referring to it cannot be filed`,
          identifiers: [],
          conflict: true,
        };
        for (const k of keys) this.patients.set(k, conflict);
        return conflict;
      }
      // A repeat without an NHS number does not replace one that had it (it is quarantined on its own).
      if (known !== undefined && identity.nhsNumber === undefined) return identity;
      for (const k of keys) this.patients.set(k, identity);
      return identity;
    }
    return undefined;
  }

  private identify(patient: Json, key: string | undefined): PatientIdentity {
    const identifiers: string[] = [];
    let nhs: string | undefined;
    for (const idf of arr(patient['identifier'])) {
      const system = str(obj(idf)?.['system']);
      const value = str(obj(idf)?.['value']);
      if (system === NHS_NUMBER_SYSTEM && value !== undefined) nhs = value.replace(/\s+/g, '');
      else if (system !== undefined) identifiers.push(system);
    }
    const identity: PatientIdentity = { identifiers };
    const practice = this.practiceOf(patient);
    if (practice !== undefined) {
      identity.practice = practice.ods;
      if (practice.from !== undefined) identity.registeredFrom = practice.from;
      if (practice.to !== undefined) identity.registeredTo = practice.to;
    }
    if (nhs !== undefined) {
      if (isValidNhsNumber(nhs)) identity.nhsNumber = nhs;
      else identity.problem = `NHS number "${nhs}" is not 10 digits with a valid Modulus 11 check digit`;
    } else if (this.testNumbers && key !== undefined) {
      identity.nhsNumber = this.testNumbers.numberFor(`${this.sourceKey}:${key}`);
    } else {
      identity.problem = key === undefined ? 'the Patient has no NHS number and no id' : 'the Patient has no NHS number identifier';
    }
    return identity;
  }

  /**
   * The registered practice: an ODS identifier on a generalPractitioner, directly (with its registration period, when
   * given to the day) or on the referenced Organization.
   */
  private practiceOf(patient: Json): { ods: string; from?: string; to?: string } | undefined {
    for (const gp of arr(patient['generalPractitioner'])) {
      const ref = obj(gp);
      const identifier = obj(ref?.['identifier']);
      const direct = odsCode([identifier]);
      if (direct !== undefined) {
        const found: { ods: string; from?: string; to?: string } = { ods: direct };
        const period = obj(identifier?.['period']);
        const from = dayOf(period?.['start']);
        const to = dayOf(period?.['end']);
        if (from !== undefined) found.from = from;
        if (to !== undefined && (from === undefined || to >= from)) found.to = to;
        return found;
      }
      const target = str(ref?.['reference']);
      if (target !== undefined) {
        const ods = this.organisations.get(target) ?? this.organisations.get(relative(target));
        if (ods !== undefined) return { ods };
      }
    }
    return undefined;
  }

  /** The patient a `subject` / `patient` reference points to. */
  patient(reference: unknown): PatientIdentity | undefined {
    const ref = obj(reference);
    if (!ref) return undefined;
    const target = str(ref['reference']);
    if (target !== undefined) {
      const found = this.patients.get(target) ?? this.patients.get(relative(target));
      if (found) return found;
    }
    const idf = obj(ref['identifier']);
    if (str(idf?.['system']) === NHS_NUMBER_SYSTEM) {
      const value = str(idf?.['value'])?.replace(/\s+/g, '') ?? '';
      return isValidNhsNumber(value)
        ? { nhsNumber: value, identifiers: [] }
        : { problem: `subject NHS number "${value}" fails the Modulus 11 check`, identifiers: [] };
    }
    if (idf) return { problem: 'the subject is identified only by a non-NHS identifier', identifiers: [str(idf['system']) ?? '(no system)'] };
    return undefined;
  }

  /** The code of a medication reference: contained (`#id`), in the bundle, or in the export's Medication file. */
  medication(reference: unknown, contained: unknown): unknown {
    const target = str(obj(reference)?.['reference']);
    if (target === undefined) return undefined;
    if (target.startsWith('#')) {
      const inner = arr(contained).map(obj).find((r) => r?.['resourceType'] === 'Medication' && r['id'] === target.slice(1));
      return inner?.['code'];
    }
    return this.medications.get(target) ?? this.medications.get(relative(target));
  }
}

/** `Patient/123` from `https://server/fhir/Patient/123` or `Patient/123/_history/2`. */
function relative(reference: string): string {
  const m = /([A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64})(\/_history\/[^/]+)?$/.exec(reference);
  return m ? m[1]! : reference;
}

function odsCode(identifiers: unknown): string | undefined {
  for (const idf of arr(identifiers)) {
    const o = obj(idf);
    if (str(o?.['system']) === ODS_SYSTEM) {
      const v = str(o?.['value']);
      if (v !== undefined && v.length <= 16) return v;
    }
  }
  return undefined;
}
