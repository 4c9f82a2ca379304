/**
 * Child process for the record store's fault tests (a damaged file can make LMDB fault, which must not take the
 * test runner down with it):
 * - `read <dir>`: opens the store read-only, replays every record, then runs `verify()`; prints one JSON line with
 *   where damage was reported (`open`, `read`, `verify`, or none) and a digest of what was read.
 * - `hold <dir>`: opens the store for writing; prints `held` or `locked <code>`; keeps it until stdin closes.
 * - `nosync <dir>`: opens the store with `noSync` and writes batches of 100 events (ids `n<b>-<i>` of source `N`)
 *   until killed, printing `ack <b>` after batch b commits.
 * - As a worker thread (`workerData: { dir, batches, nhsNumbers, committed }`): owns the store and writes `batches`
 *   batches of 50 events of code 44054006 (DM_COD, diabetes mellitus, codesets/) (ids `w<b>-<i>` of source `W`, batch b for `nhsNumbers[b % n]`), storing in
 *   `committed[0]` how many batches have committed; posts `done` after closing.
 */
import { createHash } from 'node:crypto';
import { writeSync } from 'node:fs';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import type { CaregapsRecord } from '@caregaps/core';
import { RecordStore } from '../src/index.js';

const [mode, dir] = process.argv.slice(2);
const say = (line: string) => writeSync(1, `${line}\n`);

if (!isMainThread) {
  const { dir: directory, batches, nhsNumbers, committed } = workerData as { dir: string; batches: number; nhsNumbers: string[]; committed: Int32Array };
  const store = RecordStore.open({ directory });
  for (let b = 0; b < batches; b++) {
    const nhsNumber = nhsNumbers[b % nhsNumbers.length]!;
    const records: CaregapsRecord[] = Array.from({ length: 50 }, (_, i) => ({ kind: 'event', id: `w${b}-${i}`, source: 'W', nhsNumber, code: '44054006', date: '2024-01-01' }));
    store.writeSync({ records });
    Atomics.store(committed, 0, b + 1);
  }
  void store.close().then(() => parentPort!.postMessage('done'));
} else if (mode === 'read') {
  let store: RecordStore;
  try {
    store = RecordStore.open({ directory: dir!, readOnly: true });
  } catch (error) {
    say(JSON.stringify({ reported: 'open', code: (error as { code?: string }).code ?? 'uncoded', message: (error as Error).message }));
    process.exit(0);
  }
  const hash = createHash('sha256');
  let reported: string | undefined;
  let code: string | undefined;
  let message: string | undefined;
  let records = 0;
  try {
    for (const p of store.patients()) {
      hash.update(JSON.stringify(p));
      records += (p.patient ? 1 : 0) + p.events.length + p.retractions.length;
    }
    hash.update(JSON.stringify(store.organisations()));
    hash.update(JSON.stringify([...store.quarantined()]));
  } catch (error) {
    reported = 'read';
    code = (error as { code?: string }).code ?? 'uncoded';
    message = (error as Error).message;
  }
  const report = store.verify();
  if (reported === undefined && report.damage.length > 0) reported = 'verify';
  say(JSON.stringify({ reported: reported ?? null, code: code ?? null, message, damage: report.damage.length, records, digest: hash.digest('hex') }));
  process.exit(0); // read only: nothing to release, and closing must not wait on a damaged file
} else if (mode === 'nosync') {
  const store = RecordStore.open({ directory: dir!, noSync: true });
  for (let b = 0; ; b++) {
    const records: CaregapsRecord[] = Array.from({ length: 100 }, (_, i) => ({ kind: 'event', id: `n${b}-${i}`, source: 'N', nhsNumber: '9434765919', code: '44054006', date: '2024-01-01' }));
    store.writeSync({ records });
    say(`ack ${b}`);
  }
} else if (mode === 'hold') {
  try {
    const store = RecordStore.open({ directory: dir! });
    say('held');
    process.stdin.resume();
    process.stdin.on('end', () => {
      void store.close().then(() => process.exit(0));
    });
  } catch (error) {
    say(`locked ${(error as { code?: string }).code ?? 'uncoded'}: ${(error as Error).message}`);
    process.exit(0);
  }
}
