#!/usr/bin/env node
// Checks the packages as an embedder gets them (run by `pnpm test`, so by CI):
//   1. packs every package (`pnpm pack`: workspace:* becomes the version; @caregaps/registries copies the data in);
//   2. runs publint and @arethetypeswrong/cli (pinned in the root devDependencies) on each tarball;
//   3. installs the tarballs into a new project outside the repository, type-checks its code with
//      skipLibCheck: false under moduleResolution node10, node16 and bundler, and imports every package at runtime
//      from ESM and from CommonJS;
//   4. runs the installed `caregaps` (--version, generate, evaluate, test) there, and fails if anything it read came
//      from the git checkout.
// Usage: node scripts/consumer-check.mjs [--keep]   (--keep leaves the temporary project for inspection)
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const root = realpathSync(fileURLToPath(new URL('..', import.meta.url)));
const bin = (name) => join(root, 'node_modules', '.bin', name);
const work = realpathSync(mkdtempSync(join(tmpdir(), 'caregaps-consumer-')));
const tarballs = join(work, 'tarballs');
const host = join(work, 'host');
const started = Date.now();
let failures = 0;

/** Runs a command; returns its output, or records a failure with the output when it exits non-zero. */
function run(what, command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...options });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? String(result.error) : ''}`;
  const ok = result.status === (options.expectStatus ?? 0);
  process.stderr.write(`${ok ? 'ok  ' : 'FAIL'} ${what}\n`);
  if (!ok) {
    failures++;
    process.stderr.write(output.replace(/^/gm, '     ') + '\n');
  }
  return { ...result, output };
}

function check(what, condition, detail = '') {
  process.stderr.write(`${condition ? 'ok  ' : 'FAIL'} ${what}\n`);
  if (!condition) {
    failures++;
    if (detail) process.stderr.write(detail.replace(/^/gm, '     ') + '\n');
  }
}

// 1. Pack.
mkdirSync(tarballs);
run('pack every package', bin('pnpm'), ['-r', '--filter', './packages/**', 'pack', '--pack-destination', tarballs], { cwd: root });
const packed = readdirSync(tarballs).filter((f) => f.endsWith('.tgz'));
const nameOf = (file) => JSON.parse(spawnSync('tar', ['-xzOf', join(tarballs, file), 'package/package.json'], { encoding: 'utf8' }).stdout).name;
const packages = Object.fromEntries(packed.map((file) => [nameOf(file), join(tarballs, file)]));
check(`${packed.length} tarballs, one per package`, packed.length === readdirSync(join(root, 'packages')).length);

// 2. Lint each tarball, a few at a time (each is a separate, mostly idle process).
const lints = Object.entries(packages).flatMap(([name, tarball]) => [
  { what: `publint --strict ${name}`, command: bin('publint'), args: ['run', tarball, '--strict'] },
  { what: `attw ${name}`, command: bin('attw'), args: [tarball, '--format', 'ascii'] },
]);
const linted = await inParallel(lints, 4, ({ command, args }) => spawned(command, args, work));
lints.forEach(({ what }, i) => {
  const { status, output } = linted[i];
  check(what, status === 0, output);
});

// 3. A host project outside the repository.
mkdirSync(host);
const file = (path) => `file:${path}`;
const hostPackages = Object.keys(packages);
writeFileSync(join(host, 'package.json'), JSON.stringify({
  name: 'caregaps-consumer-check',
  private: true,
  type: 'module',
  dependencies: Object.fromEntries(Object.entries(packages).map(([name, tarball]) => [name, file(tarball)])),
  devDependencies: { typescript: readJson(join(root, 'package.json')).devDependencies.typescript, '@types/node': '20.19.43' },
  // The tarballs name each other by version; point those at the tarballs too, never at the public registry. A Node 20
  // host of @caregaps/server needs the repository's own light-my-request override (docs/installing.md): fastify 5's
  // light-my-request 6.8 needs cookie 2, which needs Node 22.
  pnpm: {
    overrides: {
      ...Object.fromEntries(Object.entries(packages).map(([name, tarball]) => [name, file(tarball)])),
      'light-my-request': readWorkspaceOverride('light-my-request'),
      // @caregaps/nats: @nats-io/nats-core pins @nats-io/nuid 3, which declares Node 22 (docs/installing.md).
      '@nats-io/nuid': readWorkspaceOverride('@nats-io/nuid'),
    },
  },
}, null, 2));
run('install the tarballs into a host project', bin('pnpm'), ['install', '--prefer-offline', '--config.confirmModulesPurge=false'], { cwd: host });

// Code an embedder writes: every package imported, the README's library example, the engine.
const imports = hostPackages.map((name, i) => `import * as p${i} from '${name}';`).join('\n');
const code = `${imports}
import { loadRegistries, PatientStore, readRecords, preparedPatients, evaluatePopulation, registrySchema, type LoadedRegistries } from '@caregaps/core';
import { bundledFolders } from '@caregaps/registries';

export async function evaluateSample(records: string): Promise<number> {
  const loaded: LoadedRegistries = loadRegistries();
  const store = new PatientStore();
  for await (const item of readRecords(records)) if (item.ok) store.apply(item.record);
  let results = 0;
  for (const result of evaluatePopulation(preparedPatients(store, loaded.index), loaded.compiled, '2025-03-31')) {
    const status: string | undefined = Object.values(result.indicators)[0];
    if (status !== undefined) results++;
  }
  return results;
}
export const folders: { registries: string; codesets: string } = bundledFolders();
export const schemaId: string | undefined = registrySchema.$id;
export const modules: object[] = [${hostPackages.map((_, i) => `p${i}`).join(', ')}];
`;
writeFileSync(join(host, 'consumer.ts'), code);
writeFileSync(join(host, 'consumer.cts'), `import core = require('@caregaps/core');\nimport registries = require('@caregaps/registries');\nexport const load: typeof core.loadRegistries = core.loadRegistries;\nexport const folders = registries.bundledFolders();\n`);
const strict = { strict: true, skipLibCheck: false, noEmit: true, target: 'ES2022', lib: ['ES2022'], types: ['node'] };
const resolutions = {
  node10: { compilerOptions: { ...strict, module: 'commonjs', moduleResolution: 'node10', esModuleInterop: true }, files: ['consumer.ts'] },
  node16: { compilerOptions: { ...strict, module: 'node16', moduleResolution: 'node16' }, files: ['consumer.ts', 'consumer.cts'] },
  bundler: { compilerOptions: { ...strict, module: 'esnext', moduleResolution: 'bundler' }, files: ['consumer.ts'] },
};
for (const [resolution, config] of Object.entries(resolutions)) {
  writeFileSync(join(host, `tsconfig.${resolution}.json`), JSON.stringify(config, null, 2));
  run(`types compile with skipLibCheck: false under moduleResolution ${resolution}`, join(host, 'node_modules', '.bin', 'tsc'), ['-p', `tsconfig.${resolution}.json`], { cwd: host });
}

// Runtime: ESM and CommonJS imports of every package, and the README's example over a generated population.
const caregaps = join(host, 'node_modules', '.bin', 'caregaps');
const hostEnv = { ...process.env, NODE_OPTIONS: '', FORCE_COLOR: '0' };
const version = run('caregaps --version', caregaps, ['--version'], { cwd: host, env: hostEnv });
check('--version prints the package version alone', version.stdout === `${readJson(join(root, 'packages', 'cli', 'package.json')).version}\n`, version.stdout);
run('caregaps generate', caregaps, ['generate', '--output', 'population', '--patients', '400'], { cwd: host, env: hostEnv });
const evaluated = run('caregaps evaluate --summary', caregaps, ['evaluate', '--input', 'population/records.ndjson', '--as-of', '2025-03-31', '--summary'], { cwd: host, env: hostEnv });
check('evaluate prints register sizes', /on the register/.test(evaluated.stdout), evaluated.output);
const tested = run('caregaps test (the bundled registries\u2019 test cases)', caregaps, ['test'], { cwd: host, env: hostEnv });
check('test runs cases and none fails', /^[1-9]\d* passed, 0 failed/m.test(tested.stdout), tested.output);

writeFileSync(join(host, 'esm.mjs'), `${hostPackages.map((name, i) => `import * as p${i} from '${name}';`).join('\n')}
import { loadRegistries, PatientStore, readRecords, preparedPatients, evaluatePopulation } from '@caregaps/core';
import { bundledFolders } from '@caregaps/registries';
for (const m of [${hostPackages.map((_, i) => `p${i}`).join(', ')}]) if (Object.keys(m).length === 0) throw new Error('a package exports nothing');
const { index, compiled } = loadRegistries();
const store = new PatientStore();
for await (const item of readRecords('population/records.ndjson')) if (item.ok) store.apply(item.record);
let n = 0;
for (const r of evaluatePopulation(preparedPatients(store, index), compiled, '2025-03-31')) n++;
if (n === 0) throw new Error('no patient on any register');
console.log(JSON.stringify({ results: n, folders: bundledFolders() }));
`);
const esm = run('ESM: import every package, run the README example', process.execPath, ['esm.mjs'], { cwd: host, env: hostEnv });
writeFileSync(join(host, 'cjs.cjs'), `${hostPackages.map((name) => `if (Object.keys(require('${name}')).length === 0) throw new Error('${name} exports nothing');`).join('\n')}
const { loadRegistries } = require('@caregaps/core');
console.log(JSON.stringify({ registries: loadRegistries().compiled.length }));
`);
run('CommonJS: require every package, load the bundled registries', process.execPath, ['cjs.cjs'], { cwd: host, env: hostEnv });
if (esm.status === 0) {
  const { folders } = JSON.parse(esm.stdout);
  check('the bundled registries and codesets come from the installed package, not the checkout',
    folders.registries.startsWith(host) && folders.codesets.startsWith(host), JSON.stringify(folders));
}

// 5. `caregaps serve --demo` from the installed packages: the sample population ships in @caregaps/server.
writeFileSync(join(host, 'demo-sample.mjs'), `import { DEMO_SAMPLE } from '@caregaps/server';\nconsole.log(DEMO_SAMPLE.folder);\n`);
const sample = run('the demo sample population resolves', process.execPath, ['demo-sample.mjs'], { cwd: host, env: hostEnv });
check('the demo sample comes from the installed @caregaps/server, not the checkout', sample.stdout.trim().startsWith(host), sample.output);
await serveDemo();

process.stderr.write(`${failures ? `${failures} consumer check(s) failed` : 'consumer checks passed'} in ${Math.round((Date.now() - started) / 1000)} s${process.argv.includes('--keep') ? ` (project kept in ${work})` : ''}\n`);
if (!process.argv.includes('--keep')) rmSync(work, { recursive: true, force: true });
process.exitCode = failures ? 1 : 0;

/** Starts the installed `caregaps serve --demo` (diabetes only, a free port), signs in as the demo GP, reads a gap list, stops it. */
async function serveDemo() {
  const child = spawn(caregaps, ['serve', '--demo', '--port', '0', '--registry', 'diabetes'], { cwd: host, env: hostEnv });
  let output = '';
  child.stderr.on('data', (chunk) => (output += chunk));
  const url = await new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), 120_000);
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const found = /Caregaps is serving (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (found) {
        clearTimeout(timer);
        resolve(found[1]);
      }
    });
    child.on('close', () => resolve(undefined));
  });
  try {
    check('caregaps serve --demo starts from the installed packages', url !== undefined, output);
    if (!url) return;
    const signIn = await fetch(`${url}/login`, { method: 'POST', body: 'principal=gp-barnet', headers: { 'content-type': 'application/x-www-form-urlencoded' }, redirect: 'manual' });
    const cookie = signIn.headers.get('set-cookie')?.split(';')[0] ?? '';
    const page = await fetch(`${url}/gaps?registry=diabetes&indicator=DM020`, { headers: { cookie } });
    const html = await page.text();
    check('the demo GP signs in and reads a gap list of the sample', signIn.status === 303 && page.status === 200 && /<tr data-nhs-number="\d{10}">/.test(html), `${signIn.status} ${page.status}`);
  } finally {
    child.kill('SIGTERM');
  }
}

/** Runs `task` over `items` with at most `limit` running at once; the results in the items' order. */
async function inParallel(items, limit, task) {
  const results = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await task(items[i]);
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
  return results;
}

/** A command's exit status and output, without blocking the other running commands. */
function spawned(command, args, cwd) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', (error) => resolve({ status: null, output: output + String(error) }));
    child.on('close', (status) => resolve({ status, output }));
  });
}

function readJson(path) {
  return JSON.parse(readFileSync(path, 'utf8'));
}

/** An override the workspace sets in pnpm-workspace.yaml, which a host project on Node 20 must set too. */
function readWorkspaceOverride(name) {
  const version = parse(readFileSync(join(root, 'pnpm-workspace.yaml'), 'utf8')).overrides?.[name];
  if (typeof version !== 'string') throw new Error(`pnpm-workspace.yaml has no override for ${name}`);
  return version;
}
