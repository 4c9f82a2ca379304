// `pnpm bench [name] [args…] [--save]`: runs one benchmark, or all of them in turn. Results go to
// benchmarks/.data/results/; with --save they replace the committed ones in benchmarks/results/.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ALL = ['compiled-vs-reference', 'engine', 'hot-state-memory', 'adapters', 'store'];
const argv = process.argv.slice(2);
const save = argv.includes('--save');
// `--` (as `pnpm bench engine -- --patients …` may pass it through) separates nothing here.
const [name, ...args] = argv.filter((a) => a !== '--save' && a !== '--');
const names = name ? [name] : ALL;
for (const n of names) {
  const file = fileURLToPath(new URL(`./${n}.mjs`, import.meta.url));
  if (!existsSync(file)) {
    console.error(`no benchmark named ${n} (have: ${ALL.join(', ')})`);
    process.exit(2);
  }
  execFileSync(process.execPath, ['--expose-gc', file, ...(name ? args : [])], {
    stdio: 'inherit',
    env: { ...process.env, CAREGAPS_BENCH_SAVE: save ? '1' : '0' },
  });
}
