// `caregaps serve` under load: for each page kind, the server-side query time (the access layer's reads, in process)
// and the page time over real HTTP on 127.0.0.1 (one request at a time), median and p99; then a bounded load test
// (autocannon, in a child process) at rising numbers of concurrent users, and the most users served with p99 < 200 ms.
// Usage (after pnpm build):
//   node benchmarks/serve.mjs [--patients N --records-per-patient R | --records file --orgs file]
//        [--read-events-only] [--requests 40] [--connections 1,2,4,8,16,32] [--duration 10]
// Default population: the bundled sample. `--patients` generates (and caches) a synthetic one with @caregaps/synthetic.
// `--read-events-only` loads the patient records and only the events whose code is in a cluster some registry reads
// (the others change no status; a lower density that the engine can hold at 1.8 M patients), cached beside the file.
// Add `--save` through `pnpm bench serve … --save` (or CAREGAPS_BENCH_SAVE=1) to replace benchmarks/results/serve.*.
import { createReadStream, createWriteStream, existsSync, renameSync } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { execFile } from 'node:child_process';
import { loadRegistries } from '../packages/core/dist/index.js';
import { MemoryAuditLog } from '../packages/access/dist/index.js';
import { createServer, openHost } from '../packages/server/dist/index.js';
import { ROOT, load, median, population, quantile, time, writeResults } from './lib.mjs';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const sample = join(ROOT, 'examples', 'sample-population');
const patients = option('patients');
const recordsPerPatient = Number(option('records-per-patient', '100'));
let files = patients
  ? await population(Number(patients), recordsPerPatient)
  : { records: option('records', join(sample, 'records.ndjson')), organisations: option('orgs', join(sample, 'organisations.ndjson')) };
const readEventsOnly = args.includes('--read-events-only');
const runs = Number(option('requests', '40'));
const connections = option('connections', '1,2,4,8,16,32').split(',').map(Number);
const duration = Number(option('duration', '10'));
const LIMIT_MS = 200;

/** The patient records and the events some registry reads (by cluster), written once beside the file. */
async function readEvents(records) {
  const out = records.replace(/\.ndjson$/, '.read-events.ndjson');
  if (existsSync(out)) return out;
  const { compiled, index } = loadRegistries(join(ROOT, 'registries'), join(ROOT, 'codesets'));
  const read = new Set(compiled.flatMap((r) => [...r.clusters]));
  const partial = `${out}.partial`;
  const sink = createWriteStream(partial);
  let kept = 0;
  let dropped = 0;
  for await (const line of createInterface({ input: createReadStream(records), crlfDelay: Infinity })) {
    const code = /"code":"([^"]+)"/.exec(line)?.[1];
    if (code !== undefined && !index.clustersOf(code).some((c) => read.has(c))) {
      dropped++;
      continue;
    }
    kept++;
    if (!sink.write(line + '\n')) await once(sink, 'drain');
  }
  sink.end();
  await once(sink, 'finish');
  renameSync(partial, out);
  process.stderr.write(`read events only: kept ${kept} lines, left out ${dropped} events no registry reads\n`);
  return out;
}
if (readEventsOnly) files = { ...files, records: await readEvents(files.records) };

const loadAtStart = load();
const loadStart = performance.now();
const host = await openHost({ records: [files.records], organisations: files.organisations, asOf: '2025-03-31', registries: join(ROOT, 'registries'), codesets: join(ROOT, 'codesets'), audit: new MemoryAuditLog() });
const loadMs = performance.now() - loadStart;
const app = await createServer({ ...host });
const origin = await app.listen({ host: '127.0.0.1', port: 0 });
const heapGiB = process.memoryUsage().rss / 2 ** 30;
console.log(`${host.engine.patientCount} patients, ${host.accepted} records, ${host.registries.length} registries, loaded in ${(loadMs / 1000).toFixed(1)} s; RSS ${heapGiB.toFixed(1)} GiB`);

async function signIn(principal) {
  const response = await fetch(`${origin}/login`, { method: 'POST', body: `principal=${principal}`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, redirect: 'manual' });
  return response.headers.get('set-cookie').split(';')[0];
}
// The demo principals: a GP at Z10001 (direct care) and an ICB analyst (secondary use).
const gp = { cookie: await signIn('gp-barnet'), principal: { user: 'dr-lee', roles: ['clinical-practitioner'], organisation: 'Z10001' }, purpose: 'direct-care' };
const analyst = { cookie: await signIn('icb-analyst'), principal: { user: 'an-1', roles: ['analyst'], organisation: 'QMJ' }, purpose: 'secondary-use' };
const gpView = host.access.as(gp.principal, gp.purpose);
const analystView = host.access.as(analyst.principal, analyst.purpose);
const firstGap = (await gpView.patients({ registry: 'diabetes', indicator: 'DM020' }))[0].nhsNumber;

// Each page kind: who, the URL, and the access layer's reads behind it (the server-side query).
const pages = [
  ['GP', 'dashboard (practice, diabetes)', '/dashboard?level=practice&registry=diabetes', gp, async () => (await gpView.summary({ level: 'practice', registry: 'diabetes' }), await gpView.summary({ level: 'icb', registry: 'diabetes' }))],
  ['GP', 'dashboard (PCN, diabetes)', '/dashboard?level=pcn&registry=diabetes', gp, () => gpView.summary({ level: 'pcn', registry: 'diabetes' })],
  ['GP', 'gap list (DM020)', '/gaps?registry=diabetes&indicator=DM020', gp, () => gpView.patients({ registry: 'diabetes', indicator: 'DM020' })],
  ['GP', 'patient page', `/patients/${firstGap}`, gp, () => gpView.patient(firstGap)],
  ['analyst', 'dashboard (ICB, diabetes)', '/dashboard?level=icb&registry=diabetes', analyst, () => analystView.summary({ level: 'icb', registry: 'diabetes' })],
  ['analyst', 'dashboard (borough, diabetes)', '/dashboard?level=borough&registry=diabetes', analyst, () => analystView.summary({ level: 'borough', registry: 'diabetes' })],
];
const stats = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return { median: median(sorted), p99: quantile(sorted, 0.99) };
};
const ms = (v) => `${v.toFixed(1)} ms`;
const perPage = [];
for (const [role, name, url, who, query] of pages) {
  const queryMs = stats(await time(query, runs));
  // The same read after a write: the index's revision moves, so nothing kept for the old state is used.
  const changedMs = stats(
    await time(async () => {
      host.access.noteChanged([]);
      await query();
    }, runs),
  );
  const pageMs = stats(
    await time(async () => {
      const response = await fetch(origin + url, { headers: { cookie: who.cookie } });
      if (response.status !== 200) throw new Error(`${url} answered ${response.status}`);
      await response.text();
    }, runs),
  );
  perPage.push({ role, page: name, url, queryMs, changedMs, pageMs });
  console.log(`${role.padEnd(8)} ${name.padEnd(32)} query median ${ms(queryMs.median)}, p99 ${ms(queryMs.p99)}; after a write ${ms(changedMs.median)}, p99 ${ms(changedMs.p99)}; page median ${ms(pageMs.median)}, p99 ${ms(pageMs.p99)}`);
}

/** One autocannon run in a child process (autocannon takes any worker thread for one of its own). */
function autocannon(url, cookie, concurrent) {
  const entry = createRequire(join(ROOT, 'benchmarks', 'package.json')).resolve('autocannon');
  const code = `const [entry, url, cookie, connections, duration] = process.argv.slice(1);
require(entry)({ url, connections: Number(connections), duration: Number(duration), headers: { cookie } }, (error, r) => {
  if (error) throw error;
  process.stdout.write(JSON.stringify({ latency: { p50: r.latency.p50, p99: r.latency.p99 }, requests: { total: r.requests.total, average: r.requests.average }, errors: r.errors, non2xx: r.non2xx, timeouts: r.timeouts }));
});`;
  return new Promise((resolve, reject) =>
    execFile(process.execPath, ['-e', code, entry, url, cookie, String(concurrent), String(duration)], (error, stdout) => (error ? reject(error) : resolve(JSON.parse(stdout)))),
  );
}

// Concurrent dashboard users: each connection is a user reloading a dashboard as soon as it arrives (no think time).
const loadTests = [];
for (const [role, name, url, who] of [pages[0], pages[4]]) {
  const levels = [];
  for (const concurrent of connections) {
    const result = await autocannon(origin + url, who.cookie, concurrent);
    const level = { connections: concurrent, requests: result.requests.total, perSecond: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, errors: result.errors + result.non2xx + result.timeouts };
    levels.push(level);
    console.log(`${role} ${name}: ${concurrent} users → ${level.perSecond.toFixed(1)} pages/s, p50 ${level.p50} ms, p99 ${level.p99} ms, errors ${level.errors}`);
    if (level.p99 >= LIMIT_MS * 4) break; // far past the limit: more users only queue longer
  }
  const served = levels.filter((l) => l.p99 < LIMIT_MS && l.errors === 0).reduce((best, l) => Math.max(best, l.connections), 0);
  loadTests.push({ role, page: name, url, levels, usersUnder200ms: served });
}
await app.close();
host.engine.close();
const loadAtEnd = load();

const command = `node benchmarks/serve.mjs ${args.filter((a) => a !== '--save').join(' ')}`.trim();
writeResults('serve', {
  title: `caregaps serve — ${host.engine.patientCount.toLocaleString('en-GB')} patients`,
  command,
  notes: [
    `Population: ${patients ? `@caregaps/synthetic (\`caregaps generate --patients ${patients} --records-per-patient ${recordsPerPatient} --seed 1\`, cached in benchmarks/.data)` : relative(ROOT, files.records)}${readEventsOnly ? '; loaded: patient records and only the events some registry reads' : ''}; ${host.accepted.toLocaleString('en-GB')} records accepted, ${host.registries.length} registries, loaded in ${(loadMs / 1000).toFixed(0)} s; RSS after loading ${heapGiB.toFixed(1)} GiB.`,
    `Query: the access layer's reads behind the page, in process (a practice dashboard reads the practice and ICB summaries: the funnel plot needs both); "after a write": the same read when the population index has just been told of a write, so no table kept for the earlier state is used (a recount from the engine's aggregates). Page: the whole page over HTTP on 127.0.0.1, one request at a time, ${runs} requests after one warm-up.`,
    `Load test: autocannon 9.0.0 in a child process on the same machine, ${duration} s per level, each connection a user reloading the page as soon as it arrives (no think time); users served = the most connections with p99 < ${LIMIT_MS} ms and no errors.`,
    `Load average (1/5/15 min) at the start ${loadAtStart.join(', ')} and at the end ${loadAtEnd.join(', ')} (uptime) on a machine shared with other sessions.`,
  ],
  table: [
    ['who', 'page', 'query median', 'query p99', 'query after a write median', 'after a write p99', 'page median', 'page p99'],
    ...perPage.map((p) => [p.role, p.page, ms(p.queryMs.median), ms(p.queryMs.p99), ms(p.changedMs.median), ms(p.changedMs.p99), ms(p.pageMs.median), ms(p.pageMs.p99)]),
    ...loadTests.map((t) => [t.role, `${t.page}: concurrent users with p99 < ${LIMIT_MS} ms`, '', '', '', '', String(t.usersUnder200ms), t.levels.map((l) => `${l.connections}: p99 ${l.p99} ms, ${l.perSecond.toFixed(0)}/s`).join('; ')]),
  ],
  data: { patients: host.engine.patientCount, records: host.accepted, registries: host.registries.length, loadSeconds: loadMs / 1000, rssGiB: heapGiB, readEventsOnly, load: { start: loadAtStart, end: loadAtEnd }, pages: perPage, loadTests },
});
