/**
 * The opt-out register: a data controller records and removes opt-outs of its registered patients through the access
 * layer (decided and audited), and every later decision honours them at once — lists, counts and the record view —
 * on top of the opt-outs the patient records carry. Oracles: the fixture's own patient specs.
 */
import { describe, expect, test } from 'vitest';
import { Engine } from '@caregaps/engine';
import { AgreementRegistry, MemoryAuditLog, OptOutRegister, createAccess, withAccess, type Principal } from '../src/index.js';
import { HOSPITAL, TODAY, diabetes, nhsNumbers, organisations, recordsOf, sourceOf } from './fixture.js';

const [A, B, C] = nhsNumbers(3, 410_000_000) as [string, string, string];
const guardian: Principal = { user: 'cg-1', roles: ['caldicott-guardian'], organisation: 'P00001' };
const otherGuardian: Principal = { user: 'cg-2', roles: ['caldicott-guardian'], organisation: 'P00002' };
const gp: Principal = { user: 'gp-1', roles: ['clinical-practitioner'], organisation: 'P00001' };
const hospitalNurse: Principal = { user: 'n-1', roles: ['nurse'], organisation: HOSPITAL, careTeams: ['outreach'] };
const analyst: Principal = { user: 'an-1', roles: ['analyst'], organisation: 'P00001' };

function setUp(register = new OptOutRegister()) {
  const audit = new MemoryAuditLog();
  const source = sourceOf([
    { nhsNumber: A, practice: 'P00001', diabetic: true, hba1c: 80, hospitalCholesterol: true },
    { nhsNumber: B, practice: 'P00001', diabetic: true, hba1c: 85 },
    { nhsNumber: C, practice: 'P00002', diabetic: true, hba1c: 90 },
  ]);
  const agreements = new AgreementRegistry();
  const access = createAccess({
    source,
    audit,
    agreements,
    optOutRegister: register,
    careTeams: [{ id: 'outreach', organisation: HOSPITAL, patients: [A] }],
    refusalFloorMs: 0,
    now: () => TODAY,
  });
  return { access, audit };
}

describe('opt-out register', () => {
  test('a secondary-use opt-out recorded by the data controller leaves lists and counts at once; removing it brings the patient back', async () => {
    const { access, audit } = setUp();
    const listed = async () => (await access.as(analyst, 'secondary-use').patients({ registry: 'diabetes', indicator: 'DM020' })).map((r) => r.nhsNumber);
    expect(await listed()).toEqual([A, B].sort());
    const entry = await access.as(guardian, 'direct-care').optOuts.add({ nhsNumber: A, type: 'secondary-use', date: '2025-04-10' });
    expect(entry).toMatchObject({ nhsNumber: A, type: 'secondary-use', date: '2025-04-10', recordedBy: 'cg-1', organisation: 'P00001', recordedAt: TODAY.toISOString() });
    expect(audit.entries().at(-1)).toMatchObject({ activity: 'manage-opt-outs', resource: 'opt-out:secondary-use:add', patient: A, user: 'cg-1', decision: 'allow' });
    expect(await listed()).toEqual([B]);
    const summary = await access.as(analyst, 'secondary-use').summary({ level: 'practice', registry: 'diabetes' });
    expect(summary.excludedPatients).toBe('*'); // one patient left out, published through suppression
    // Direct care by the registered practice is untouched by any opt-out.
    expect((await access.as(gp, 'direct-care').patient(A)).nhsNumber).toBe(A);
    await access.as(guardian, 'direct-care').optOuts.remove({ nhsNumber: A, type: 'secondary-use' });
    expect(audit.entries().at(-1)).toMatchObject({ resource: 'opt-out:secondary-use:remove', patient: A, decision: 'allow' });
    expect(await listed()).toEqual([A, B].sort());
  });

  test('a shared-record opt-out hides the practice’s records from a care team at another organisation', async () => {
    const { access } = setUp();
    const agreement = access.agreements.create({ title: 'x', parties: ['P00001', HOSPITAL], dataCategories: ['problems', 'results', 'registry-statuses'], purposes: ['direct-care'], start: '2025-01-01', end: null });
    access.agreements.sign(agreement.id, 'P00001', 'cg-1');
    access.agreements.sign(agreement.id, HOSPITAL, 'cg-h');
    const sources = async () => {
      const view = await access.as(hospitalNurse, 'direct-care').patient(A);
      return [...view.categories.problems, ...view.categories.results].map((e) => e.source).sort();
    };
    expect(await sources()).toEqual([HOSPITAL, 'P00001', 'P00001']);
    await access.as(guardian, 'direct-care').optOuts.add({ nhsNumber: A, type: 'shared-record' });
    expect(await sources()).toEqual([HOSPITAL]);
  });

  test('only the registered practice’s data controller may change or list a patient’s opt-outs; refusals are audited', async () => {
    const { access, audit } = setUp();
    await expect(access.as(otherGuardian, 'direct-care').optOuts.add({ nhsNumber: A, type: 'type-1' })).rejects.toMatchObject({ code: 'CG_ACCESS_DENIED' });
    expect(audit.entries().at(-1)).toMatchObject({ activity: 'manage-opt-outs', patient: A, decision: 'deny', rule: expect.stringContaining('no-legitimate-relationship') });
    await expect(access.as(gp, 'direct-care').optOuts.add({ nhsNumber: A, type: 'type-1' })).rejects.toMatchObject({ code: 'CG_ACCESS_DENIED' });
    expect(access.optOuts.held(A)).toEqual([]);
    await access.as(guardian, 'direct-care').optOuts.add({ nhsNumber: A, type: 'type-1' });
    await access.as(otherGuardian, 'direct-care').optOuts.add({ nhsNumber: C, type: 'national-data-opt-out' });
    await access.as(guardian, 'direct-care').optOuts.remove({ nhsNumber: A, type: 'type-1' });
    const mine = await access.as(guardian, 'direct-care').optOuts.list();
    expect(mine.map((e) => [e.nhsNumber, e.type, e.removed?.by])).toEqual([[A, 'type-1', 'cg-1']]);
    expect(audit.entries().at(-1)).toMatchObject({ resource: 'opt-out-register', patients: [A], decision: 'allow' });
    await expect(access.as(gp, 'direct-care').optOuts.list()).rejects.toMatchObject({ code: 'CG_ACCESS_DENIED' });
  });

  test('refuses a duplicate, a future date, a removal of nothing; the register saves and restores', async () => {
    const { access } = setUp();
    const as = access.as(guardian, 'direct-care').optOuts;
    await as.add({ nhsNumber: B, type: 'type-1', date: '2025-03-01' });
    await expect(as.add({ nhsNumber: B, type: 'type-1' })).rejects.toThrow(/already holds a type-1 opt-out/);
    await expect(as.add({ nhsNumber: B, type: 'secondary-use', date: '2025-05-01' })).rejects.toThrow(/in the future/);
    await expect(as.add({ nhsNumber: B, type: 'secondary-use', date: '2025-02-30' })).rejects.toThrow(/real date/);
    await expect(as.add({ nhsNumber: B, type: 'marketing' as never })).rejects.toThrow(/must be one of/);
    await expect(as.remove({ nhsNumber: B, type: 'secondary-use' })).rejects.toThrow(/holds no secondary-use opt-out/);
    const restored = new OptOutRegister(JSON.parse(JSON.stringify(access.optOuts)));
    expect(restored.held(B)).toEqual(['type-1']);
    const again = setUp(restored);
    await expect(again.access.as(analyst, 'secondary-use').patients({ registry: 'diabetes', indicator: 'DM020' })).resolves.toEqual([expect.objectContaining({ nhsNumber: A })]);
  });
});

describe('opt-out register over the incremental engine (the population index path)', () => {
  test('counts and lists read through the engine\'s index honour an opt-out the moment it is recorded or removed', async () => {
    const { compiled, index } = diabetes();
    const engine = new Engine({ compiled, index, asOf: '2025-03-31', organisations: organisations() });
    const patients = nhsNumbers(20, 420_000_000);
    for (const nhsNumber of patients) for (const r of recordsOf({ nhsNumber, practice: 'P00001', diabetic: true, hba1c: 80 })) engine.apply(r);
    const access = withAccess(engine, { compiled, index, audit: new MemoryAuditLog(), refusalFloorMs: 0, now: () => TODAY });
    expect(access.source.index, 'the indexed path is in use').toBeDefined();
    const onRegister = async () => (await access.as(analyst, 'secondary-use').summary({ level: 'practice', registry: 'diabetes' })).rows.find((r) => r.organisation === 'P00001' && r.measure === 'on-register')!.count;
    const listed = async () => (await access.as(analyst, 'secondary-use').patients({ registry: 'diabetes', indicator: 'DM020' })).length;
    expect(await onRegister()).toBe(20);
    expect(await listed()).toBe(20);
    for (const nhsNumber of patients.slice(0, 10)) await access.as(guardian, 'direct-care').optOuts.add({ nhsNumber, type: 'national-data-opt-out' });
    expect(await onRegister()).toBe(10);
    expect(await listed()).toBe(10);
    for (const nhsNumber of patients.slice(0, 5)) await access.as(guardian, 'direct-care').optOuts.remove({ nhsNumber, type: 'national-data-opt-out' });
    expect(await onRegister()).toBe(15);
    expect(await listed()).toBe(15);
    engine.close();
  });
});
