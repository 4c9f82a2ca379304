/**
 * Component names that are also Object.prototype members (issue 13, item 8): `toString`, `valueOf`, `constructor`
 * and `hasOwnProperty` are valid component names (`^[a-z][a-zA-Z0-9]{0,31}$`), and a rule or record using them must
 * be decided the same by the compiled evaluator and by json-rules-engine (the reference): only own components count.
 * (A rule file cannot use `constructor` as a key, so that name is tested through `component:` alone.)
 * The BP_COD code 163020007 is from codesets/BP_COD.csv (its header cites the source).
 */
import { describe, expect, it } from 'vitest';
import { CodesetIndex, CompiledRegistry, PatientStore, loadCodesets, parseDay, parseRegistry, preparePatient, type EventRecord } from '@caregaps/core';
import { ReferenceRegistry } from '@caregaps/core/reference';
import { CODESETS } from './fixtures/codesets.js';

const codesets = loadCodesets(CODESETS);
const index = new CodesetIndex(codesets);
const NAMES = ['toString', 'valueOf', 'constructor', 'hasOwnProperty'];
const BP = '163020007';

const registryText = (name: string) => `id: proto
title: t
version: "1"
source: { document: Caregaps test, version: "1" }
fields:
  BP_DAT: { latest: BP_COD${name === 'constructor' ? ', where: { value: { present: true } }' : `, where: { ${name}: { present: true } }`} }
  BP_ANY: { latest: BP_COD }
  BP_VAL: { valueFrom: BP_ANY, component: ${name} }
register:
  - rule: 1
    if: { any: [ { fact: BP_DAT, operator: notEqual, value: null }, { fact: BP_VAL, operator: notEqual, value: null } ] }
    then: select
    else: reject
indicators: []
`;

describe('components named like Object.prototype members', () => {
  it('are decided alike by the compiled evaluator and json-rules-engine', async () => {
    const asOf = parseDay('2025-03-31')!;
    // Events with no components, with other components, and with the named component itself.
    const shapes: (Record<string, number> | undefined)[] = [undefined, { systolic: 120, diastolic: 80 }];
    let cases = 0;
    const failures: string[] = [];
    for (const name of NAMES) {
      const registry = parseRegistry(registryText(name), 'proto.yaml', { codesets: index });
      const compiled = new CompiledRegistry(registry, index);
      const reference = new ReferenceRegistry(registry, codesets);
      for (const shape of [...shapes, { [name]: 5 }]) {
        for (const withOwn of [false, true]) {
          const store = new PatientStore();
          store.apply({ kind: 'patient', nhsNumber: '9434765919', birthDate: '1950-01-01', sex: 'male', practice: 'P1', registeredFrom: '2000-01-01' });
          const events: EventRecord[] = [{ kind: 'event', id: 'a', nhsNumber: '9434765919', code: BP, date: '2024-01-01', ...(shape ? { values: shape } : {}) }];
          // A second event, on another day, that does carry the component: the first must not borrow it.
          if (withOwn) events.push({ kind: 'event', id: 'b', nhsNumber: '9434765919', code: BP, date: '2023-01-01', values: { [name]: 7 } });
          for (const e of events) store.apply(e);
          const state = store.get('9434765919')!;
          const got = compiled.evaluate(preparePatient(state, index)!, asOf);
          const want = await reference.evaluate(state, asOf);
          // The oracle: on the register exactly when an event BP_DAT reads (any) or BP_VAL reads (the latest, "a") owns the component.
          const owns = (e: EventRecord) => e.values !== undefined && Object.hasOwn(e.values, name);
          const expected = name === 'constructor' ? owns(events[0]!) : events.some(owns);
          cases++;
          if (got.onRegister !== expected || want.onRegister !== expected) failures.push(JSON.stringify({ name, shape, withOwn, compiled: got.onRegister, reference: want.onRegister, expected }));
        }
      }
    }
    console.log(`prototype-named components: cases ${cases}; compiled/reference/oracle mismatches ${failures.length}`);
    expect(failures).toEqual([]);
  });
});
