// prepack / postpack: the tarball carries a copy of the repository's sample population (for `caregaps serve --demo`
// from installed packages); the checkout does not (the server reads examples/sample-population there).
import { cpSync, mkdirSync, rmSync } from 'node:fs';

const target = new URL('./data/sample-population/', import.meta.url);
if (process.argv[2] === 'copy') {
  mkdirSync(target, { recursive: true });
  for (const name of ['records.ndjson', 'organisations.ndjson', 'README.md']) cpSync(new URL(`../../examples/sample-population/${name}`, import.meta.url), new URL(name, target));
} else {
  rmSync(target, { recursive: true, force: true });
}
