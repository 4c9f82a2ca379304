// isFhirId replaces the regular expression of the FHIR id type; it must accept exactly what the expression accepts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isFhirId } from '../src/resources.js';

const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

describe('isFhirId', () => {
  it('agrees with the FHIR id expression', () => {
    const idChar = fc.constantFrom(...'aZ09-._/ \n😀é'.split(''), ...'az'.split(''));
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 70 }), fc.array(idChar, { maxLength: 70 }).map((c) => c.join(''))), (id) => {
        expect(isFhirId(id)).toBe(FHIR_ID.test(id));
      }),
      { numRuns: 5000 },
    );
    for (const n of [0, 1, 64, 65]) expect(isFhirId('a'.repeat(n))).toBe(FHIR_ID.test('a'.repeat(n)));
  });
});
