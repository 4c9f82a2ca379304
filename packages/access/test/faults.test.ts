/**
 * E3 fail-closed under injected policy faults, F2 audit atomicity (a failing sink refuses the access), and the
 * plugin registration checks.
 */
import { describe, expect, test } from 'vitest';
import {
  MemoryAuditLog,
  builtInPolicies,
  createAccess,
  AgreementRegistry,
  type AccessPolicy,
  type AccessView,
  type AuditEvent,
  type AuditSink,
  type ChainedAuditEvent,
  type Verdict,
} from '../src/index.js';
import { TODAY, nhsNumbers, organisations, sourceOf } from './fixture.js';

const PRACTICE = 'P00001';
const [NHS] = nhsNumbers(1);
const source = sourceOf([{ nhsNumber: NHS!, practice: PRACTICE, diabetic: true, hba1c: 80 }], organisations());
const GP = { user: 'gp', roles: ['clinical-practitioner'], organisation: PRACTICE };

/** Faults a policy can have: each is injected into `decide` and, separately, into `visible`. */
const FAULTS: Record<string, () => Verdict | Promise<Verdict>> = {
  throws: () => {
    throw new Error('policy crashed');
  },
  rejects: () => Promise.reject(new Error('lookup failed')),
  'never answers': () => new Promise<Verdict>(() => {}),
  'answers too late': () => new Promise<Verdict>((resolve) => setTimeout(() => resolve({ decision: 'allow', rule: 'late' }), 200)),
  undefined: () => undefined as unknown as Verdict,
  null: () => null as unknown as Verdict,
  'unknown decision': () => ({ decision: 'permit', rule: 'x' }) as unknown as Verdict,
  'no rule': () => ({ decision: 'allow' }) as unknown as Verdict,
  'allow string': () => 'allow' as unknown as Verdict,
  'throws a non-error': () => {
    throw 'boom';
  },
};

/** Every allowed-by-default call of the API, each returning whether it gave data. */
const CALLS: Record<string, (view: AccessView) => Promise<boolean>> = {
  record: async (v) => (await v.patient(NHS!)).nhsNumber === NHS,
  list: async (v) => (await v.patients({ registry: 'diabetes' })).length > 0,
  export: async (v) => (await v.exportGapList({ registry: 'diabetes' })).rowCount > 0,
  summary: async (v) => (await v.summary({ level: 'practice' })).rows.length > 0 && (await v.summary({ level: 'practice' })).excludedPatients === 0,
};

async function allowed(call: () => Promise<boolean>): Promise<boolean> {
  try {
    return await call();
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'CG_ACCESS_DENIED' || code === 'CG_AUDIT_WRITE') return false;
    throw error;
  }
}

describe('E3 fail-closed', () => {
  test('a thrown error, a timeout or a missing or malformed answer denies: 0 allows under fault', async () => {
    // Baseline: without faults every call gives data, so a denial below is caused by the fault.
    const baseline = createAccess({ source, audit: new MemoryAuditLog(), now: () => TODAY }).as(GP, 'direct-care');
    for (const call of Object.values(CALLS)) expect(await allowed(() => call(baseline))).toBe(true);

    let faults = 0;
    let allowsUnderFault = 0;
    let itemsShownUnderFault = 0;
    for (const [name, fault] of Object.entries(FAULTS)) {
      const faulty: AccessPolicy = { meta: { name: 'faulty', version: '1.0.0', decides: `injected fault: ${name}` }, decide: fault };
      const layer = createAccess({
        source,
        audit: new MemoryAuditLog(),
        now: () => TODAY,
        policyTimeoutMs: 30,
        policies: [...builtInPolicies({ agreements: new AgreementRegistry() }), faulty],
      });
      for (const call of Object.values(CALLS)) {
        faults++;
        if (await allowed(() => call(layer.as(GP, 'direct-care')))) allowsUnderFault++;
      }
      // The same fault in an item-level check hides every item (and the registry statuses) of an allowed view.
      const hiding: AccessPolicy = {
        meta: { name: 'faulty-items', version: '1.0.0', decides: `injected item fault: ${name}` },
        decide: () => ({ decision: 'not-applicable', rule: 'items-only' }),
        visible: fault,
      };
      const itemLayer = createAccess({
        source,
        audit: new MemoryAuditLog(),
        now: () => TODAY,
        policyTimeoutMs: 30,
        policies: [...builtInPolicies({ agreements: new AgreementRegistry() }), hiding],
      });
      const view = await itemLayer.as(GP, 'direct-care').patient(NHS!);
      faults++;
      itemsShownUnderFault += Object.values(view.categories).flat().length + (view.registries ? view.registries.length : 0);
    }
    console.log(`E3 fail-closed: faults injected ${faults}; allows under fault ${allowsUnderFault}; record items shown under item-check fault ${itemsShownUnderFault}`);
    expect(faults).toBe(Object.keys(FAULTS).length * (Object.keys(CALLS).length + 1));
    expect(allowsUnderFault).toBe(0);
    expect(itemsShownUnderFault).toBe(0);
  });

  test('no policies, or only policies with no say, deny', async () => {
    const abstain: AccessPolicy = { meta: { name: 'abstain', version: '1.0.0', decides: 'nothing' }, decide: () => ({ decision: 'not-applicable', rule: 'n/a' }) };
    for (const policies of [[], [abstain]]) {
      const view = createAccess({ source, audit: new MemoryAuditLog(), policies, now: () => TODAY }).as(GP, 'direct-care');
      await expect(view.patient(NHS!)).rejects.toMatchObject({ code: 'CG_ACCESS_DENIED' });
    }
  });

  test('malformed principals and unknown purposes deny', async () => {
    const layer = createAccess({ source, audit: new MemoryAuditLog(), now: () => TODAY });
    for (const [principal, purpose] of [
      [{ ...GP, user: '' }, 'direct-care'],
      [{ ...GP, roles: 'clinical-practitioner' }, 'direct-care'],
      [null, 'direct-care'],
      [GP, 'research'],
      [GP, undefined],
    ] as const) {
      await expect(layer.as(principal as never, purpose as never).patient(NHS!)).rejects.toMatchObject({ code: 'CG_ACCESS_DENIED' });
    }
  });

  test('policy plugins are checked at registration', () => {
    const good = { meta: { name: 'ok', version: '1.2.3', decides: 'x' }, decide: () => ({ decision: 'allow', rule: 'r' }) };
    const bad: unknown[] = [
      null,
      { decide: good.decide },
      { meta: { name: 'Bad Name', version: '1.0.0', decides: 'x' }, decide: good.decide },
      { meta: { name: 'v', version: 'one', decides: 'x' }, decide: good.decide },
      { meta: { name: 'd', version: '1.0.0', decides: '' }, decide: good.decide },
      { meta: { name: 'f', version: '1.0.0', decides: 'x' } },
      { meta: { name: 'g', version: '1.0.0', decides: 'x' }, decide: good.decide, visible: 'yes' },
    ];
    for (const policy of bad) {
      expect(() => createAccess({ source, audit: new MemoryAuditLog(), policies: [policy] })).toThrow(expect.objectContaining({ code: 'CG_ACCESS_POLICY' }));
    }
    expect(() => createAccess({ source, audit: new MemoryAuditLog(), policies: [good, good] })).toThrow(expect.objectContaining({ code: 'CG_ACCESS_POLICY' }));
    expect(createAccess({ source, audit: new MemoryAuditLog(), policies: [good] }).policies.meta).toEqual([good.meta]);
  });
});

describe('F2 audit atomicity', () => {
  test('when the audit write fails or rejects, the access is refused and no data is returned', async () => {
    const failures: Record<string, AuditSink> = {
      throws: { append: () => { throw new Error('disk full'); }, entries: () => [] },
      rejects: { append: () => Promise.reject(new Error('EIO')), entries: () => [] },
      'refuses clinical fields': {
        append: (event: AuditEvent) => new MemoryAuditLog().append({ ...event, code: '44054006' } as AuditEvent),
        entries: () => [] as ChainedAuditEvent[],
      },
    };
    let faults = 0;
    let accessesWithoutAudit = 0;
    for (const sink of Object.values(failures)) {
      const layer = createAccess({ source, audit: sink, now: () => TODAY });
      for (const call of Object.values(CALLS)) {
        faults++;
        try {
          await call(layer.as(GP, 'direct-care'));
          accessesWithoutAudit++;
        } catch (error) {
          expect((error as { code?: string }).code).toBe('CG_AUDIT_WRITE');
        }
      }
    }
    console.log(`F2 audit atomicity: sink faults ${faults}; accesses without audit ${accessesWithoutAudit}`);
    expect(accessesWithoutAudit).toBe(0);
  });
});
