/**
 * The Modulus 11 check digit of an NHS number's first nine digits (weights 10 down to 2), or -1 when a character is
 * not a digit or the remainder gives 10, which no valid number has.
 */
function checkDigit(digits: string): number {
  let sum = 0;
  for (let i = 0; i < 9; i++) {
    const digit = digits.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    sum += digit * (10 - i);
  }
  const check = 11 - (sum % 11);
  return check === 11 ? 0 : check === 10 ? -1 : check;
}

/** NHS number check: 10 digits whose last is the Modulus 11 check digit of the first nine. */
export function isValidNhsNumber(value: string): boolean {
  if (typeof value !== 'string' || value.length !== 10) return false;
  const expected = checkDigit(value);
  return expected >= 0 && expected === value.charCodeAt(9) - 48;
}

/**
 * The NHS number with the given nine-digit stem and its check digit, or `undefined` when that stem has no valid
 * check digit. Used to mint test-range numbers (999 000 0000 onwards) for synthetic and foreign data.
 */
export function withCheckDigit(stem: number): string | undefined {
  const digits = String(stem).padStart(9, '0');
  const digit = checkDigit(digits);
  return digit < 0 ? undefined : digits + String(digit);
}
