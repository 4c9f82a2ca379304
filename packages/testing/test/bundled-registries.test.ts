// Every bundled registry folder's tests.yaml, run by RegistryTester as ordinary vitest tests.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'vitest';
import { registryFile } from '@caregaps/core';
import { RegistryTester } from '@caregaps/testing';

RegistryTester.describe = describe;
RegistryTester.it = it;
RegistryTester.itOnly = it.only;

const registries = fileURLToPath(new URL('../../../registries', import.meta.url));
const tester = new RegistryTester({ registries, codesets: fileURLToPath(new URL('../../../codesets', import.meta.url)) });
for (const entry of readdirSync(registries, { withFileTypes: true })) {
  if (entry.isDirectory() && registryFile(join(registries, entry.name))) tester.run(entry.name);
}
