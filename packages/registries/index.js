// The folders of the bundled registries and codesets. The published package carries them beside this file (copied at
// pack time); in the git repository they live at its root, two folders up.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const folder = (name) => [join(here, name), join(here, '..', '..', name)].find((dir) => existsSync(dir)) ?? join(here, name);

/** The absolute paths of the bundled `registries` and `codesets` folders. */
export function bundledFolders() {
  return { registries: folder('registries'), codesets: folder('codesets') };
}
