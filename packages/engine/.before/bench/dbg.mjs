import { RecordStore } from '../../dist/index.js';
import { mkdtempSync } from 'node:fs';
const dir = mkdtempSync('/tmp/ss/d-');
const w = RecordStore.open({ directory: dir });
w.writeSync({ records: [{ kind: 'event', id: 'a', nhsNumber: '9434765919', code: '44054006', date: '2024-01-01' }] });
try { console.log([...w.patients()]); } catch (e) { console.log(e.cause, e.stack); }
