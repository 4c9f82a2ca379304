// Issue 12 §12: `pnpm demo` and `pnpm test` build once, quietly, and skip packages whose sources have not changed.
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './run.js';

const SCRIPT = join(ROOT, 'scripts/build-if-stale.mjs');
const check = () => spawnSync(process.execPath, [SCRIPT, '--check'], { cwd: ROOT, encoding: 'utf8' });

describe('build-if-stale', () => {
  it('the root scripts use it instead of a full build', () => {
    const { scripts } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    for (const name of ['demo', 'test']) {
      expect(scripts[name]).toMatch(/^node scripts\/build-if-stale\.mjs && /);
      expect(scripts[name]).not.toContain('pnpm build');
    }
  });

  it('reports a package stale when one of its sources is newer than its build, and only then', () => {
    const source = join(ROOT, 'packages/synthetic/src/index.ts');
    const before = statSync(source);
    const initially = check().stdout;
    try {
      utimesSync(source, before.atime, new Date(Date.now() + 60_000)); // edited after the build
      const stale = check();
      expect(stale.status).toBe(1);
      expect(stale.stdout).toContain('@caregaps/synthetic');
    } finally {
      utimesSync(source, before.atime, before.mtime);
    }
    expect(check().stdout).toBe(initially);
  });
});
