#!/usr/bin/env node
// Builds the packages whose sources changed since their last build (and the packages that depend on them), quietly:
// one line on stderr, the build's own output only when it fails. Run by `pnpm demo` and `pnpm test`; `pnpm build`
// still rebuilds everything. `--check` only lists the stale packages (exit 1 when there are any).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const shared = ['tsup.base.ts', 'tsconfig.base.json', 'pnpm-lock.yaml'].map((f) => join(root, f));

/** Newest (or oldest) modification time of the files under `path`; undefined when there are none. */
function mtime(path, pick) {
  if (!existsSync(path)) return undefined;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  const times = readdirSync(path).map((name) => mtime(join(path, name), pick)).filter((t) => t !== undefined);
  return times.length ? pick(...times) : undefined;
}

const stale = [];
for (const dir of readdirSync(join(root, 'packages'))) {
  const pkg = join(root, 'packages', dir);
  const manifest = join(pkg, 'package.json');
  if (!existsSync(manifest) || !JSON.parse(readFileSync(manifest, 'utf8')).scripts?.build) continue;
  const inputs = [join(pkg, 'src'), manifest, join(pkg, 'tsup.config.ts'), join(pkg, 'tsconfig.json'), ...shared];
  const newestInput = Math.max(...inputs.map((p) => mtime(p, Math.max) ?? 0));
  const oldestOutput = mtime(join(pkg, 'dist'), Math.min);
  if (oldestOutput === undefined || newestInput > oldestOutput) stale.push(JSON.parse(readFileSync(manifest, 'utf8')).name);
}

if (process.argv.includes('--check')) {
  process.stdout.write(stale.map((name) => `${name}\n`).join(''));
  process.exit(stale.length ? 1 : 0);
}
if (stale.length) {
  process.stderr.write(`Building ${stale.join(', ')} and what depends on them…\n`);
  const pnpm = join(root, 'node_modules', '.bin', 'pnpm');
  const filters = stale.flatMap((name) => ['--filter', `...${name}`]);
  const result = spawnSync(pnpm, ['-r', ...filters, 'run', 'build'], { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) {
    process.stderr.write(`${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? String(result.error) + '\n' : ''}Build failed.\n`);
    process.exit(result.status || 1);
  }
}
