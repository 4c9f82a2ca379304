import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { CaregapsError, isValidNhsNumber, type OptOut } from '@caregaps/core';
import { AgreementRegistry, OPT_OUT_TYPES, type CareTeam, type OptOutEntry, type OptOutRegister, type SharingAgreement } from '@caregaps/access';

function readJson(file: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new CaregapsError('CG_INPUT', `Cannot read the ${what} file ${file}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CaregapsError('CG_SERVER_HOST_FILE', `${file}: not valid JSON (${(error as Error).message})`);
  }
}

/** Reads `{ "careTeams": [{ "id", "organisation", "patients": [NHS numbers] }] }`; every problem names the entry. */
export function loadCareTeams(file: string): CareTeam[] {
  const list = (readJson(file, 'care teams') as { careTeams?: unknown })?.careTeams;
  if (!Array.isArray(list)) throw new CaregapsError('CG_SERVER_HOST_FILE', `${file}: "careTeams" must be an array`);
  const ids = new Set<string>();
  return list.map((entry: unknown, i) => {
    const fail = (what: string) => new CaregapsError('CG_SERVER_HOST_FILE', `${file}: careTeams[${i}]: ${what}`);
    const e = entry as Record<string, unknown> | null;
    if (typeof e !== 'object' || e === null || Array.isArray(e)) throw fail('must be an object');
    for (const key of Object.keys(e)) if (!['id', 'organisation', 'patients', 'description'].includes(key)) throw fail(`unknown field "${key}"`);
    if (typeof e['id'] !== 'string' || e['id'] === '' || ids.has(e['id'])) throw fail('"id" must be a non-empty string, used once');
    ids.add(e['id']);
    if (typeof e['organisation'] !== 'string' || e['organisation'] === '') throw fail('"organisation" must be an ODS code');
    const patients = e['patients'];
    if (!Array.isArray(patients)) throw fail('"patients" must be an array of NHS numbers');
    const bad = patients.findIndex((n) => typeof n !== 'string' || !isValidNhsNumber(n));
    if (bad >= 0) throw fail(`patients[${bad}] is not a valid NHS number`);
    return { id: e['id'], organisation: e['organisation'], patients: [...(patients as string[])] };
  });
}

/** Reads saved sharing agreement versions (a JSON array, as `access.agreements.toJSON()` gives them), checked by the registry. */
export function loadAgreements(file: string): SharingAgreement[] {
  const list = readJson(file, 'sharing agreements');
  if (!Array.isArray(list)) throw new CaregapsError('CG_SERVER_HOST_FILE', `${file}: must be a JSON array of agreement versions`);
  try {
    new AgreementRegistry(list as SharingAgreement[]);
  } catch (error) {
    throw new CaregapsError('CG_SERVER_HOST_FILE', `${file}: ${(error as Error).message.split('\n')[0]}`);
  }
  return list as SharingAgreement[];
}

/** Reads the saved opt-out register (a JSON array of entries, as `register.toJSON()` gives them); none when the file does not exist yet. */
export function loadOptOuts(file: string): OptOutEntry[] {
  if (!existsSync(file)) return [];
  const list = readJson(file, 'opt-out register');
  if (!Array.isArray(list)) throw new CaregapsError('CG_SERVER_HOST_FILE', `${file}: must be a JSON array of opt-out register entries`);
  list.forEach((entry: unknown, i) => {
    const e = entry as Partial<OptOutEntry> | null;
    const ok =
      typeof e === 'object' && e !== null && typeof e.id === 'string' && typeof e.nhsNumber === 'string' && isValidNhsNumber(e.nhsNumber) &&
      OPT_OUT_TYPES.includes(e.type as OptOut) && typeof e.date === 'string' && typeof e.recordedAt === 'string' && typeof e.recordedBy === 'string' && typeof e.organisation === 'string';
    if (!ok) throw new CaregapsError('CG_SERVER_HOST_FILE', `${file}: entry ${i} is not an opt-out register entry (id, nhsNumber, type, date, recordedAt, recordedBy, organisation)`);
  });
  return list as OptOutEntry[];
}

/** Writes the register whole, replacing the file at once (a crash leaves the old file or the new one, never half). */
export function saveOptOuts(file: string, register: OptOutRegister): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(register.toJSON(), null, 1) + '\n');
  renameSync(temporary, file);
}
