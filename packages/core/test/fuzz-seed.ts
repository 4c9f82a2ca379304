/**
 * The seed of a fuzz or property test file: `FUZZ_SEED` when set (to replay a failure), otherwise fresh for each run.
 * It is printed, so any failure can be replayed; a seed that once failed is kept in the test as a regression case.
 */
export function fuzzSeed(label: string): number {
  const seed = process.env['FUZZ_SEED'] !== undefined ? Number(process.env['FUZZ_SEED']) : (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;
  console.log(`${label} fuzz seed ${seed} (replay with FUZZ_SEED=${seed})`);
  return seed;
}
