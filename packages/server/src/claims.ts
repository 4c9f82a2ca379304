import { CaregapsError } from '@caregaps/core';
import { PURPOSES, type Purpose } from '@caregaps/access';
import type { Session } from './authenticator.js';

/**
 * Which claims of the identity provider's ID token (and user info) name the Caregaps principal. Each is a claim name
 * or a dotted path of plain property names (`org.code`). Defaults are in `DEFAULT_CLAIMS`.
 */
export interface ClaimMapping {
  /** The user id written to the audit log (default `sub`). */
  user: string;
  /** How the UI names the user (default `name`; the user id when absent). */
  label: string;
  /** The roles of the session's selected role profile: an array of strings or one space-separated string. */
  roles: string;
  /** The ODS code of the organisation the session is for. */
  organisation: string;
  /** The care teams the user belongs to (optional claim: none when absent). */
  careTeams: string;
  /** The purposes the user may declare (optional claim: `defaultPurposes` when absent). */
  purposes: string;
  /** Provider role value → Caregaps role; when given, roles it does not list are dropped. */
  roleMap?: Readonly<Record<string, string>>;
  /** Purposes for users whose token has no purposes claim (default `["direct-care"]`). */
  defaultPurposes: readonly Purpose[];
}

export const DEFAULT_CLAIMS: ClaimMapping = {
  user: 'sub',
  label: 'name',
  roles: 'roles',
  organisation: 'organisation',
  careTeams: 'care_teams',
  purposes: 'purposes',
  defaultPurposes: ['direct-care'],
};

const PATH = /^[A-Za-z_][A-Za-z0-9_:-]*(\.[A-Za-z_][A-Za-z0-9_:-]*)*$/;

/** Reads a claim by name or dotted path, own properties only (a claim named `__proto__` reads nothing). */
export function claimAt(claims: Readonly<Record<string, unknown>>, path: string): unknown {
  let value: unknown = claims;
  for (const part of path.split('.')) {
    if (typeof value !== 'object' || value === null || Array.isArray(value) || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** Checks a mapping given in a config file (unknown keys, malformed paths, unknown purposes); `where` names it. */
export function checkClaimMapping(value: unknown, where: string): ClaimMapping {
  if (value === undefined) return DEFAULT_CLAIMS;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new CaregapsError('CG_SERVER_OIDC', `${where}: "claims" must be an object`);
  const given = value as Record<string, unknown>;
  const mapping: Record<string, unknown> = { ...DEFAULT_CLAIMS };
  for (const [key, v] of Object.entries(given)) {
    if (key === 'roleMap') {
      if (typeof v !== 'object' || v === null || Array.isArray(v) || !Object.values(v).every((r) => typeof r === 'string' && r !== '')) {
        throw new CaregapsError('CG_SERVER_OIDC', `${where}: claims.roleMap must map provider role values to Caregaps role names`);
      }
      mapping[key] = Object.fromEntries(Object.entries(v));
    } else if (key === 'defaultPurposes') {
      if (!Array.isArray(v) || v.length === 0 || !v.every((p) => PURPOSES.includes(p as Purpose))) {
        throw new CaregapsError('CG_SERVER_OIDC', `${where}: claims.defaultPurposes must list one or more of ${PURPOSES.join(', ')}`);
      }
      mapping[key] = [...v];
    } else if (Object.hasOwn(DEFAULT_CLAIMS, key)) {
      if (typeof v !== 'string' || !PATH.test(v)) throw new CaregapsError('CG_SERVER_OIDC', `${where}: claims.${key} must be a claim name or dotted path (letters, digits, _ : -)`);
      mapping[key] = v;
    } else {
      throw new CaregapsError('CG_SERVER_OIDC', `${where}: unknown field claims.${key} (allowed: ${[...Object.keys(DEFAULT_CLAIMS), 'roleMap'].join(', ')})`);
    }
  }
  return mapping as unknown as ClaimMapping;
}

function strings(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value.split(/\s+/).filter(Boolean);
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return [...(value as string[])];
  return undefined;
}

/**
 * The session of a signed-in user from their verified claims. A claim that is missing or of the wrong type refuses
 * the sign-in (`CG_SERVER_OIDC`, naming the claim), never a session with a guessed organisation or role.
 */
export function sessionFromClaims(claims: Readonly<Record<string, unknown>>, mapping: ClaimMapping = DEFAULT_CLAIMS): Session {
  const fail = (what: string) => new CaregapsError('CG_SERVER_OIDC', `The identity provider's token ${what}; ask its administrator to release it, or change the claim mapping (docs/serve.md)`);
  const user = claimAt(claims, mapping.user);
  if (typeof user !== 'string' || user === '') throw fail(`has no user id in claim "${mapping.user}"`);
  const organisation = claimAt(claims, mapping.organisation);
  if (typeof organisation !== 'string' || organisation === '') throw fail(`has no organisation (ODS code) in claim "${mapping.organisation}"`);
  const given = strings(claimAt(claims, mapping.roles));
  if (given === undefined) throw fail(`has no roles in claim "${mapping.roles}" (an array of strings or a space-separated string)`);
  const roles = mapping.roleMap ? given.flatMap((r) => (Object.hasOwn(mapping.roleMap!, r) ? [mapping.roleMap![r]!] : [])) : given;
  const rawTeams = claimAt(claims, mapping.careTeams);
  const careTeams = strings(rawTeams);
  if (rawTeams !== undefined && careTeams === undefined) throw fail(`has care teams in claim "${mapping.careTeams}" that are not strings`);
  const rawPurposes = claimAt(claims, mapping.purposes);
  const purposes = rawPurposes === undefined ? [...mapping.defaultPurposes] : (strings(rawPurposes) ?? []).filter((p): p is Purpose => PURPOSES.includes(p as Purpose));
  if (purposes.length === 0) throw fail(`names no purpose Caregaps knows in claim "${mapping.purposes}" (${PURPOSES.join(', ')})`);
  const name = claimAt(claims, mapping.label);
  return {
    id: user,
    label: typeof name === 'string' && name !== '' ? name : user,
    principal: { user, roles, organisation, ...(careTeams?.length ? { careTeams } : {}) },
    purposes,
    submitsRecords: false,
  };
}
