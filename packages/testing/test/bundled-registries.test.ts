// Every bundled registry folder's tests.yaml, run by RegistryTester as ordinary vitest tests: once with the bundled
// codesets alone, and once with the shared codeset sources laid over them (../shared/codelists, read in place; in CI
// a missing ../shared is a failure, not a skip).
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'vitest';
import { registryFile } from '@caregaps/core';
import { RegistryTester } from '@caregaps/testing';
import { SHARED_CODESET_SOURCES } from './shared-sources.js';

RegistryTester.describe = describe;
RegistryTester.it = it;
RegistryTester.itOnly = it.only;

const registries = fileURLToPath(new URL('../../../registries', import.meta.url));
const codesets = fileURLToPath(new URL('../../../codesets', import.meta.url));
const folders = readdirSync(registries, { withFileTypes: true }).filter((e) => e.isDirectory() && registryFile(join(registries, e.name)));

describe('bundled codesets', () => {
  const tester = new RegistryTester({ registries, codesets });
  for (const entry of folders) tester.run(entry.name);
});

describe.skipIf(!SHARED_CODESET_SOURCES.every(existsSync) && !process.env['CI'])('with the shared codeset sources', () => {
  const tester = new RegistryTester({ registries, codesets, codesetSources: SHARED_CODESET_SOURCES });
  for (const entry of folders) tester.run(entry.name);
});
