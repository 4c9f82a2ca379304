/**
 * I1 in the test run (so `pnpm test` and CI run it, offline): scripts/supply-chain.mjs checks the lockfile against
 * the reviewed policy — advisories, exact pins, reviewed packages, jsonpath-plus reachability — and exits 1 on any
 * finding, which it prints. See docs/reliability.md.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

it('I1: the lockfile passes the offline supply-chain check', () => {
  const script = fileURLToPath(new URL('../../../scripts/supply-chain.mjs', import.meta.url));
  const run = spawnSync(process.execPath, [script], { encoding: 'utf8' });
  console.log(run.stdout.trim());
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
});
