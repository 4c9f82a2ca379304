// Issue 12 §13: an identifiable list is never silently empty because policy refused everyone on it. An ICB analyst
// (no care relationship with any practice's patients) is denied, audited as such; "no gaps" stays an empty list.
import { describe, expect, test } from 'vitest';
import { CaregapsError } from '@caregaps/core';
import { MemoryAuditLog, createAccess } from '@caregaps/access';
import { TODAY, nhsNumbers, organisations, sourceOf } from './fixture.js';

const [A, B] = nhsNumbers(2);
const source = sourceOf([
  { nhsNumber: A!, practice: 'P00001', diabetic: true, hba1c: 80 }, // DM020 gap
  { nhsNumber: B!, practice: 'P00001', diabetic: true, hba1c: 50 }, // DM020 met
], organisations());

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return error instanceof CaregapsError ? error.code : 'not a CaregapsError';
  }
}

describe('patients() is never an empty list that hides refusals', () => {
  test('an ICB analyst asking for gaps at practices it has no relationship with is denied, and the denial audited', async () => {
    const audit = new MemoryAuditLog();
    const view = createAccess({ source, audit, now: () => TODAY }).as({ user: 'icb-analyst', roles: ['analyst'], organisation: 'ICB01' }, 'secondary-use');
    expect(await codeOf(view.patients({ registry: 'diabetes', indicator: 'DM020' }))).toBe('CG_ACCESS_DENIED');
    const last = audit.entries().at(-1)!;
    expect(last).toMatchObject({ activity: 'view-patient-list', decision: 'deny' });
  });

  test('the practice\u2019s own analyst gets its list; a list nobody is on is an empty list, not a denial', async () => {
    const view = createAccess({ source, audit: new MemoryAuditLog(), now: () => TODAY }).as({ user: 'p1-analyst', roles: ['analyst'], organisation: 'P00001' }, 'secondary-use');
    expect((await view.patients({ registry: 'diabetes', indicator: 'DM020' })).map((r) => r.nhsNumber)).toEqual([A]);
    expect(await view.patients({ registry: 'diabetes', indicator: 'DM020', status: 'excepted' })).toEqual([]);
  });
});
