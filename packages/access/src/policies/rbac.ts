import { createMongoAbility, subject, type MongoAbility } from '@casl/ability';
import { CaregapsError } from '@caregaps/core';
import bundled from '../../data/rbac.json' with { type: 'json' };
import type { AccessPolicy } from '../policy.js';
import { PURPOSES, type AccessRequest, type Activity, type Purpose, type Verdict } from '../types.js';

/** The role → activity policy as data (the shape of `data/rbac.json`). */
export interface RbacData {
  version: string;
  description?: string;
  activities: Record<string, { title: string; includes: string[] }>;
  roles: Record<string, { title: string; nrdCode?: string; grants: Partial<Record<string, string[]>> }>;
}

/** The bundled role → activity policy. */
export const BUNDLED_RBAC: RbacData = bundled;

type Ability = MongoAbility<[string, 'Access' | { purpose: string }]>;

/** Every activity an activity includes, itself included (transitive closure; cycles are harmless). */
function closure(data: RbacData, activity: string, seen = new Set<string>()): Set<string> {
  if (seen.has(activity)) return seen;
  seen.add(activity);
  for (const included of data.activities[activity]?.includes ?? []) closure(data, included, seen);
  return seen;
}

/** Checks the data file: grants and includes must name known activities and purposes. */
export function checkRbacData(data: RbacData): void {
  const problems: string[] = [];
  if (typeof data.version !== 'string' || data.version === '') problems.push('version is missing');
  for (const [name, activity] of Object.entries(data.activities ?? {})) {
    for (const inc of activity.includes ?? []) if (!Object.hasOwn(data.activities, inc)) problems.push(`activity ${name} includes unknown activity ${inc}`);
  }
  for (const [name, role] of Object.entries(data.roles ?? {})) {
    for (const [purpose, activities] of Object.entries(role.grants ?? {})) {
      if (!PURPOSES.includes(purpose as Purpose)) problems.push(`role ${name} grants for unknown purpose ${purpose}`);
      for (const a of activities ?? []) if (!Object.hasOwn(data.activities, a)) problems.push(`role ${name} grants unknown activity ${a}`);
    }
  }
  if (problems.length) throw new CaregapsError('CG_ACCESS_RBAC_DATA', `The RBAC data is invalid: ${problems.join('; ')}`);
}

/** One CASL ability per role: the role may do an activity on an `Access` subject whose purpose it is granted for. */
function abilityOf(data: RbacData, role: string): Ability {
  const rules: { action: string; subject: 'Access'; conditions: { purpose: { $in: string[] } } }[] = [];
  const byActivity = new Map<string, Set<string>>();
  for (const [purpose, activities] of Object.entries(data.roles[role]!.grants)) {
    for (const granted of activities ?? []) {
      for (const activity of closure(data, granted)) {
        let purposes = byActivity.get(activity);
        if (!purposes) byActivity.set(activity, (purposes = new Set()));
        purposes.add(purpose);
      }
    }
  }
  for (const [activity, purposes] of byActivity) rules.push({ action: activity, subject: 'Access', conditions: { purpose: { $in: [...purposes] } } });
  return createMongoAbility(rules) as Ability;
}

/**
 * Role-based access: a request is allowed when one of the principal's roles is granted the activity (directly or
 * through an activity that includes it) for the declared purpose. Unknown roles, activities and purposes deny.
 * Matching is done by CASL over the rules built from the data file.
 */
export function rbacPolicy(data: RbacData = BUNDLED_RBAC): AccessPolicy {
  checkRbacData(data);
  const abilities = new Map<string, Ability>(Object.keys(data.roles).map((role) => [role, abilityOf(data, role)]));
  return {
    meta: { name: 'rbac', version: '1.0.0', decides: 'whether a role may perform an activity for a purpose', dataVersion: data.version, aggregates: 'by-opt-outs' },
    decide(request: AccessRequest): Verdict {
      if (!PURPOSES.includes(request.purpose)) return { decision: 'deny', rule: 'unknown-purpose' };
      if (!Object.hasOwn(data.activities, request.activity as Activity)) return { decision: 'deny', rule: 'unknown-activity' };
      const roles = Array.isArray(request.principal.roles) ? request.principal.roles : [];
      for (const role of roles) {
        const ability = abilities.get(role);
        if (ability?.can(request.activity, subject('Access', { purpose: request.purpose }))) {
          return { decision: 'allow', rule: `role:${role}` };
        }
      }
      const known = roles.some((r) => abilities.has(r));
      return { decision: 'deny', rule: known ? 'role-not-granted' : 'unknown-role' };
    },
  };
}
