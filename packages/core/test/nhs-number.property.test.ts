/**
 * A3: NHS number validity against an oracle that shares no code with the library. The library computes a check
 * digit (11 − (Σ dᵢ·(11−i) mod 11), 11 → 0, 10 → no valid number) and compares it; the oracle uses the equivalent
 * whole-number form of Modulus 11 (NHS Data Dictionary, NHS NUMBER): ten ASCII digits whose weighted sum with
 * weights 10, 9, …, 2, 1 is divisible by 11. (A stem whose check digit would be 10 has no digit that makes the sum
 * divisible, so it is refused in both forms.)
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isValidNhsNumber, withCheckDigit } from '@caregaps/core';

const SEED = 20261206;

function oracle(value: string): boolean {
  if (value.length !== 10) return false;
  let sum = 0;
  for (let i = 0; i < 10; i++) {
    const c = value[i]!;
    if (c < '0' || c > '9') return false;
    sum += Number(c) * (10 - i);
  }
  return sum % 11 === 0;
}

const digits = (n: number) => fc.array(fc.constantFrom(...'0123456789'), { minLength: n, maxLength: n }).map((a) => a.join(''));
/** Ten digits made valid by choosing the last digit with the oracle (about 1 in 11 random strings are). */
const valid = digits(9).map((stem) => [...'0123456789'].map((d) => stem + d).find(oracle)).filter((s): s is string => s !== undefined);
const nearMisses = fc.oneof(
  digits(10).map((s) => ` ${s}`),
  digits(10).map((s) => `${s} `),
  digits(10).map((s) => `${s.slice(0, 3)} ${s.slice(3, 6)} ${s.slice(6)}`),
  digits(9),
  digits(11),
  digits(10).map((s) => s.replace(/\d/, (d) => String.fromCharCode(0xff10 + Number(d)))), // full-width digit
  digits(10).map((s) => s.replace(/\d/, (d) => String.fromCharCode(0x0660 + Number(d)))), // Arabic-Indic digit
  digits(9).map((s) => `+${s}`),
  fc.string({ minLength: 10, maxLength: 10 }),
);

describe('A3 NHS numbers against an independent Modulus 11 oracle', () => {
  it('accepts exactly the valid numbers: random, valid-by-construction and near-miss strings', () => {
    let tried = 0;
    let falseAccepts = 0;
    let falseRejects = 0;
    let validSeen = 0;
    fc.assert(
      fc.property(fc.oneof(digits(10), valid, nearMisses), (value) => {
        tried++;
        const want = oracle(value);
        const got = isValidNhsNumber(value);
        if (want) validSeen++;
        if (got && !want) falseAccepts++;
        if (!got && want) falseRejects++;
      }),
      { numRuns: 20_000, seed: SEED },
    );
    console.log(`A3 NHS numbers (seed ${SEED}): numbers tried ${tried}; valid among them ${validSeen}; false accepts ${falseAccepts}; false rejects ${falseRejects}`);
    expect(validSeen).toBeGreaterThan(2000);
    expect(falseAccepts).toBe(0);
    expect(falseRejects).toBe(0);
  });

  it('mints a valid number for exactly the stems that have one', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 999_999_999 }), (stem) => {
        const minted = withCheckDigit(stem);
        const stemText = String(stem).padStart(9, '0');
        const any = [...'0123456789'].some((d) => oracle(stemText + d));
        expect(minted === undefined ? !any : oracle(minted) && minted.startsWith(stemText)).toBe(true);
      }),
      { numRuns: 5000, seed: SEED },
    );
    // Published example in DESIGN §3.1, and its neighbour with a wrong check digit.
    expect([isValidNhsNumber('9434765919'), oracle('9434765919'), isValidNhsNumber('9434765918')]).toEqual([true, true, false]);
  });
});
