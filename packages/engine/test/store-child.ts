/**
 * Child process for the record store's fault tests (a damaged file can make LMDB fault, which must not take the
 * test runner down with it):
 * - `read <dir>`: opens the store read-only, replays every record, then runs `verify()`; prints one JSON line with
 *   where damage was reported (`open`, `read`, `verify`, or none) and a digest of what was read.
 * - `hold <dir>`: opens the store for writing; prints `held` or `locked <code>`; keeps it until stdin closes.
 */
import { createHash } from 'node:crypto';
import { writeSync } from 'node:fs';
import { RecordStore } from '../src/index.js';

const [mode, dir] = process.argv.slice(2);
const say = (line: string) => writeSync(1, `${line}\n`);

if (mode === 'read') {
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
  }
  const report = store.verify();
  if (reported === undefined && report.damage.length > 0) reported = 'verify';
  say(JSON.stringify({ reported: reported ?? null, code: code ?? null, damage: report.damage.length, records, digest: hash.digest('hex') }));
  void store.close();
} else if (mode === 'hold') {
  try {
    const store = RecordStore.open({ directory: dir! });
    say('held');
    process.stdin.resume();
    process.stdin.on('end', () => {
      void store.close().then(() => process.exit(0));
    });
  } catch (error) {
    say(`locked ${(error as { code?: string }).code ?? 'uncoded'}`);
    process.exit(0);
  }
}
