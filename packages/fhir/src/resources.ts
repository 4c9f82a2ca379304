import type { Condition, Encounter, Immunization, MedicationRequest, MedicationStatement, Observation, Patient, Procedure } from 'fhir/r4.js';
import { isSnomedConceptId, type AdapterItem, type EventRecord, type NormalisationMap, type PatientRecord, type SourceLocation } from '@caregaps/core';
import type { PatientIdentity, ReferenceIndex } from './context.js';
import { dayOf } from './dates.js';
import { arr, num, obj, str, type Json } from './json.js';
import { systemName } from './systems.js';

/** The resource types that become records. */
export type MappedResource = Patient | Condition | Observation | MedicationRequest | MedicationStatement | Procedure | Immunization | Encounter;
type MappedType = MappedResource['resourceType'];

/** Resource types read only so that references to them resolve. */
const REFERENCE_ONLY = new Set(['Organization', 'Medication']);

/** Where each mapped type keeps its clinical date, in order of preference (DESIGN §3.1 `date`). */
const DATE_PATHS: Record<Exclude<MappedType, 'Patient'>, ReadonlyArray<readonly string[]>> = {
  Condition: [['onsetDateTime'], ['onsetPeriod', 'start'], ['recordedDate']],
  Observation: [['effectiveDateTime'], ['effectivePeriod', 'start'], ['effectiveInstant'], ['issued']],
  MedicationRequest: [['authoredOn']],
  MedicationStatement: [['effectiveDateTime'], ['effectivePeriod', 'start'], ['dateAsserted']],
  Procedure: [['performedDateTime'], ['performedPeriod', 'start']],
  Immunization: [['occurrenceDateTime'], ['recorded']],
  Encounter: [['period', 'start']],
};

/** Statuses meaning the thing did not happen, so it does not count (`entered-in-error` becomes a retraction). */
const NOT_DONE: Record<Exclude<MappedType, 'Patient'>, ReadonlySet<string>> = {
  Condition: new Set(['refuted']),
  Observation: new Set(['cancelled']),
  MedicationRequest: new Set(['cancelled']),
  MedicationStatement: new Set(['not-taken']),
  Procedure: new Set(['not-done']),
  Immunization: new Set(['not-done']),
  Encounter: new Set(['cancelled']),
};

const SUBJECT: Record<Exclude<MappedType, 'Patient'>, string> = {
  Condition: 'subject',
  Observation: 'subject',
  MedicationRequest: 'subject',
  MedicationStatement: 'subject',
  Procedure: 'subject',
  Immunization: 'patient',
  Encounter: 'subject',
};

/** A FHIR id, `^[A-Za-z0-9\-.]{1,64}$`, checked without a regular expression (it runs for every resource). */
export function isFhirId(id: string): boolean {
  if (id.length < 1 || id.length > 64) return false;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    if (!((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 45 || c === 46)) return false;
  }
  return true;
}

function isMappedType(type: unknown): type is MappedType {
  return type === 'Patient' || (typeof type === 'string' && Object.hasOwn(DATE_PATHS, type));
}

/** Settings the mapper needs. */
export interface MapSettings {
  maps: NormalisationMap | undefined;
  /** Prefix of event ids and default event source. */
  sourceKey: string;
  source: string | undefined;
  defaultPractice: string | undefined;
}

function at(path: readonly string[], resource: Json): unknown {
  let v: unknown = resource;
  for (const key of path) v = obj(v)?.[key];
  return v;
}

interface Coded {
  system: string;
  code: string;
}

/** The coding to use: one the normalisation map knows, else a SNOMED CT one, else the first usable one. */
function chooseCoding(concept: unknown, maps: NormalisationMap | undefined, unit: string | undefined): Coded | undefined {
  let snomed: Coded | undefined;
  let first: Coded | undefined;
  for (const c of arr(obj(concept)?.['coding'])) {
    const coding = obj(c);
    const uri = str(coding?.['system']);
    const code = str(coding?.['code'])?.trim();
    if (uri === undefined || code === undefined || code.length > 64) continue;
    const system = systemName(uri);
    if (system === undefined) continue;
    // A "SNOMED" code that is not a concept id is a mis-coded entry: skip it rather than file it under SNOMED.
    if (system === 'snomed' && !isSnomedConceptId(code)) continue;
    const coded = { system, code };
    if (maps?.lookup(system, code, unit)) return coded;
    if (system === 'snomed') snomed ??= coded;
    first ??= coded;
  }
  return snomed ?? first;
}

function firstCode(concept: unknown): string | undefined {
  for (const c of arr(obj(concept)?.['coding'])) {
    const code = str(obj(c)?.['code']);
    if (code !== undefined) return code;
  }
  return undefined;
}

function quantity(value: unknown): { value?: number; unit?: string } {
  const q = obj(value);
  const out: { value?: number; unit?: string } = {};
  const v = num(q?.['value']);
  if (v !== undefined) out.value = v;
  const unit = str(q?.['code']) ?? str(q?.['unit']);
  if (unit !== undefined && unit.length <= 64) out.unit = unit;
  return out;
}

/**
 * Maps one resource to an adapter item: a record, or a quarantine with the reason. `where` locates the resource.
 * Patients are indexed by the caller before this runs (`identity`).
 */
export function mapResource(
  resource: Json,
  where: SourceLocation,
  index: ReferenceIndex,
  settings: MapSettings,
  identity: PatientIdentity | undefined,
): AdapterItem {
  const type = resource['resourceType'];
  const quarantine = (code: Parameters<typeof fail>[0], reason: string, identifiers?: string[]): AdapterItem => fail(code, reason, where, identifiers);
  if (typeof type !== 'string') return quarantine('CG_SOURCE_FIELD', 'resourceType is missing: not a FHIR resource');
  if (REFERENCE_ONLY.has(type)) return quarantine('CG_SOURCE_UNSUPPORTED', `${type} is read only to resolve references`);
  if (!isMappedType(type)) return quarantine('CG_SOURCE_UNSUPPORTED', `${type} resources are not used by Caregaps`);
  if (type === 'Patient') return mapPatient(resource, where, identity!, settings);

  const id = str(resource['id']);
  if (id !== undefined && !isFhirId(id)) return quarantine('CG_SOURCE_FIELD', `${type} id is not a FHIR id (1-64 letters, digits, "-" or ".")`);
  if (id === undefined && where.recordId === undefined) return quarantine('CG_SOURCE_FIELD', `${type} has no id, so it cannot be corrected or retracted later`);
  const recordKey = id !== undefined ? `${type}/${id}` : where.recordId!;
  const subjectField = SUBJECT[type];
  const patient = index.patient(resource[subjectField]);
  if (!patient) {
    const ref = str(obj(resource[subjectField])?.['reference']);
    return ref === undefined
      ? quarantine('CG_SOURCE_FIELD', `${subjectField} is missing: the ${type} names no patient`)
      : quarantine('CG_SOURCE_REFERENCE', `${subjectField} "${ref.slice(0, 100)}" is not a Patient in the input`);
  }
  if (patient.nhsNumber === undefined) {
    if (patient.conflict) return quarantine('CG_SOURCE_CONFLICT', patient.problem!);
    return quarantine('CG_SOURCE_NHS_NUMBER', patient.problem ?? 'the patient has no NHS number', patient.identifiers.length ? patient.identifiers : undefined);
  }
  const nhsNumber = patient.nhsNumber;
  const eventId = `${settings.sourceKey}:${recordKey}`;
  const source = settings.source ?? patient.practice ?? settings.defaultPractice;

  const status = type === 'Condition' ? firstCode(resource['verificationStatus']) : str(resource['status']);
  if (status === 'entered-in-error') {
    const record = { kind: 'retract' as const, id: eventId, nhsNumber, ...(source !== undefined ? { source } : {}) };
    return { ok: true, record, at: where };
  }
  if (status !== undefined && NOT_DONE[type].has(status)) return quarantine('CG_SOURCE_NOT_DONE', `${type} status "${status}" does not count`);
  if (type === 'MedicationRequest' && resource['doNotPerform'] === true) return quarantine('CG_SOURCE_NOT_DONE', 'MedicationRequest doNotPerform is true');

  let date: string | undefined;
  for (const path of DATE_PATHS[type]) {
    date = dayOf(at(path, resource));
    if (date !== undefined) break;
  }
  if (date === undefined) {
    return quarantine('CG_SOURCE_DATE', `${type} has no date to the day in ${DATE_PATHS[type].map((p) => p.join('.')).join(', ')}`);
  }

  let concept: unknown;
  switch (type) {
    case 'Immunization':
      concept = resource['vaccineCode'];
      break;
    case 'Encounter':
      concept = arr(resource['type'])[0];
      break;
    case 'MedicationRequest':
    case 'MedicationStatement':
      concept = resource['medicationCodeableConcept'] ?? index.medication(resource['medicationReference'], resource['contained']);
      break;
    default:
      concept = resource['code'];
  }
  const q = type === 'Observation' ? quantity(resource['valueQuantity']) : {};
  const coded = chooseCoding(concept, settings.maps, q.unit);
  if (!coded) {
    const why = type.startsWith('Medication') && concept === undefined ? 'the medication code or reference does not resolve' : 'no coding with a system and code';
    return quarantine('CG_SOURCE_CODE', `${type}: ${why}`);
  }
  const event: EventRecord = { kind: 'event', id: eventId, nhsNumber, code: coded.code, date };
  const n = settings.maps?.normalise(coded.system, coded.code, q.value, q.unit) ?? {
    code: coded.code,
    mapped: false,
    ...(coded.system !== 'snomed' ? { system: coded.system } : {}),
    ...q,
  };
  if (n.overflow !== undefined) return quarantine('CG_SOURCE_FIELD', `${type}: ${n.overflow}`);
  event.code = n.code;
  if (n.system !== undefined) event.system = n.system;
  const values: Record<string, number> = {};
  if (n.component !== undefined) {
    if (n.value !== undefined) values[n.component] = n.value;
  } else {
    if (n.value !== undefined) event.value = n.value;
    if (n.unit !== undefined) event.unit = n.unit;
  }
  if (type === 'Observation' && settings.maps) {
    for (const c of arr(resource['component'])) {
      const component = obj(c);
      const cq = quantity(component?.['valueQuantity']);
      if (cq.value === undefined) continue;
      const cc = chooseCoding(component?.['code'], settings.maps, cq.unit);
      if (!cc) continue;
      const cn = settings.maps.normalise(cc.system, cc.code, cq.value, cq.unit);
      if (cn.overflow !== undefined) return quarantine('CG_SOURCE_FIELD', `${type} component: ${cn.overflow}`);
      if (cn.component !== undefined && cn.value !== undefined) values[cn.component] = cn.value;
    }
  }
  if (Object.keys(values).length > 0) event.values = values;
  if (source !== undefined) event.source = source;
  return { ok: true, record: event, at: where };
}

function mapPatient(resource: Json, where: SourceLocation, identity: PatientIdentity, settings: MapSettings): AdapterItem {
  if (identity.nhsNumber === undefined) {
    if (identity.conflict) return fail('CG_SOURCE_CONFLICT', identity.problem!, where);
    return fail('CG_SOURCE_NHS_NUMBER', identity.problem ?? 'no NHS number', where, identity.identifiers.length ? identity.identifiers : undefined);
  }
  const birthDate = dayOf(resource['birthDate']);
  if (birthDate === undefined) return fail('CG_SOURCE_DATE', 'birthDate is missing or not a full date', where);
  let deathDate: string | null = null;
  if (resource['deceasedDateTime'] !== undefined) {
    deathDate = dayOf(resource['deceasedDateTime']) ?? null;
    if (deathDate === null) return fail('CG_SOURCE_DATE', 'deceasedDateTime is not a date to the day', where);
  } else if (resource['deceasedBoolean'] === true) {
    return fail('CG_SOURCE_DATE', 'deceasedBoolean is true but no date of death is given, so the end of registration is unknown', where);
  }
  const practice = identity.practice ?? settings.defaultPractice;
  if (practice === undefined) return fail('CG_SOURCE_PRACTICE', 'no generalPractitioner with an ODS code and no default practice', where);
  const gender = resource['gender'];
  const sex = gender === 'male' || gender === 'female' || gender === 'other' ? gender : 'unknown';
  // Registration: the period on the GP identifier when the source gives it; otherwise from the first record (linker).
  const registeredFrom = identity.practice !== undefined ? identity.registeredFrom : undefined;
  const registeredTo = identity.practice !== undefined && registeredFrom !== undefined ? (identity.registeredTo ?? null) : null;
  const record: PatientRecord = { kind: 'patient', nhsNumber: identity.nhsNumber, birthDate, sex, practice, registeredFrom: registeredFrom ?? birthDate, registeredTo, deathDate };
  const source = settings.source ?? identity.practice ?? settings.defaultPractice;
  if (source !== undefined) record.source = source;
  const updated = str(obj(resource['meta'])?.['lastUpdated']);
  return { ok: true, record, at: where, ...(registeredFrom === undefined ? { registeredFromFirstRecord: true } : {}), ...(updated !== undefined ? { updated } : {}) };
}

function fail(code: 'CG_SOURCE_CONFLICT' | 'CG_SOURCE_FIELD' | 'CG_SOURCE_UNSUPPORTED' | 'CG_SOURCE_REFERENCE' | 'CG_SOURCE_NHS_NUMBER' | 'CG_SOURCE_NOT_DONE' | 'CG_SOURCE_DATE' | 'CG_SOURCE_CODE' | 'CG_SOURCE_PRACTICE', reason: string, where: SourceLocation, identifiers?: string[]): AdapterItem {
  const item: AdapterItem = { ok: false, code, reason, at: where };
  if (identifiers !== undefined) item.identifiers = identifiers;
  return item;
}
