import { readFileSync } from 'node:fs';
import { CaregapsError, isValidNhsNumber } from '@caregaps/core';
import { AgreementRegistry, type CareTeam, type SharingAgreement } from '@caregaps/access';

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
