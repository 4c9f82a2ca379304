/**
 * NHS number check: 10 digits whose last is the Modulus 11 check digit of the first nine
 * (weights 10 down to 2; a remainder giving check digit 10 means the number is invalid).
 */
export function isValidNhsNumber(value: string): boolean {
  if (typeof value !== 'string' || value.length !== 10) return false;
  let sum = 0;
  for (let i = 0; i < 9; i++) {
    const digit = value.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return false;
    sum += digit * (10 - i);
  }
  const last = value.charCodeAt(9) - 48;
  const check = 11 - (sum % 11);
  const expected = check === 11 ? 0 : check;
  return expected !== 10 && expected === last;
}

/**
 * The NHS number with the given nine-digit stem and its check digit, or `undefined` when that stem has no valid
 * check digit. Used to mint test-range numbers (999 000 0000 onwards) for synthetic and foreign data.
 */
export function withCheckDigit(stem: number): string | undefined {
  const digits = String(stem).padStart(9, '0');
  let sum = 0;
  for (let i = 0; i < 9; i++) sum += (digits.charCodeAt(i) - 48) * (10 - i);
  const check = 11 - (sum % 11);
  const digit = check === 11 ? 0 : check;
  return digit === 10 ? undefined : digits + String(digit);
}
