// Page times of `caregaps serve` over real HTTP on 127.0.0.1, one request at a time: median and p99 per page and
// role. Default population: the bundled sample; pass a generated one (`caregaps generate`) to go bigger.
// Usage (after pnpm build): node benchmarks/serve.mjs [records.ndjson organisations.ndjson] [requests=40]
import { join } from 'node:path';
import { MemoryAuditLog } from '../packages/access/dist/index.js';
import { createServer, openHost } from '../packages/server/dist/index.js';
import { ROOT, machine, median, time } from './lib.mjs';

const sample = join(ROOT, 'examples', 'sample-population');
const [records = join(sample, 'records.ndjson'), organisations = join(sample, 'organisations.ndjson'), runs = '40'] = process.argv.slice(2);
const loadStart = performance.now();
const host = await openHost({ records: [records], organisations, asOf: '2025-03-31', registries: join(ROOT, 'registries'), codesets: join(ROOT, 'codesets'), audit: new MemoryAuditLog() });
const loadMs = performance.now() - loadStart;
const app = await createServer({ ...host });
const origin = await app.listen({ host: '127.0.0.1', port: 0 });

async function signIn(principal) {
  const response = await fetch(`${origin}/login`, { method: 'POST', body: `principal=${principal}`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, redirect: 'manual' });
  return response.headers.get('set-cookie').split(';')[0];
}
const gp = await signIn('gp-barnet');
const analyst = await signIn('icb-analyst');
const firstGap = async () => /data-nhs-number="(\d{10})"/.exec(await (await fetch(`${origin}/gaps?registry=diabetes&indicator=DM020`, { headers: { cookie: gp } })).text())[1];
const patient = await firstGap();
const pages = [
  ['GP', 'dashboard (practice, diabetes)', '/dashboard?level=practice&registry=diabetes', gp],
  ['GP', 'gap list (DM020)', '/gaps?registry=diabetes&indicator=DM020', gp],
  ['GP', 'patient page', `/patients/${patient}`, gp],
  ['analyst', 'dashboard (ICB, diabetes)', '/dashboard?level=icb&registry=diabetes', analyst],
];
const p99 = (values) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.ceil(values.length * 0.99) - 1)];
console.log(`${host.engine.patientCount} patients, ${host.registries.length} registries, loaded in ${(loadMs / 1000).toFixed(1)} s; ${runs} requests per page, one at a time`);
console.log(JSON.stringify(machine()));
for (const [role, name, url, cookie] of pages) {
  const durations = await time(async () => {
    const response = await fetch(origin + url, { headers: { cookie } });
    if (response.status !== 200) throw new Error(`${url} answered ${response.status}`);
    await response.text();
  }, Number(runs));
  console.log(`${role.padEnd(8)} ${name.padEnd(32)} median ${median(durations).toFixed(1)} ms, p99 ${p99(durations).toFixed(1)} ms`);
}
await app.close();
host.engine.close();
