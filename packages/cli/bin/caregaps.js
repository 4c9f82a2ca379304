#!/usr/bin/env node
// The installed `caregaps` command. In a git checkout it needs the packages built first (the README's set-up does it).
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli.js', import.meta.url);
if (existsSync(cli)) await import(cli.href);
else {
  process.stderr.write('caregaps is not built yet: run `npx --yes pnpm@10.34.9 build` in the repository first [CG_USAGE]\n');
  process.exitCode = 2;
}
