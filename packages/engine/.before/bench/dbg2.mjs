import { open } from 'lmdb';
import { mkdtempSync } from 'node:fs';
const slice = Uint8Array.prototype.slice; const copy = Buffer.prototype.copy;
const KEY_ENCODER = { writeKey: (key, target, start) => { copy.call(key.buf, target, start, 0, key.len); return start + key.len; }, readKey: (t, s, e) => slice.call(t, s, e) };
const env = open({ path: mkdtempSync('/tmp/ss/d-') + '/x.mdb', maxDbs: 2 });
const db = env.openDB({ name: 'a', encoding: 'binary', keyEncoder: KEY_ENCODER });
db.putSync({ buf: Buffer.from('abc'), len: 3 }, Buffer.from('v'));
try { for (const e of db.getRange()) console.log(e); } catch (e) { console.log(e.stack); }
try { for (const e of db.getRange({start: { buf: Buffer.from('a'), len: 1 }})) console.log(e); } catch (e) { console.log(e.stack); }
