/**
 * Builds a test's child-process script (crash and damage tests kill it) as one ESM bundle in a fresh folder inside
 * the package, so the bundle's `import 'lmdb'` (a native module, not bundled) resolves. Returns the folder (for the
 * caller to remove) and the script.
 */
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export async function bundleChild(entry: string, prefix: string): Promise<{ dir: string; script: string }> {
  const dir = mkdtempSync(fileURLToPath(new URL(`../node_modules/.${prefix}-`, import.meta.url)));
  const script = join(dir, entry.replace(/\.ts$/, '.mjs'));
  await build({
    entryPoints: [fileURLToPath(new URL(`./${entry}`, import.meta.url))],
    outfile: script,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    conditions: ['@caregaps/source'],
    external: ['lmdb'],
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
    logLevel: 'error',
  });
  return { dir, script };
}
