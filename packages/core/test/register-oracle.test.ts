/**
 * B4 with a hand-written oracle: the diabetes register (QOF DM_REG / DM017) decided by the compiled evaluator over
 * the bundled rule file, against a few lines written here from the business rules themselves (BR-DM-v46 §3.2.1 and
 * §3.2.2.1, cited in registries/diabetes/registry.yaml): registered on the achievement date (not deregistered or dead
 * on or before it), a diabetes code on or before it, no diabetes-resolved code after the latest diabetes code (and on
 * or before the achievement date), aged 17 or over on it. The oracle shares no code with the evaluator (ages and
 * dates are compared as YYYY-MM-DD text). Generated patients sit on the boundaries: the 17th birthday, codes on the
 * achievement date and the day after, a resolution on the day of the diagnosis, deregistration and death on the day.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CompiledRegistry, PatientStore, formatDay, loadCodesets, loadRegistries, parseDay, preparePatient, CodesetIndex, type PatientRecord } from '@caregaps/core';
import { CODESETS, REGISTRIES } from './fixtures/codesets.js';

const SEED = 1717;
const ACHV = '2025-03-31';
const codesets = loadCodesets(CODESETS);
const index = new CodesetIndex(codesets);
const diabetes = new CompiledRegistry(loadRegistries(REGISTRIES, CODESETS, ['diabetes']).registries[0]!, index);
const firstCode = (cluster: string) => codesets.find((c) => c.cluster === cluster)!.codes.keys().next().value as string;
const DM = firstCode('DM_COD');
const DMRES = firstCode('DMRES_COD');

/** A day near the achievement date: the day itself, ±1, ±1 year, or anywhere in 10 years before. */
const day = (base: string) => fc.oneof(fc.constantFrom(-1, 0, 1, -365, 365), fc.integer({ min: -3650, max: 30 })).map((d) => formatDay(parseDay(base)! + d));

interface Person {
  birth: string;
  regFrom: string;
  regTo: string | null;
  death: string | null;
  dm: string[];
  dmres: string[];
}

const person: fc.Arbitrary<Person> = fc.record({
  // Around the 17th birthday on the achievement date, or any adult age.
  birth: fc.oneof(day('2008-03-31'), fc.integer({ min: 0, max: 60 * 365 }).map((d) => formatDay(parseDay('1940-01-01')! + d))),
  regFrom: day('2020-01-01'),
  regTo: fc.option(day(ACHV), { nil: null }),
  death: fc.option(day(ACHV), { freq: 4, nil: null }),
  dm: fc.array(day(ACHV), { maxLength: 3 }),
  dmres: fc.array(day(ACHV), { maxLength: 2 }),
});

/** The rules, from the document (dates as text: YYYY-MM-DD orders like the calendar). */
function oracle(p: Person): boolean {
  const registered = p.regFrom <= ACHV && (p.regTo === null || p.regTo > ACHV) && (p.death === null || p.death > ACHV);
  const dmDates = p.dm.filter((d) => d <= ACHV).sort();
  const latest = dmDates[dmDates.length - 1];
  if (!registered || latest === undefined) return false;
  const resolved = p.dmres.some((d) => d > latest && d <= ACHV);
  const [by, bm, bd] = p.birth.split('-').map(Number) as [number, number, number];
  const [ay, am, ad] = ACHV.split('-').map(Number) as [number, number, number];
  const age = ay - by - (am < bm || (am === bm && ad < bd) ? 1 : 0);
  return !resolved && age >= 17;
}

describe('B4 diabetes register against a hand-written oracle', () => {
  it('decides every generated patient as the business rules do, boundaries included', () => {
    let tried = 0;
    let mismatches = 0;
    let onRegister = 0;
    const boundaries = { 'turns 17 on the day': 0, 'code on the day': 0, 'code the day after': 0, 'resolved same day as diagnosis': 0, 'deregistered on the day': 0, 'died on the day': 0 };
    fc.assert(
      fc.property(person, (p) => {
        if (p.regFrom < p.birth || (p.death !== null && p.death < p.birth) || (p.regTo !== null && p.regTo < p.regFrom)) return;
        tried++;
        const store = new PatientStore();
        const patient: PatientRecord = { kind: 'patient', nhsNumber: '9434765919', birthDate: p.birth, sex: 'female', practice: 'P1', registeredFrom: p.regFrom, registeredTo: p.regTo, deathDate: p.death, optOuts: [] };
        store.apply(patient);
        p.dm.forEach((date, i) => store.apply({ kind: 'event', id: `dm${i}`, nhsNumber: patient.nhsNumber, code: DM, date }));
        p.dmres.forEach((date, i) => store.apply({ kind: 'event', id: `res${i}`, nhsNumber: patient.nhsNumber, code: DMRES, date }));
        const got = diabetes.evaluate(preparePatient(store.get(patient.nhsNumber)!, index)!, parseDay(ACHV)!).onRegister;
        const want = oracle(p);
        if (want) onRegister++;
        if (got !== want) mismatches++;
        if (p.birth === '2008-03-31') boundaries['turns 17 on the day']++;
        if (p.dm.includes(ACHV)) boundaries['code on the day']++;
        if (p.dm.includes('2025-04-01')) boundaries['code the day after']++;
        if (p.dmres.some((d) => p.dm.includes(d))) boundaries['resolved same day as diagnosis']++;
        if (p.regTo === ACHV) boundaries['deregistered on the day']++;
        if (p.death === ACHV) boundaries['died on the day']++;
      }),
      { numRuns: 5000, seed: SEED },
    );
    console.log(
      `B4 diabetes register vs hand-written oracle (seed ${SEED}): patients tried ${tried}; on the register ${onRegister}; mismatches ${mismatches}; ` +
        `boundary cases hit ${Object.entries(boundaries).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    );
    expect(tried).toBeGreaterThan(3000);
    expect(onRegister).toBeGreaterThan(300);
    expect(mismatches).toBe(0);
    for (const hits of Object.values(boundaries)) expect(hits).toBeGreaterThan(10);
  });
});
