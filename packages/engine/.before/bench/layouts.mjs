import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { open } from 'lmdb';
import { readFileSync } from 'node:fs';
const lines = readFileSync('/tmp/ss/pop2k/records.ndjson', 'utf8').split('\n').filter(Boolean);
const recs = lines.map((l) => JSON.parse(l));
const bytes = lines.map((l) => Buffer.from(l));
const N = recs.length;
const scratch = Buffer.allocUnsafe(4096);
const NO = { noOverwrite: true };
function run(name, fn, opts = {}) {
  const dir = mkdtempSync('/tmp/ss/lay-');
  const env = open({ path: dir + '/x.mdb', overlappingSync: false, maxDbs: 4, ...opts });
  const a = env.openDB({ name: 'a', encoding: 'binary', keyEncoding: 'binary', ...(opts.db ?? {}) });
  const b = env.openDB({ name: 'b', encoding: 'binary', keyEncoding: 'binary' });
  const t = process.hrtime.bigint();
  for (let i = 0; i < N; i += 4096) env.transactionSync(() => { for (let j = i; j < Math.min(N, i + 4096); j++) fn(a, b, j); });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  const size = statSync(dir + '/x.mdb').size;
  env.close();
  rmSync(dir, { recursive: true, force: true });
  console.log(name.padEnd(40), Math.round(N / ms * 1000), 'rec/s', (size / N).toFixed(0), 'B/rec file');
}
let handle = 0;
const idKey = (r) => { const n = scratch.write(r.id, 0, 'utf8'); scratch[n] = 0; const m = scratch.write(r.source ?? '', n + 1, 'utf8'); return scratch.subarray(0, n + 1 + m); };
const v = Buffer.allocUnsafe(4096);
for (let rep = 0; rep < 1; rep++) {
run('1 put: [id,source] -> bytes', (a, b, j) => { const r = recs[j]; a.putSync(r.kind === 'patient' ? Buffer.from(r.nhsNumber) : idKey(r), bytes[j]); });
run('1 put noOverwrite [id,source]', (a, b, j) => { const r = recs[j]; a.putSync(r.kind === 'patient' ? Buffer.from(r.nhsNumber) : idKey(r), bytes[j], NO); });
run('2 puts: id(noOverwrite)+[nhs,handle]', (a, b, j) => {
  const r = recs[j];
  if (r.kind !== 'patient') { v.write(r.nhsNumber, 0, 'latin1'); v.writeUInt32BE(handle, 10); a.putSync(idKey(r), v.subarray(0, 14), NO); }
  const k = Buffer.allocUnsafe(14); k.write(r.nhsNumber, 0, 'latin1'); k.writeUInt32BE(handle++, 10);
  b.putSync(r.kind === 'patient' ? k.subarray(0, 10) : k, bytes[j]);
});
run('2 puts + LZ4 compression thr 64', (a, b, j) => {
  const r = recs[j];
  if (r.kind !== 'patient') { v.write(r.nhsNumber, 0, 'latin1'); v.writeUInt32BE(handle, 10); b.putSync(idKey(r), v.subarray(0, 14), NO); }
  const k = Buffer.allocUnsafe(14); k.write(r.nhsNumber, 0, 'latin1'); k.writeUInt32BE(handle++, 10);
  a.putSync(r.kind === 'patient' ? k.subarray(0, 10) : k, bytes[j]);
}, { db: { compression: { threshold: 64 } } });
}
const dict = Buffer.from('{"kind":"patient","nhsNumber":"9","birthDate":"19","sex":"female","practice":"","registeredFrom":"20","registeredTo":null,"deathDate":null,"optOuts":[],"source":""}{"kind":"event","id":"","nhsNumber":"9","code":"","date":"20","value":,"unit":"","source":""}');
for (let rep = 0; rep < 2; rep++)
run('2 puts + LZ4 small dict thr 64', (a, b, j) => {
  const r = recs[j];
  if (r.kind !== 'patient') { v.write(r.nhsNumber, 0, 'latin1'); v.writeUInt32BE(handle, 10); b.putSync(idKey(r), v.subarray(0, 14), NO); }
  const k = Buffer.allocUnsafe(14); k.write(r.nhsNumber, 0, 'latin1'); k.writeUInt32BE(handle++, 10);
  a.putSync(r.kind === 'patient' ? k.subarray(0, 10) : k, bytes[j]);
}, { db: { compression: { threshold: 64, dictionary: dict } } });
