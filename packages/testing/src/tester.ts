import { join } from 'node:path';
import { CaregapsError, CodesetIndex, CompiledRegistry, loadCodesetLayers, loadRegistries } from '@caregaps/core';
import { codesetSourcesOf, readTestFile, runCase, type RegistryTestFile } from './cases.js';

type Block = (name: string, fn: () => void) => void;

function globalBlock(name: 'describe' | 'it'): Block | undefined {
  const fn = (globalThis as Record<string, unknown>)[name];
  return typeof fn === 'function' ? (fn as Block) : undefined;
}

/**
 * Runs a registry's test cases as tests of whatever runner is in use (vitest, jest, mocha, node:test), like ESLint's
 * RuleTester. Set `RegistryTester.describe` / `it` / `itOnly` to plug in a runner that has no globals; without any
 * runner the cases run at once and the first failure throws.
 *
 * ```ts
 * const tester = new RegistryTester({ registries: 'registries', codesets: 'codesets' });
 * tester.run('diabetes');                          // registries/diabetes/tests.yaml
 * ```
 */
export class RegistryTester {
  static describe: Block | undefined;
  static it: Block | undefined;
  static itOnly: Block | undefined;

  private readonly registries: string;
  private readonly codesets: string;
  private readonly codesetSources: readonly string[];
  private readonly loaded: { index: CodesetIndex; compiled: CompiledRegistry[] };

  /**
   * `codesetSources` are laid over `codesets` in order, as `loadRegistries` and `caregaps test --codesets-from` do;
   * the registries are then tested with the clusters the sources fill.
   */
  constructor(options: { registries: string; codesets: string; codesetSources?: readonly string[] }) {
    this.registries = options.registries;
    this.codesets = options.codesets;
    this.codesetSources = options.codesetSources ?? [];
    const { index, compiled } = loadRegistries(options.registries, options.codesets, { codesetSources: this.codesetSources });
    this.loaded = { index, compiled };
  }

  /** Runs `<registries>/<id>/tests.yaml`, or the given cases, against registry `id`. */
  run(id: string, tests?: RegistryTestFile): void {
    const loaded = this.loaded.compiled.find((r) => r.id === id);
    if (!loaded) throw new CaregapsError('CG_USAGE', `No registry "${id}" in ${this.registries}`);
    const testsFile = join(this.registries, id, 'tests.yaml');
    // A test file that names codeset sources runs against the codesets with them laid over.
    const sources = tests ? [] : codesetSourcesOf(testsFile);
    const index = sources.length ? new CodesetIndex(loadCodesetLayers(this.codesets, [...this.codesetSources, ...sources]).codesets) : this.loaded.index;
    const registry = sources.length ? new CompiledRegistry(loaded.registry, index) : loaded;
    const file = tests ?? readTestFile(testsFile, registry);
    const describe = RegistryTester.describe ?? globalBlock('describe') ?? ((_: string, fn: () => void) => fn());
    const it = RegistryTester.it ?? globalBlock('it') ?? ((_: string, fn: () => void) => fn());
    const itOnly = RegistryTester.itOnly ?? ((globalThis as { it?: { only?: Block } }).it?.only) ?? it;
    describe(id, () => {
      for (const c of file.cases) {
        (c.only ? itOnly : it)(c.name, () => {
          const result = runCase(registry, index, file, c);
          if (!result.passed) throw new Error(`${c.name}\n  ${result.failures.join('\n  ')}`);
        });
      }
    });
  }
}
