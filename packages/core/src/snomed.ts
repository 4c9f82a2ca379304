/**
 * SNOMED CT identifier shape: 6–18 digits, no leading zero, and a partition identifier (the two digits before
 * the check digit) of 00 or 10, which mark concepts (SNOMED CT Technical Implementation Guide, "SCTID").
 * The check digit is not verified here.
 * @module
 */

/** True when `id` is a well-formed SNOMED CT concept identifier. */
export function isSnomedConceptId(id: string): boolean {
  if (!/^[1-9]\d{5,17}$/.test(id)) return false;
  // Partition identifier: the two digits before the check digit; 00 (core) or 10 (extension) are concepts.
  const partition = id.slice(-3, -1);
  return partition === '00' || partition === '10';
}
