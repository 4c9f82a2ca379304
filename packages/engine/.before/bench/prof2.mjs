import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
const { RecordStore } = await import(process.env.DIST ?? '/work/wt/store-speed/packages/engine/dist/index.js');
const lines = readFileSync('/work/wt/store-speed/benchmarks/.data/population-1000x100/records.ndjson', 'utf8').split('\n').filter(Boolean);
const out = lines.map((l) => JSON.parse(l));
const bytes = lines.map((l) => Buffer.from(l));
for (let rep = 0; rep < Number(process.argv[2] ?? 3); rep++) {
const dir = mkdtempSync('/tmp/ss/prof-');
const s = RecordStore.open({ directory: dir, noSync: process.env.NOSYNC === '1' });
const t = process.hrtime.bigint();
for (let i = 0; i < out.length; i += 4096) s.writeSync({ records: out.slice(i, i + 4096), bytes: bytes.slice(i, i + 4096) });
const ms = Number(process.hrtime.bigint() - t) / 1e6;
console.log(`${Math.round(out.length / ms * 1000)} records/s`);
await s.close();
rmSync(dir, { recursive: true, force: true });
}
