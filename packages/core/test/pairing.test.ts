// Same-date pairing and age at a date, on hand-worked patients: the compiled evaluator and the json-rules-engine
// reference must both give the values worked out below (the differential test only checks that they agree).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CodesetIndex, CompiledRegistry, PatientStore, loadCodesets, parseDay, parseRegistry, preparePatient, type EventRecord } from '@caregaps/core';
import { ReferenceRegistry } from '@caregaps/core/reference';
import { CODESETS } from './fixtures/codesets.js';

const codesets = loadCodesets(CODESETS);
const index = new CodesetIndex(codesets);

// Codes from codesets/BP_COD.csv and codesets/HTMAX_COD.csv. HTMAX_COD stands in for a systolic cluster (SYSBP_COD,
// whose content is not bundled): any record of it on the reading's date gives its value as the systolic.
const SYSTOLIC = '163030003'; // On examination - Systolic blood pressure reading (BP_COD)
const DIASTOLIC = '163031004'; // On examination - Diastolic blood pressure reading (BP_COD)
const PAIRED = '407567007'; // HTMAX_COD

const registry = parseRegistry(
  `id: pairing
title: t
version: "1"
source: { document: test, version: "1" }
fields:
  BP_DAT: { latest: BP_COD, pairByDate: { systolic: HTMAX_COD }, where: { systolic: { present: true }, diastolic: { present: true } } }
  BPSYS_VAL: { valueFrom: BP_DAT, component: systolic }
  BPDIA_VAL: { valueFrom: BP_DAT, component: diastolic }
  BPFIRST_DAT: { earliest: BP_COD, pairByDate: true, where: { diastolic: { lessThanInclusive: 90 } } }
  AGE_AT_BP: { ageAt: BP_DAT }
  AGE_NEXT_YEAR: { ageAt: "ACHV_DAT + 12 months" }
register:
  - rule: 1
    if: { fact: PAT_AGE, operator: greaterThanInclusive, value: 0 }
    then: select
    else: reject
indicators:
  - id: BP
    title: BP ≤ 140/90
    denominator:
      - { rule: 1, if: { fact: BP_DAT, operator: equal, value: null }, then: { reject: not-applicable }, else: select }
    numerator:
      - rule: 1
        if: { all: [ { fact: BPDIA_VAL, operator: lessThanInclusive, value: 90 }, { fact: BPSYS_VAL, operator: lessThanInclusive, value: 140 } ] }
        then: select
        else: reject
  - id: FIRST
    title: first reading with diastolic ≤ 90 on or before 2025-01-01
    denominator:
      - { rule: 1, if: { fact: BPFIRST_DAT, operator: equal, value: null }, then: { reject: not-applicable }, else: select }
    numerator:
      - { rule: 1, if: { fact: BPFIRST_DAT, operator: onOrBefore, value: "2025-01-01" }, then: select, else: reject }
  - id: AGE
    title: aged 60 or over at the reading, and 61 a year after ACHV_DAT (an older patient is a gap)
    denominator:
      - { rule: 1, if: { fact: AGE_AT_BP, operator: greaterThanInclusive, value: 60 }, then: select, else: { reject: not-applicable } }
    numerator:
      - { rule: 1, if: { fact: AGE_NEXT_YEAR, operator: equal, value: 61 }, then: select, else: reject }
`,
  'pairing.yaml',
  { codesets: index },
);
const compiled = new CompiledRegistry(registry, index);
const reference = new ReferenceRegistry(registry, codesets);
const AS_OF = parseDay('2025-03-31')!;

type Event = { code: string; date: string; value?: number; values?: Record<string, number> };

async function evaluate(events: Event[], birthDate = '1964-06-15') {
  const store = new PatientStore();
  store.apply({ kind: 'patient', nhsNumber: '9990000018', birthDate, sex: 'female', practice: 'T1', registeredFrom: '2000-01-01', registeredTo: null, deathDate: null });
  events.forEach((e, n) => store.apply({ kind: 'event', id: `e${n}`, nhsNumber: '9990000018', ...e } as EventRecord));
  const state = store.get('9990000018')!;
  const got = compiled.evaluate(preparePatient(state, index)!, AS_OF, { explain: true });
  const want = await reference.evaluate(state, AS_OF);
  expect({ onRegister: got.onRegister, statuses: got.statuses }).toEqual(want);
  const facts = Object.assign({}, ...got.explanation!.indicators.map((i) => ({ ...i.denominator.facts, ...i.numerator?.facts })));
  const value = (name: string) => facts[name]?.value ?? null;
  return { statuses: Object.fromEntries(compiled.indicatorIds.map((id, i) => [id, got.statuses[i]])), value };
}

const day = (text: string) => parseDay(text)!;

describe('pairByDate: the records of one date form one reading', () => {
  it('pairs a systolic-only and a diastolic-only record of one date', async () => {
    const r = await evaluate([
      { code: SYSTOLIC, date: '2025-01-10', values: { systolic: 138 } },
      { code: DIASTOLIC, date: '2025-01-10', values: { diastolic: 88 } },
    ]);
    expect([r.value('BP_DAT'), r.value('BPSYS_VAL'), r.value('BPDIA_VAL')]).toEqual([day('2025-01-10'), 138, 88]);
    expect(r.statuses['BP']).toBe('met');
  });

  it('does not pair components recorded on different dates', async () => {
    const r = await evaluate([
      { code: SYSTOLIC, date: '2025-01-10', values: { systolic: 138 } },
      { code: DIASTOLIC, date: '2025-01-11', values: { diastolic: 88 } },
    ]);
    expect(r.statuses['BP']).toBe('not-applicable');
  });

  it('takes the systolic from a record of the named cluster on the date (its value), the diastolic from the field\'s own', async () => {
    const r = await evaluate([
      { code: PAIRED, date: '2025-02-01', value: 150 },
      { code: DIASTOLIC, date: '2025-02-01', values: { diastolic: 80 } },
      { code: SYSTOLIC, date: '2024-12-01', values: { systolic: 120, diastolic: 70 } },
    ]);
    expect([r.value('BP_DAT'), r.value('BPSYS_VAL'), r.value('BPDIA_VAL')]).toEqual([day('2025-02-01'), 150, 80]);
    expect(r.statuses['BP']).toBe('gap');
  });

  it('does not take a date from the named cluster alone: the date is a record of the field\'s own clusters', async () => {
    const r = await evaluate([
      { code: PAIRED, date: '2025-02-01', value: 150 },
      { code: SYSTOLIC, date: '2024-12-01', values: { systolic: 120, diastolic: 70 } },
    ]);
    expect(r.value('BP_DAT')).toBe(day('2024-12-01'));
    expect(r.statuses['BP']).toBe('met');
  });

  it('reads the lowest of several values of one component on the date', async () => {
    const r = await evaluate([
      { code: SYSTOLIC, date: '2025-01-10', values: { systolic: 152 } },
      { code: SYSTOLIC, date: '2025-01-10', values: { systolic: 139 } },
      { code: DIASTOLIC, date: '2025-01-10', values: { diastolic: 90 } },
    ]);
    expect([r.value('BPSYS_VAL'), r.value('BPDIA_VAL')]).toEqual([139, 90]);
    expect(r.statuses['BP']).toBe('met');
  });

  it('tests where per component against any value of the date: 90 passes ≤ 90, 91 does not', async () => {
    const on = await evaluate([
      { code: DIASTOLIC, date: '2024-12-31', values: { diastolic: 91 } },
      { code: DIASTOLIC, date: '2025-01-02', values: { diastolic: 90 } },
    ]);
    expect(on.value('BPFIRST_DAT')).toBe(day('2025-01-02'));
    expect(on.statuses['FIRST']).toBe('gap');
    const both = await evaluate([
      { code: DIASTOLIC, date: '2024-12-31', values: { diastolic: 95 } },
      { code: SYSTOLIC, date: '2024-12-31', values: { diastolic: 90 } },
    ]);
    expect(both.value('BPFIRST_DAT')).toBe(day('2024-12-31'));
    expect(both.statuses['FIRST']).toBe('met');
  });
});

describe('ageAt: age in full years on a date', () => {
  it('is 60 on the 60th birthday and 59 the day before', async () => {
    const reading = (date: string): Event[] => [
      { code: SYSTOLIC, date, values: { systolic: 130 } },
      { code: DIASTOLIC, date, values: { diastolic: 80 } },
    ];
    const on = await evaluate(reading('2024-06-15'));
    expect(on.value('AGE_AT_BP')).toBe(60);
    expect(on.statuses['AGE']).not.toBe('not-applicable');
    const before = await evaluate(reading('2024-06-14'));
    expect(before.value('AGE_AT_BP')).toBe(59);
    expect(before.statuses['AGE']).toBe('not-applicable');
  });

  it('moves with an anchored date: 62 a year after 31 March 2025 for a birthday on 31 March, 61 for 1 April', async () => {
    const reading: Event[] = [
      { code: SYSTOLIC, date: '2025-01-10', values: { systolic: 130 } },
      { code: DIASTOLIC, date: '2025-01-10', values: { diastolic: 80 } },
    ];
    expect((await evaluate(reading, '1964-03-31')).value('AGE_NEXT_YEAR')).toBe(62);
    expect((await evaluate(reading, '1964-04-01')).value('AGE_NEXT_YEAR')).toBe(61);
  });

  it('is Null when its date is Null', async () => {
    const r = await evaluate([]);
    expect(r.value('AGE_AT_BP')).toBeNull();
    expect(r.statuses['AGE']).toBe('not-applicable');
  });
});

describe('pairing, compiled and reference, on records crowded onto a few dates', () => {
  it('agree whatever components and values the records of a date carry', async () => {
    const event = fc.record(
      {
        code: fc.constantFrom(SYSTOLIC, DIASTOLIC, PAIRED),
        date: fc.constantFrom('2024-06-14', '2024-06-15', '2025-01-02', '2025-03-31', '2025-04-01'),
        value: fc.integer({ min: 60, max: 160 }),
        systolic: fc.integer({ min: 100, max: 170 }),
        diastolic: fc.integer({ min: 60, max: 100 }),
      },
      { requiredKeys: ['code', 'date'] },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(event, { maxLength: 8 }), async (events) => {
        await evaluate(
          events.map(({ code, date, value, systolic, diastolic }) => {
            const e: Event = { code, date };
            if (value !== undefined) e.value = value;
            if (systolic !== undefined || diastolic !== undefined) e.values = { ...(systolic !== undefined ? { systolic } : {}), ...(diastolic !== undefined ? { diastolic } : {}) };
            return e;
          }),
        );
      }),
      { numRuns: 300 },
    );
  });
});
