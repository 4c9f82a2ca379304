/**
 * Child process (or worker thread, with `quiet`) for the audit fault tests: appends `count` events tagged with its name to a shared log and prints
 * "ack <id>" after each append returns (the access it records would then go ahead). Parents run several at once,
 * or kill one with SIGKILL at a random moment.
 */
import { writeSync } from 'node:fs';
import { FileCheckpoint, NdjsonAuditLog } from '../src/index.js';

const [file, key, checkpointFile, countText, name, quiet] = process.argv.slice(2);
const log = await NdjsonAuditLog.open(file!, { key: key!, checkpoint: new FileCheckpoint(checkpointFile!, file!), lockTimeoutMs: 30_000 });
for (let i = 1; i <= Number(countText); i++) {
  const id = `${name}-${i}`;
  await log.append({ id, time: new Date().toISOString(), user: name!, roles: ['nurse'], organisation: 'P00001', purpose: 'direct-care', activity: 'view-patient-record', resource: 'patient-record', decision: 'allow', policy: 'test@1.0.0', rule: 'child' });
  if (quiet !== 'quiet') writeSync(1, `ack ${id}\n`);
}
log.close();
