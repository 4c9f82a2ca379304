import { basename, dirname, join } from 'node:path';
import { existsSync, readdirSync } from 'node:fs';
import { CodesetIndex, CompiledRegistry, loadCodesetLayers, loadRegistry, provisionalReason, registryFile } from '@caregaps/core';
import { codesetSourcesOf, readTestFile, runCases } from '@caregaps/testing';
import { EXIT, report, type Io } from '../io.js';
import { describeSources, registryFolderOptions, type Register } from '../command.js';

/** `caregaps test [registry dirs…]`: runs each registry folder's tests.yaml; prints failures with the deciding rule. */
export function test(io: Io, dirs: string[], options: { registries: string; codesets: string; codesetsFrom?: string[] }): number {
  const folders = dirs.length
    ? dirs
    : readdirSync(options.registries, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => join(options.registries, d.name)).sort();
  let passed = 0;
  let failed = 0;
  try {
    const given = options.codesetsFrom ?? [];
    const layers = loadCodesetLayers(options.codesets, given);
    describeSources(io, layers.sources);
    const base = new CodesetIndex(layers.codesets);
    for (const dir of folders) {
      const file = registryFile(dir);
      const testsFile = join(dir, 'tests.yaml');
      if (!file || !existsSync(testsFile)) {
        io.err(`${dir}: expected registry.yaml and tests.yaml in the folder [CG_USAGE]\n`);
        return EXIT.usage;
      }
      // A test file may name codeset sources (codesetsFrom) its cases need, laid after --codesets-from for it alone.
      const sources = codesetSourcesOf(testsFile);
      const index = sources.length ? new CodesetIndex(loadCodesetLayers(options.codesets, [...given, ...sources]).codesets) : base;
      const registry = new CompiledRegistry(loadRegistry(file, { codesets: index }), index);
      const results = runCases(registry, index, readTestFile(testsFile, registry));
      io.out(`${registry.id} (${basename(dirname(testsFile)) === registry.id ? testsFile : dir})\n`);
      for (const [id, clusters] of Object.entries(registry.provisional.indicators)) {
        if (clusters.length) io.out(`  * ${id} provisional: ${provisionalReason(clusters)}\n`);
      }
      for (const r of results) {
        if (r.passed) passed++;
        else failed++;
        io.out(`  ${r.passed ? 'ok  ' : 'FAIL'} ${r.name}\n`);
        for (const f of r.failures) io.out(`         ${f}\n`);
      }
    }
  } catch (error) {
    return report(io, error);
  }
  io.out(`${passed} passed, ${failed} failed\n`);
  return failed ? EXIT.failed : EXIT.ok;
}

/** `caregaps test [dirs…]`. */
export const register: Register = (program, { io, exit }) => {
  registryFolderOptions(
    program
      .command('test')
      .description("run registry folders' test cases (default: every bundled registry)")
      .argument('[dirs...]'),
  ).action((dirs: string[], opts: { registries: string; codesets: string; codesetsFrom: string[] }) => exit(test(io, dirs, opts)));
};
