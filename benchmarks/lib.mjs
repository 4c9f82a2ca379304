// Shared benchmark plumbing: machine description, medians, population files, result files.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, platform, release } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const RESULTS = join(ROOT, 'benchmarks', 'results');
const DATA = join(ROOT, 'benchmarks', '.data');

export function machine() {
  const cpu = cpus();
  return {
    cpu: cpu[0]?.model ?? 'unknown',
    cores: cpu.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${platform()} ${release()}`,
    node: process.version,
  };
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Times fn `runs` times (after one warm-up) and returns every duration in ms. */
export async function time(fn, runs) {
  await fn();
  const out = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    await fn();
    out.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return out;
}

/** A synthetic population of `patients` people (seed 1), generated once with `caregaps generate` and cached. */
export function population(patients) {
  const dir = join(DATA, `population-${patients}`);
  if (!existsSync(join(dir, 'records.ndjson'))) {
    mkdirSync(dir, { recursive: true });
    execFileSync(process.execPath, [join(ROOT, 'packages/cli/dist/cli.js'), 'generate', '--patients', String(patients), '--seed', '1', '--output', dir], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  }
  return { records: join(dir, 'records.ndjson'), organisations: join(dir, 'organisations.ndjson') };
}

/** Writes results/<name>.json and results/<name>.md (a heading, the command, the machine and a table). */
export function writeResults(name, { title, command, notes = [], table, data }) {
  mkdirSync(RESULTS, { recursive: true });
  const m = machine();
  const at = new Date().toISOString();
  writeFileSync(join(RESULTS, `${name}.json`), JSON.stringify({ name, at, command, machine: m, ...data }, null, 2) + '\n');
  const [header, ...rows] = table;
  const md = [
    `# ${title}`,
    '',
    `Command: \`${command}\` — ${at}`,
    '',
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}, Node ${m.node}`,
    '',
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    '',
    ...notes.map((n) => `- ${n}`),
    '',
  ].join('\n');
  writeFileSync(join(RESULTS, `${name}.md`), md);
  process.stdout.write(md);
}
