// Issue 12 §15: no two source files import each other, directly or round a longer loop, in any package, so each
// file stands above what it uses. Relative imports (`import … from './x.js'`, type-only ones included) are read
// from the sources with a regular expression: the oracle does not share the bundler's resolution.
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PACKAGES = join(ROOT, 'packages');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? sources(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : [],
  );
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:import|export)\s[^;]*?from\s+'(\.{1,2}\/[^']+)'/g)].map((m) => resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts')));
}

/** Every cycle of the import graph, each as the list of files round it (relative to the repository). */
function cycles(files: string[]): string[][] {
  const graph = new Map(files.map((f) => [f, importsOf(f).filter((g) => files.includes(g))]));
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string) => {
    state.set(file, 'open');
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === 'open') found.push(stack.slice(stack.indexOf(next)).map((f) => relative(ROOT, f)));
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of files) if (!state.has(file)) visit(file);
  return found;
}

describe('import cycles', () => {
  const packages = readdirSync(PACKAGES).filter((p) => readdirSync(join(PACKAGES, p)).includes('src'));
  it.each(packages)('packages/%s/src has none', (name) => {
    expect(cycles(sources(join(PACKAGES, name, 'src')))).toEqual([]);
  });

  it('the detector finds a cycle when there is one (type-only imports count)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'caregaps-cycles-'));
    writeFileSync(join(dir, 'a.ts'), "import { b } from './b.js';\nexport const a = b;\n");
    writeFileSync(join(dir, 'b.ts'), "import type { C } from './c.js';\nexport const b: C = 1;\n");
    writeFileSync(join(dir, 'c.ts'), "export { a as C } from './a.js';\n");
    expect(cycles(sources(dir)).map((c) => c.length)).toEqual([3]);
  });
});
