import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { bundledFolders } from '@caregaps/registries';
import { CodesetIndex, type Codeset } from '../codesets/index.js';
import { loadCodesetLayers } from '../codesets/layers.js';
import type { CodesetSourceContent } from '../codesets/sources.js';
import { CaregapsError, type Problem } from '../errors.js';
import { CompiledRegistry } from '../evaluate/compile.js';
import { loadRegistry, type Registry } from './load.js';

/** Registries loaded from disk together with the codesets they were checked against, compiled. */
export interface LoadedRegistries {
  /** The codesets after layering: each with its layer, status and expected member count. */
  codesets: Codeset[];
  index: CodesetIndex;
  registries: Registry[];
  compiled: CompiledRegistry[];
  /** What each codeset source gave, in the order given (empty without sources). */
  sources: CodesetSourceContent[];
}

/** Options of {@link loadRegistries}. */
export interface LoadRegistriesOptions {
  /** Only these registry ids. */
  only?: readonly string[];
  /**
   * Codeset sources laid over the codesets folder, in order (a later one replaces a cluster whole): files or folders
   * in the published formats (docs/codesets.md, "Loading your own release").
   */
  codesetSources?: readonly string[];
}

/** The rule file of a registry folder: `registry.yaml`, `registry.yml` or `registry.json`. */
export function registryFile(dir: string): string | undefined {
  return ['registry.yaml', 'registry.yml', 'registry.json'].map((f) => join(dir, f)).find((f) => existsSync(f));
}

/**
 * Loads codesets (the folder, with any codeset sources laid over it) and every registry folder
 * (`<dir>/<id>/registry.yaml`) under `registriesDir`, checks each file against the codesets and compiles it. All
 * problems of all files are reported together. The third argument may also be the list of registry ids alone. A
 * registry's id is its name: its folder must be named after it, and two folders may not share one id. Without
 * folders, the bundled registries and codesets of `@caregaps/registries` are used.
 */
export function loadRegistries(
  registriesDir?: string,
  codesetsDir?: string,
  options: LoadRegistriesOptions | readonly string[] = {},
): LoadedRegistries {
  const bundled = bundledFolders();
  registriesDir ??= bundled.registries;
  codesetsDir ??= bundled.codesets;
  for (const [what, dir] of [['registries', registriesDir], ['codesets', codesetsDir]] as const) {
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      throw new CaregapsError('CG_INPUT', `No ${what} folder at ${dir}: check the path (the bundled ones are at ${bundled[what]})`);
    }
  }
  const { only, codesetSources } = Array.isArray(options) ? { only: options as readonly string[], codesetSources: undefined } : (options as LoadRegistriesOptions);
  const { codesets, sources } = loadCodesetLayers(codesetsDir, codesetSources);
  const index = new CodesetIndex(codesets);
  const dirs = readdirSync(registriesDir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => join(registriesDir, d.name))
    .sort();
  const loaded: Registry[] = [];
  const problems: Problem[] = [];
  const fileOf = new Map<string, string>();
  for (const dir of dirs) {
    const file = registryFile(dir);
    if (!file) continue;
    try {
      const registry = loadRegistry(file, { codesets: index });
      const id = registry.definition.id;
      const first = fileOf.get(id);
      if (first) problems.push({ code: 'CG_REGISTRY_DUPLICATE_ID', file, message: `registry id ${id} is also defined in ${first}: keep one folder per registry` });
      else if (basename(dir) !== id) problems.push({ code: 'CG_REGISTRY_FOLDER_NAME', file, message: `the folder ${basename(dir)} holds registry ${id}: rename the folder to ${id} (a registry is selected by its id)` });
      fileOf.set(id, first ?? file);
      loaded.push(registry);
    } catch (error) {
      if (!(error instanceof CaregapsError)) throw error;
      problems.push(...error.problems);
    }
  }
  if (problems.length) throw new CaregapsError(problems[0]!.code, `${problems.length} problem(s) in registry files`, problems);
  const registries = only ? loaded.filter((r) => only.includes(r.definition.id)) : loaded;
  if (only) {
    const missing = only.filter((id) => !registries.some((r) => r.definition.id === id));
    if (missing.length) throw new CaregapsError('CG_USAGE', `No registry named ${missing.join(', ')} in ${registriesDir} (there are ${loaded.map((r) => r.definition.id).join(', ')})`);
  }
  return { codesets, index, registries, compiled: registries.map((r) => new CompiledRegistry(r, index)), sources };
}
