import { mkdtempSync, rmSync } from 'node:fs';
import { withCheckDigit } from '/work/wt/store-speed/packages/core/dist/index.js';
const { RecordStore } = await import(process.env.DIST ?? '/work/wt/store-speed/packages/engine/dist/index.js');
const count = Number(process.argv[2] ?? 200000);
const codes = ['44054006', '999791000000106', '163020007', '320030001'];
const out = [];
for (let stem = 900_000_000; out.length < count; stem++) {
  const nhsNumber = withCheckDigit(stem); if (nhsNumber === undefined) continue;
  out.push({ kind: 'patient', nhsNumber, birthDate: '1960-01-01', sex: 'female', practice: 'F83004', registeredFrom: '2001-05-01', source: 'F83004' });
  for (let e = 0; e < 100 && out.length < count; e++) {
    const day = String(1 + (e % 28)).padStart(2, '0'); const month = String(1 + (e % 12)).padStart(2, '0');
    out.push({ kind: 'event', id: `F83004:obs:${stem}:${e}`, nhsNumber, code: codes[e % codes.length], date: `20${15 + (e % 10)}-${month}-${day}`, value: 40 + (e % 30), unit: 'mmol/mol', source: 'F83004' });
  }
}
const bytes = out.map((r) => Buffer.from(JSON.stringify(r)));
const dir = mkdtempSync('/tmp/ss/prof-');
const s = RecordStore.open({ directory: dir });
const t = process.hrtime.bigint();
for (let i = 0; i < out.length; i += 4096) s.writeSync({ records: out.slice(i, i + 4096), bytes: bytes.slice(i, i + 4096) });
const ms = Number(process.hrtime.bigint() - t) / 1e6;
console.log(`${Math.round(out.length / ms * 1000)} records/s`);
await s.close();
rmSync(dir, { recursive: true, force: true });
