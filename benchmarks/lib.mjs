// Shared benchmark plumbing: machine description, medians, population files, result files.
import { Session } from 'node:inspector';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem, platform, release } from 'node:os';
import { MessageChannel, Worker, receiveMessageOnPort } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const RESULTS = join(ROOT, 'benchmarks', 'results');
export const DATA = join(ROOT, 'benchmarks', '.data');

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

/** `--name value` from the command line as a number (underscores allowed: 1_800_000), or the fallback. */
export function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  if (at < 0) return fallback;
  const value = Number(String(process.argv[at + 1]).replaceAll('_', ''));
  if (!Number.isFinite(value)) {
    process.stderr.write(`--${name} needs a number (got ${process.argv[at + 1]})\n`);
    process.exit(2);
  }
  return value;
}

/** A logger for progress on stderr, each line with the seconds since it was made. */
export function progress() {
  const started = Date.now();
  return (...parts) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0)} s] ${parts.join(' ')}\n`);
}

/**
 * This process's memory as the kernel counts it (all threads): resident anonymous memory (heaps, typed arrays),
 * resident file pages (the record store's memory map among them), and the peak resident size.
 */
export function processMemory() {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile'), peak: kb('VmHWM') };
}

/** Bytes free for this user on the file system holding `path`. */
export function freeBytes(path) {
  const s = statfsSync(path);
  return s.bavail * s.bsize;
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

/** The machine's load averages (1, 5, 15 minutes), as `uptime` shows them: the machine is shared. */
export function load() {
  return loadavg().map((l) => Math.round(l * 100) / 100);
}

/** The p-th quantile (0–1) of values sorted in place, by the nearest-rank method. */
export function quantile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/**
 * A synthetic population of `patients` people at `recordsPerPatient` records each on average (seed 1, the bundled
 * codesets), generated once with @caregaps/synthetic and cached in benchmarks/.data/.
 */
export async function population(patients, recordsPerPatient = 100) {
  const dir = join(DATA, `population-${patients}x${recordsPerPatient}`);
  if (!existsSync(join(dir, 'records.ndjson'))) {
    // Written beside and renamed when complete, so an interrupted run never leaves a short file in the cache.
    const partial = `${dir}.partial`;
    rmSync(partial, { recursive: true, force: true });
    const { writePopulation } = await import('../packages/synthetic/dist/index.js');
    const result = await writePopulation({ patients, recordsPerPatient, seed: 1, output: partial, codesets: join(ROOT, 'codesets') });
    process.stderr.write(`generated ${result.records} records (${(result.records / result.patients).toFixed(1)} per patient) in ${(result.elapsedMs / 1000).toFixed(0)} s\n`);
    rmSync(dir, { recursive: true, force: true });
    renameSync(partial, dir);
  }
  return { records: join(dir, 'records.ndjson'), organisations: join(dir, 'organisations.ndjson') };
}

/**
 * Writes <name>.json and <name>.md (a heading, the command, the machine and a table): into results/ only when asked
 * (`pnpm bench … --save`, which sets CAREGAPS_BENCH_SAVE), otherwise into benchmarks/.data/results/, so a run never
 * overwrites the committed figures by accident.
 */
export function writeResults(name, { title, command, notes = [], table, data }) {
  const save = process.env.CAREGAPS_BENCH_SAVE === '1';
  const dir = save ? RESULTS : join(DATA, 'results');
  mkdirSync(dir, { recursive: true });
  const m = machine();
  const at = new Date().toISOString();
  writeFileSync(join(dir, `${name}.json`), JSON.stringify({ name, at, command, machine: m, ...data }, null, 2) + '\n');
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
  writeFileSync(join(dir, `${name}.md`), md);
  process.stdout.write(md);
  process.stderr.write(save ? `results saved to ${dir}\n` : `results written to ${dir} (not the committed ones: add --save to replace those)\n`);
}

/**
 * The floor of a call to a worker thread made the way the engine calls its partitions: post a message, wait on a
 * shared flag with Atomics.wait, take the answer with receiveMessageOnPort. The worker answers at once. Returns the
 * `samples` round trips in µs, sorted.
 */
export async function workerRoundTrips(samples) {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(
    `const { workerData: { port, flag } } = require('node:worker_threads');
     port.on('message', (m) => { port.postMessage(m); Atomics.store(flag, 0, 1); Atomics.notify(flag, 0); });`,
    { eval: true, workerData: { port: port2, flag }, transferList: [port2] },
  );
  const call = (m) => {
    Atomics.store(flag, 0, 0);
    port1.postMessage(m);
    for (;;) {
      Atomics.wait(flag, 0, 0, 1000);
      const answer = receiveMessageOnPort(port1);
      if (answer) return answer.message;
    }
  };
  for (let i = 0; i < 1000; i++) call(i); // warm-up
  const out = new Float64Array(samples);
  for (let i = 0; i < samples; i++) {
    const t = process.hrtime.bigint();
    call(i);
    out[i] = Number(process.hrtime.bigint() - t) / 1000;
  }
  port1.close();
  await worker.terminate();
  return out.sort();
}

/**
 * A CPU profiler of this thread (node:inspector), summarised by self time: `profiled(fn)` runs `fn` under it and
 * returns its value with the `top` functions and their shares (%), sampled every `interval` µs.
 */
export function selfTimeProfiler({ interval, top: count }) {
  const session = new Session();
  session.connect();
  const post = (method, params) => new Promise((resolve, reject) => session.post(method, params, (e, r) => (e ? reject(e) : resolve(r))));
  return async function profiled(fn) {
    await post('Profiler.enable');
    await post('Profiler.setSamplingInterval', { interval });
    await post('Profiler.start');
    const value = await fn();
    const { profile } = await post('Profiler.stop');
    const self = new Map();
    const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
    let total = 0;
    profile.samples.forEach((id, i) => {
      const dt = profile.timeDeltas[i] ?? 0;
      const f = nodes.get(id).callFrame;
      const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
      self.set(key, (self.get(key) ?? 0) + dt);
      total += dt;
    });
    const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, count).map(([fn, t]) => ({ fn, share: Math.round((1000 * t) / total) / 10 }));
    return { value, top };
  };
}
