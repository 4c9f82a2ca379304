/**
 * Debian's chromium for the browser tests (the report's and the server's): found, or installed when it is missing and
 * we may (root with apt-get), or the reason it cannot be had. CAREGAPS_CHROMIUM=<path> uses another build.
 */
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const CHROMIUM = '/usr/bin/chromium';
const INSTALL = 'apt-get update -qq && apt-get install -y -qq chromium >/dev/null';

/** Headless, sandbox-free (root in CI) and with every background network feature off: the tests reach no network. */
export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export function findChromium(): { path: string } | { reason: string } {
  const chosen = process.env.CAREGAPS_CHROMIUM;
  if (chosen) return existsSync(chosen) ? { path: chosen } : { reason: `CAREGAPS_CHROMIUM=${chosen} does not exist` };
  if (existsSync(CHROMIUM)) return { path: CHROMIUM };
  if (process.getuid?.() !== 0) return { reason: `${CHROMIUM} is missing and installing it needs root (run: ${INSTALL})` };
  try {
    execSync(INSTALL, { stdio: 'pipe', timeout: 15 * 60_000, shell: '/bin/bash' });
  } catch (error) {
    return { reason: `${CHROMIUM} is missing and "${INSTALL}" failed: ${String((error as Error).message).split('\n')[0]}` };
  }
  return existsSync(CHROMIUM) ? { path: CHROMIUM } : { reason: `"${INSTALL}" ran but ${CHROMIUM} is still missing` };
}
