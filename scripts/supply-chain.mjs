#!/usr/bin/env node
// I1 supply chain, offline: pin and review.
//
//   node scripts/supply-chain.mjs            check (run by `pnpm test`; exit 1 on any finding)
//   node scripts/supply-chain.mjs --review   after a dependency bump: run the upgrade canary (the hostile-rule corpus,
//                                            I2) against the installed versions and, if it passes, record the
//                                            lockfile's packages as reviewed
//
// Checks, from pnpm-lock.yaml and the sources only (no network):
//   1. no installed package version falls in an advisory range of scripts/supply-chain/policy.json, unless a
//      reviewed exception allows it (and only under the parents it names);
//   2. every dependency specifier in every package.json is an exact version (ranges only where the policy says);
//   3. every package in the lockfile is in scripts/supply-chain/reviewed.txt (a bump fails CI until reviewed);
//   4. jsonpath-plus is unreachable from rule files: no source imports it, json-rules-engine is imported only where
//      the policy allows, and every json-rules-engine Engine there is built with a pathResolver.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import semver from 'semver';
import { parse } from 'yaml';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const policy = JSON.parse(readFileSync(join(root, 'scripts/supply-chain/policy.json'), 'utf8'));
const REVIEWED = join(root, 'scripts/supply-chain/reviewed.txt');
const CANARY = ['packages/core/test/hostile.test.ts', 'packages/core/test/upgrade-canary.test.ts'];

const lock = parse(readFileSync(join(root, 'pnpm-lock.yaml'), 'utf8'));

/** `name@version` keys of the lockfile's packages, split (scoped names keep their first @). */
function splitKey(key) {
  const at = key.lastIndexOf('@');
  return { name: key.slice(0, at), version: key.slice(at + 1) };
}
const installed = Object.keys(lock.packages ?? {}).map(splitKey);

/** Which packages depend on each `name@version` (from the snapshots, peer suffixes removed). */
function parentsOf(name, version) {
  const parents = new Set();
  for (const [key, snapshot] of Object.entries(lock.snapshots ?? {})) {
    for (const deps of [snapshot?.dependencies, snapshot?.optionalDependencies]) {
      if (deps?.[name] && String(deps[name]).split('(')[0] === version) parents.add(splitKey(key.split('(')[0]).name);
    }
  }
  for (const [importer, entry] of Object.entries(lock.importers ?? {})) {
    for (const deps of [entry.dependencies, entry.devDependencies, entry.optionalDependencies]) {
      if (deps?.[name] && String(deps[name].version).split('(')[0] === version) parents.add(importer);
    }
  }
  return [...parents];
}

const findings = [];

// 1. Advisories.
let vulnerable = 0;
for (const { name, version } of installed) {
  for (const advisory of policy.advisories.filter((a) => a.package === name)) {
    if (!semver.satisfies(version, advisory.vulnerable, { includePrerelease: true })) continue;
    const exception = policy.exceptions.find((e) => e.package === name && e.version === version);
    const parents = parentsOf(name, version);
    if (exception && parents.every((p) => exception.onlyUnder.includes(p))) continue;
    vulnerable++;
    findings.push(`${name}@${version} is in ${advisory.id} (${advisory.vulnerable}: ${advisory.what}); required by ${parents.join(', ') || '?'}`);
  }
}

// 2. Exact specifiers.
let unpinned = 0;
for (const [importer, entry] of Object.entries(lock.importers ?? {})) {
  for (const deps of [entry.dependencies, entry.devDependencies, entry.optionalDependencies]) {
    for (const [name, { specifier }] of Object.entries(deps ?? {})) {
      if (specifier.startsWith('workspace:') || semver.valid(specifier) || name in policy.rangeSpecifiersAllowed) continue;
      unpinned++;
      findings.push(`${importer}: ${name} is "${specifier}", not an exact version (pin it, or justify it in policy.json)`);
    }
  }
}

// 4. Reachability of jsonpath-plus from our code.
function sources(dir, out = []) {
  for (const entry of readdirSync(dir)) {
    if (entry === 'node_modules' || entry === 'dist') continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) sources(path, out);
    else if (/\.(ts|mts|cts|js|mjs|cjs)$/.test(entry) && !entry.endsWith('.d.ts')) out.push(path);
  }
  return out;
}
const packageSources = readdirSync(join(root, 'packages')).flatMap((p) => sources(join(root, 'packages', p, 'src')));
let reachability = 0;
for (const file of packageSources) {
  const text = readFileSync(file, 'utf8');
  const rel = relative(root, file);
  for (const [module, allowed] of Object.entries(policy.imports)) {
    const imported = new RegExp(`(?:from\\s*|import\\s*\\(\\s*|require\\s*\\(\\s*)['"]${module}(?:/[^'"]*)?['"]`).test(text);
    if (imported && !allowed.includes(rel)) {
      reachability++;
      findings.push(`${rel} imports ${module}; only ${allowed.join(', ') || 'no file'} may (policy.json "imports")`);
    }
    if (imported && module === 'json-rules-engine') {
      const engines = text.match(/new Engine\(([^;]*)\)/g) ?? [];
      for (const call of engines.filter((c) => !/pathResolver\s*:/.test(c))) {
        reachability++;
        findings.push(`${rel}: ${call.slice(0, 80)} builds a json-rules-engine Engine without the strict pathResolver`);
      }
      if (engines.length === 0) findings.push(`${rel} imports json-rules-engine but builds no Engine this check can see; review it`);
    }
  }
}

// 3. Reviewed packages.
const keys = installed.map(({ name, version }) => `${name}@${version}`).sort();
const reviewed = new Set(readFileSync(REVIEWED, 'utf8').split('\n').filter((l) => l && !l.startsWith('#')));
const unreviewed = keys.filter((k) => !reviewed.has(k));

if (process.argv.includes('--review')) {
  if (vulnerable || unpinned || reachability) {
    for (const f of findings) console.error(`supply chain: ${f}`);
    process.exit(1);
  }
  console.log(`I2 upgrade canary: new or changed packages ${unreviewed.length} (${unreviewed.slice(0, 8).join(', ')}${unreviewed.length > 8 ? ', …' : ''}); running the hostile-rule corpus`);
  execFileSync(process.execPath, [join(root, 'node_modules/vitest/vitest.mjs'), 'run', ...CANARY], { cwd: root, stdio: 'inherit' });
  // Earlier reviews stay recorded (a version reviewed once need not be reviewed again); notes in the header are kept.
  const notes = readFileSync(REVIEWED, 'utf8').split('\n').filter((l) => l.startsWith('# Also reviewed'));
  const header = [
    '# Packages reviewed for the supply-chain check: every name@version in pnpm-lock.yaml must be listed here.',
    '# Add new ones with `node scripts/supply-chain.mjs --review`, which first runs the upgrade canary (hostile-rule corpus).',
    `# Last review: ${new Date().toISOString().slice(0, 10)}, canary passed, ${keys.length} packages in the lockfile.`,
    ...notes,
  ];
  writeFileSync(REVIEWED, [...header, ...[...new Set([...reviewed, ...keys])].sort()].join('\n') + '\n');
  console.log(`reviewed: ${keys.length} packages recorded in ${relative(root, REVIEWED)}`);
  process.exit(0);
}

for (const k of unreviewed) findings.push(`${k} is not reviewed: run \`node scripts/supply-chain.mjs --review\` (runs the upgrade canary) and commit scripts/supply-chain/reviewed.txt`);
console.log(
  `I1 supply chain: packages in the lockfile ${keys.length}; known-vulnerable versions ${vulnerable}; ` +
    `unpinned specifiers ${unpinned}; unreviewed packages ${unreviewed.length}; jsonpath-plus reachability findings ${reachability} ` +
    `(sources scanned ${packageSources.length}); pinned-version check ${findings.length === 0 ? 'pass' : 'FAIL'}`,
);
for (const f of findings) console.error(`supply chain: ${f}`);
process.exit(findings.length === 0 ? 0 : 1);
