/**
 * SNOMED CT identifier shape: 6–18 digits, no leading zero, and a partition identifier (the two digits before
 * the check digit) of 00 or 10, which mark concepts (SNOMED CT Technical Implementation Guide, "SCTID").
 * The check digit is not verified here.
 * @module
 */

/** True when `id` is a well-formed SNOMED CT concept identifier. */
export function isSnomedConceptId(id: string): boolean {
  // /^[1-9]\d{5,17}$/ as a loop: this runs for every event read.
  const n = id.length;
  if (n < 6 || n > 18) return false;
  const first = id.charCodeAt(0);
  if (first < 49 || first > 57) return false;
  for (let i = 1; i < n; i++) {
    const c = id.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  // Partition identifier: the two digits before the check digit; 00 (core) or 10 (extension) are concepts.
  const partition = id.charCodeAt(n - 3);
  return id.charCodeAt(n - 2) === 48 && (partition === 48 || partition === 49);
}
