import { defineConfig, type Options } from 'tsup';

/** The build every package shares: ESM + CJS with types and source maps, for Node 20. Packages add their entries. */
export function packageConfig(entry: Record<string, string> = { index: 'src/index.ts' }, overrides: Options = {}) {
  return defineConfig({ entry, format: ['esm', 'cjs'], dts: true, sourcemap: true, clean: true, target: 'node20', ...overrides });
}
