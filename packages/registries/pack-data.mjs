// prepack / postpack: the tarball carries a copy of the repository's registries/ and codesets/; the checkout does not.
import { cpSync, rmSync } from 'node:fs';

const folders = ['registries', 'codesets'];
if (process.argv[2] === 'copy') {
  for (const name of folders) cpSync(new URL(`../../${name}`, import.meta.url), new URL(`./${name}`, import.meta.url), { recursive: true, filter: (src) => !src.endsWith('.test.ts') });
} else {
  for (const name of folders) rmSync(new URL(`./${name}`, import.meta.url), { recursive: true, force: true });
}
