/** The partition of an NHS number: FNV-1a over its digits, modulo the number of partitions. */
export function partitionOf(nhsNumber: string, partitions: number): number {
  if (partitions === 1) return 0;
  let hash = 0x811c9dc5;
  for (let i = 0; i < nhsNumber.length; i++) hash = Math.imul(hash ^ nhsNumber.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % partitions;
}
