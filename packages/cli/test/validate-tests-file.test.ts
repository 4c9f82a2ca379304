// Issue 12 §8: tests.yaml is checked as strictly as record files (real dates), against its registry, with the
// allowed values of an enum and the nearest key for a misspelt one.
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REGISTRIES, run } from './run.js';

/** A copy of the bundled diabetes folder whose tests.yaml is `text`. */
function diabetesWith(text: string): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'caregaps-tests-file-')), 'diabetes');
  cpSync(join(REGISTRIES, 'diabetes'), dir, { recursive: true });
  writeFileSync(join(dir, 'tests.yaml'), text);
  return dir;
}

const ON_REGISTER = (patient: string, eventDate = '2015-03-01') => `registry: diabetes
asOf: 2025-03-31
cases:
  - name: impossible date
    patient: ${patient}
    events:
      - { code: "44054006", date: ${eventDate} }
    expect: { register: false }
`;

describe('tests.yaml dates', () => {
  it.each([
    ['an event on 2015-02-30', ON_REGISTER('{ birthDate: 1960-01-01 }', '2015-02-30'), /cases\/0\/events\/0/],
    ['birthDate 1960-02-31', ON_REGISTER('{ birthDate: 1960-02-31 }'), /cases\/0\/patient/],
  ])('%s is refused with CG_RECORD_DATE by validate and by test', async (_name, text, where) => {
    const dir = diabetesWith(text);
    const validated = await run('validate', join(dir, 'tests.yaml'));
    expect(validated.code).toBe(1);
    expect(validated.err).toContain('[CG_RECORD_DATE]');
    expect(validated.err).toMatch(where);
    const tested = await run('test', dir);
    expect(tested.code).not.toBe(0);
    expect(tested.err).toContain('[CG_RECORD_DATE]');
  });
});

describe('caregaps validate tests.yaml', () => {
  it('checks the file against the registry beside it: unknown indicator, wrong registry id', async () => {
    const dir = diabetesWith(`registry: asthma
asOf: 2025-03-31
cases:
  - name: a
    events: [{ code: "44054006", date: 2015-03-01 }]
    expect: { register: true, indicators: { DM999: met } }
`);
    const { code, err } = await run('validate', join(dir, 'tests.yaml'));
    expect(code).toBe(1);
    expect(err).toMatch(/no indicator DM999/);
    expect(err).toMatch(/tests "asthma" but is run against "diabetes"/);
  });

  it('lists the allowed values of an enum', async () => {
    const dir = diabetesWith(`registry: diabetes
asOf: 2025-03-31
cases:
  - name: a
    expect: { register: true, indicators: { DM020: mett } }
`);
    const { err } = await run('validate', join(dir, 'tests.yaml'));
    expect(err).toMatch(/must be one of "met", "gap", "excepted", "not-applicable"/);
  });

  it('says "did you mean" for a near-miss key', async () => {
    const dir = diabetesWith(`registry: diabetes
asOf: 2025-03-31
cases:
  - name: a
    patient: { birthdate: 1960-01-01 }
    expect: { register: false }
`);
    const { err } = await run('validate', join(dir, 'tests.yaml'));
    expect(err).toMatch(/unknown key "birthdate"; did you mean "birthDate"\?/);
  });
});
