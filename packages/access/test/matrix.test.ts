/**
 * E1 access matrix (and F1 audit completeness over it): every role × relationship × agreement × opt-out × purpose ×
 * activity against an expected table, through the public API, Cerbos/OPA-style. The role table below is written
 * out by hand, independently of data/rbac.json, so a change to the data file that is not mirrored here fails.
 */
import type { OptOut } from '@caregaps/core';
import { describe, expect, test } from 'vitest';
import { AgreementRegistry, MemoryAuditLog, createAccess, type AccessLayer, type Activity, type Principal, type Purpose } from '../src/index.js';
import { HOSPITAL, TODAY, nhsNumbers, organisations, sourceOf } from './fixture.js';

type Role = string;
const ACTIVITIES: Activity[] = ['view-patient-record', 'view-patient-list', 'export-patient-list', 'view-aggregate', 'view-audit-report', 'manage-opt-outs'];

/** Expected role table: role → purpose → activities allowed. Roles not listed (and any other purpose) deny. */
const EXPECTED_ROLES: Record<Role, Partial<Record<Purpose, Activity[]>>> = {
  'clinical-practitioner': {
    'direct-care': ['view-patient-record', 'view-patient-list', 'export-patient-list', 'view-aggregate'],
    'secondary-use': ['view-aggregate'],
  },
  nurse: {
    'direct-care': ['view-patient-record', 'view-patient-list', 'export-patient-list', 'view-aggregate'],
    'secondary-use': ['view-aggregate'],
  },
  'health-professional': {
    'direct-care': ['view-patient-record', 'view-patient-list', 'view-aggregate'],
    'secondary-use': ['view-aggregate'],
  },
  'privacy-officer': { 'direct-care': ['view-audit-report', 'manage-opt-outs'], 'secondary-use': ['view-audit-report', 'manage-opt-outs'] },
  'caldicott-guardian': { 'direct-care': ['view-audit-report', 'manage-opt-outs'], 'secondary-use': ['view-aggregate', 'view-audit-report', 'manage-opt-outs'] },
  analyst: { 'secondary-use': ['view-aggregate', 'view-patient-list'] },
};
const ROLES: Role[][] = [...Object.keys(EXPECTED_ROLES).map((r) => [r]), ['receptionist-unknown'], [], ['analyst', 'nurse']];
const RELATIONSHIPS = ['registered', 'care-team', 'none'] as const;
const AGREEMENTS = ['none', 'signed', 'withdrawn'] as const;
const OPT_OUTS: (OptOut | 'none')[] = ['none', 'shared-record', 'secondary-use', 'national-data-opt-out', 'type-1'];
const PURPOSES = ['direct-care', 'secondary-use', 'research'] as const;
const SECONDARY_OPT_OUTS: string[] = ['secondary-use', 'national-data-opt-out', 'type-1'];

const PRACTICE = 'P00001';
const OTHER_PRACTICE = 'P00002';

function expected(roles: Role[], relationship: string, agreement: string, optOut: string, purpose: string, activity: Activity): boolean {
  if (purpose !== 'direct-care' && purpose !== 'secondary-use') return false;
  if (!roles.some((r) => EXPECTED_ROLES[r]?.[purpose]?.includes(activity))) return false;
  // A patient's access report is the registered practice's to give, its opt-outs its to record; opt-outs and
  // agreements do not limit either.
  if (activity === 'view-audit-report' || activity === 'manage-opt-outs') return relationship === 'registered';
  const optedOut = purpose === 'secondary-use' && SECONDARY_OPT_OUTS.includes(optOut);
  if (activity === 'view-aggregate') return !optedOut;
  if (relationship === 'none') return false;
  if (optedOut) return false;
  // A care team at another organisation sees a gap list only when the practice shares its registry statuses.
  if (relationship === 'care-team' && activity !== 'view-patient-record' && agreement !== 'signed') return false;
  return true;
}

function principalFor(roles: Role[], relationship: string): Principal {
  if (relationship === 'registered') return { user: 'u-reg', roles, organisation: PRACTICE };
  if (relationship === 'care-team') return { user: 'u-team', roles, organisation: HOSPITAL, careTeams: ['diabetes-outreach'] };
  return { user: 'u-none', roles, organisation: OTHER_PRACTICE };
}

async function layerFor(optOut: OptOut | 'none', agreement: string, nhs: string, audit: MemoryAuditLog): Promise<AccessLayer> {
  const source = sourceOf([{ nhsNumber: nhs, practice: PRACTICE, diabetic: true, hba1c: 80, optOuts: optOut === 'none' ? [] : [optOut] }], organisations());
  const agreements = new AgreementRegistry();
  if (agreement !== 'none') {
    const a = agreements.create({
      title: 'Diabetes outreach',
      parties: [PRACTICE, HOSPITAL],
      dataCategories: ['problems', 'results', 'registry-statuses'],
      purposes: ['direct-care', 'secondary-use'],
      start: '2025-01-01',
      end: null,
    });
    agreements.sign(a.id, PRACTICE, 'cg');
    agreements.sign(a.id, HOSPITAL, 'cg2');
    if (agreement === 'withdrawn') agreements.withdraw(a.id, PRACTICE);
  }
  return createAccess({
    source,
    refusalFloorMs: 0, // thousands of refusals here; refusal timing is E4's own test (side-channel.test.ts)
    audit,
    agreements,
    careTeams: [{ id: 'diabetes-outreach', organisation: HOSPITAL, patients: [nhs] }],
    now: () => TODAY,
  });
}

/** Observed: did the principal get the patient through this activity? */
async function observe(layer: AccessLayer, principal: Principal, purpose: string, activity: Activity, nhs: string): Promise<boolean> {
  const view = layer.as(principal, purpose as Purpose);
  try {
    switch (activity) {
      case 'view-patient-record':
        return (await view.patient(nhs)).nhsNumber === nhs;
      case 'view-patient-list':
        return (await view.patients({ registry: 'diabetes', indicator: 'DM020' })).some((r) => r.nhsNumber === nhs);
      case 'export-patient-list':
        return (await view.exportGapList({ registry: 'diabetes', indicator: 'DM020' })).csv.includes(nhs);
      case 'view-audit-report':
        return Array.isArray(await view.auditReport({ patient: nhs }));
      case 'manage-opt-outs': {
        const entry = await view.optOuts.add({ nhsNumber: nhs, type: 'type-1' });
        layer.optOuts.remove(entry, { user: 'test', organisation: PRACTICE }, TODAY); // back as it was, unaudited
        return entry.nhsNumber === nhs;
      }
      default: {
        const table = await view.summary({ level: 'practice', registry: 'diabetes' });
        return table.excludedPatients === 0 && table.rows.some((r) => r.organisation === PRACTICE);
      }
    }
  } catch (error) {
    if ((error as { code?: string }).code === 'CG_ACCESS_DENIED') return false;
    throw error;
  }
}

describe('E1 access matrix', () => {
  test('every role × relationship × agreement × opt-out × purpose × activity matches the expected table', async () => {
    const audit = new MemoryAuditLog();
    const [nhs] = nhsNumbers(1);
    let cells = 0;
    let attempts = 0;
    let defaultDenyCases = 0;
    let defaultDenyPassed = 0;
    const mismatches: string[] = [];
    for (const agreement of AGREEMENTS) {
      for (const optOut of OPT_OUTS) {
        const layer = await layerFor(optOut, agreement, nhs!, audit);
        for (const roles of ROLES) {
          for (const relationship of RELATIONSHIPS) {
            for (const purpose of PURPOSES) {
              for (const activity of ACTIVITIES) {
                const want = expected(roles, relationship, agreement, optOut, purpose, activity);
                const got = await observe(layer, principalFor(roles, relationship), purpose, activity, nhs!);
                cells++;
                attempts++;
                const unknown = purpose === 'research' || roles.length === 0 || roles.every((r) => !(r in EXPECTED_ROLES));
                if (unknown) {
                  defaultDenyCases++;
                  if (!got) defaultDenyPassed++;
                }
                if (want !== got) mismatches.push(`${roles.join('+') || '(none)'} ${relationship} ${agreement} ${optOut} ${purpose} ${activity}: expected ${want}, got ${got}`);
              }
            }
          }
        }
      }
    }
    const verification = audit.verify();
    console.log(
      `E1 access matrix: cells tested ${cells}; mismatches ${mismatches.length}; default-deny cases (unknown role/purpose, no role) ${defaultDenyCases}, passed ${defaultDenyPassed}`,
    );
    console.log(`F1 audit completeness over the matrix: attempts ${attempts}; audit events ${audit.lines.length}; chain ok ${verification.ok}`);
    expect(mismatches.slice(0, 10)).toEqual([]);
    expect(defaultDenyPassed).toBe(defaultDenyCases);
    expect(defaultDenyCases).toBeGreaterThan(0);
    expect(audit.lines.length).toBe(attempts);
    expect(verification.ok).toBe(true);
  });

  test('activities include the activities they list (export-patient-list includes view-patient-list)', async () => {
    const { rbacPolicy } = await import('../src/index.js');
    const policy = rbacPolicy({
      version: 't',
      activities: { 'export-patient-list': { title: 'x', includes: ['view-patient-list'] }, 'view-patient-list': { title: 'y', includes: [] } },
      roles: { exporter: { title: 'e', grants: { 'direct-care': ['export-patient-list'] } } },
    });
    const base = { principal: { user: 'u', roles: ['exporter'], organisation: 'X' }, purpose: 'direct-care' as const, resource: 'r', today: '2025-04-01' };
    expect(policy.decide({ ...base, activity: 'view-patient-list' }, undefined as never)).toEqual({ decision: 'allow', rule: 'role:exporter' });
    expect(policy.decide({ ...base, activity: 'view-patient-record' }, undefined as never)).toMatchObject({ decision: 'deny' });
    expect(policy.decide({ ...base, activity: 'constructor' as Activity }, undefined as never)).toEqual({ decision: 'deny', rule: 'unknown-activity' });
  });
});

describe('E1 sharing-agreement lifecycle matrix', () => {
  const [A, B, C, D] = ['P00001', HOSPITAL, 'P00003', 'P00004'];
  type Action = 'sign' | 'amend' | 'withdraw';
  type State = 'draft' | 'draft-signed-by-A' | 'signed' | 'signed+draft-adding-C' | 'signed+draft-dropping-B' | 'withdrawn';
  /** Expected table, written as data: state → action → organisations that may do it. Everyone else is refused. */
  const EXPECTED: Record<State, Record<Action, string[]>> = {
    draft: { sign: [A, B], amend: [A, B], withdraw: [A, B] },
    'draft-signed-by-A': { sign: [A, B], amend: [A, B], withdraw: [A, B] },
    signed: { sign: [], amend: [A, B], withdraw: [A, B] },
    // A party named only in a draft may sign it, but neither amend nor withdraw what is in force.
    'signed+draft-adding-C': { sign: [A, B, C], amend: [A, B], withdraw: [A, B] },
    // Dropping a party needs that party's signature too: B is a signatory of the version in force.
    'signed+draft-dropping-B': { sign: [A, B, C], amend: [A, B], withdraw: [A, B] },
    withdrawn: { sign: [], amend: [], withdraw: [] },
  };
  const cg = (organisation: string) => ({ user: `cg-${organisation}`, roles: ['caldicott-guardian'], organisation });
  const terms = { title: 'Shared care', parties: [A, B], dataCategories: ['results' as const], purposes: ['direct-care' as const], start: '2025-01-01', end: null };

  async function layerIn(state: State): Promise<{ layer: AccessLayer; id: string }> {
    const agreements = new AgreementRegistry();
    const a = agreements.create(terms);
    if (state !== 'draft') agreements.sign(a.id, A, 'x');
    if (state !== 'draft' && state !== 'draft-signed-by-A') agreements.sign(a.id, B, 'y');
    if (state === 'signed+draft-adding-C') agreements.amend(a.id, { parties: [A, B, C] }, A);
    if (state === 'signed+draft-dropping-B') agreements.amend(a.id, { parties: [A, C] }, A);
    if (state === 'withdrawn') agreements.withdraw(a.id, A);
    const layer = createAccess({ source: sourceOf([], organisations()), audit: new MemoryAuditLog(), agreements, now: () => TODAY });
    return { layer, id: a.id };
  }

  async function tryAction(layer: AccessLayer, id: string, organisation: string, action: Action): Promise<boolean> {
    const actions = layer.as(cg(organisation), 'direct-care').agreements;
    try {
      if (action === 'sign') await actions.sign(id);
      else if (action === 'amend') await actions.amend(id, { title: 'Shared care (amended)' });
      else await actions.withdraw(id);
      return true;
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'CG_ACCESS_DENIED' || code === 'CG_ACCESS_AGREEMENT') return false;
      throw error;
    }
  }

  test('who may sign, amend and withdraw in every state, and what is in force after the changes that used to go wrong', async () => {
    let cells = 0;
    const mismatches: string[] = [];
    for (const state of Object.keys(EXPECTED) as State[]) {
      for (const action of ['sign', 'amend', 'withdraw'] as Action[]) {
        for (const organisation of [A, B, C, D]) {
          const { layer, id } = await layerIn(state); // a fresh world per cell: each action changes it
          const got = await tryAction(layer, id, organisation, action);
          const want = EXPECTED[state][action].includes(organisation);
          cells++;
          if (got !== want) mismatches.push(`${state} ${organisation} ${action}: expected ${want}, got ${got}`);
        }
      }
    }
    const inForce = (layer: AccessLayer) => layer.agreements.inForce('2025-04-15').map((a) => `v${a.version}:${a.parties.join('+')}`);
    const sequences: [string, () => Promise<string[]>, string[]][] = [
      // The other signatory can still withdraw after one party drafted an amendment naming new parties.
      ['B withdraws after A drafts an amendment adding C', async () => {
        const { layer, id } = await layerIn('signed+draft-adding-C');
        await tryAction(layer, id, B, 'withdraw');
        return inForce(layer);
      }, []],
      // A party added only in a draft cannot withdraw the signed agreement (nor amend it).
      ['C, named only in a draft, tries to withdraw and amend', async () => {
        const { layer, id } = await layerIn('signed+draft-adding-C');
        await tryAction(layer, id, C, 'withdraw');
        await tryAction(layer, id, C, 'amend');
        return inForce(layer);
      }, [`v1:${A}+${B}`]],
      // An amendment dropping B needs B's signature before it replaces the version in force.
      ['A and C sign a draft dropping B; then B signs', async () => {
        const { layer, id } = await layerIn('signed+draft-dropping-B');
        await tryAction(layer, id, A, 'sign');
        await tryAction(layer, id, C, 'sign');
        const before = inForce(layer);
        await tryAction(layer, id, B, 'sign');
        return [...before, '→', ...inForce(layer)];
      }, [`v1:${A}+${B}`, '→', `v2:${A}+${C}`]],
    ];
    for (const [name, run, want] of sequences) {
      cells++;
      const got = await run();
      if (JSON.stringify(got) !== JSON.stringify(want)) mismatches.push(`${name}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
    }
    console.log(`E1 agreement lifecycle: cells tested ${cells}; mismatches ${mismatches.length}`);
    expect(mismatches).toEqual([]);
  });
});
