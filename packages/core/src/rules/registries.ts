import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
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
 * problems of all files are reported together. The third argument may also be the list of registry ids alone.
 */
export function loadRegistries(
  registriesDir: string,
  codesetsDir: string,
  options: LoadRegistriesOptions | readonly string[] = {},
): LoadedRegistries {
  const { only, codesetSources } = Array.isArray(options) ? { only: options as readonly string[], codesetSources: undefined } : (options as LoadRegistriesOptions);
  const { codesets, sources } = loadCodesetLayers(codesetsDir, codesetSources);
  const index = new CodesetIndex(codesets);
  const dirs = readdirSync(registriesDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && (!only || only.includes(d.name)))
    .map((d) => join(registriesDir, d.name))
    .sort();
  const registries: Registry[] = [];
  const problems: Problem[] = [];
  for (const dir of dirs) {
    const file = registryFile(dir);
    if (!file) continue;
    try {
      registries.push(loadRegistry(file, { codesets: index }));
    } catch (error) {
      if (!(error instanceof CaregapsError)) throw error;
      problems.push(...error.problems);
    }
  }
  if (problems.length) throw new CaregapsError(problems[0]!.code, `${problems.length} problem(s) in registry files`, problems);
  if (only) {
    const missing = only.filter((id) => !registries.some((r) => r.definition.id === id));
    if (missing.length) throw new CaregapsError('CG_USAGE', `No registry named ${missing.join(', ')} in ${registriesDir}`);
  }
  return { codesets, index, registries, compiled: registries.map((r) => new CompiledRegistry(r, index)), sources };
}
