import { existsSync } from 'node:fs';
import { CaregapsError } from '@caregaps/core';
import { FileCheckpoint, readAuditKey, verifyAuditLog } from '@caregaps/access';
import { EXIT, report, type Io } from '../io.js';
import { type Register } from '../command.js';

/**
 * `caregaps audit verify <log> --key <file> [--checkpoint <file>]`: checks every entry's HMAC under the key, the
 * chain's order, and the checkpoint kept outside the log. Exit 0 when intact, 1 when any entry was edited,
 * deleted, inserted, reordered or truncated — even with every plain hash recomputed — or no checkpoint was given.
 */
export function auditVerify(io: Io, log: string, options: { key?: string; checkpoint?: string }): number {
  try {
    if (!existsSync(log)) throw new CaregapsError('CG_INPUT', `No audit log at ${log}`);
    if (!options.key) throw new CaregapsError('CG_USAGE', 'audit verify needs --key <file>: the key the log was written with');
    const key = readAuditKey(options.key, log);
    const checkpoint = options.checkpoint ? new FileCheckpoint(options.checkpoint, log).read() : undefined;
    if (options.checkpoint && !checkpoint) throw new CaregapsError('CG_AUDIT_CHECKPOINT', `No checkpoint at ${options.checkpoint}`);
    const result = verifyAuditLog(log, key, checkpoint);
    if (result.ok) {
      io.out(`ok: ${result.entries} entries, every MAC and link verified, checkpoint of ${checkpoint!.time} (${checkpoint!.count} entries) matches\n`);
      return EXIT.ok;
    }
    io.out(`FAILED: ${result.problems.length} problem(s) in ${log} (${result.entries} entries)\n`);
    for (const p of result.problems) io.out(`  ${log}:${p.line}: ${p.problem} [CG_AUDIT_TAMPERED]\n`);
    return EXIT.failed;
  } catch (error) {
    return report(io, error);
  }
}

/** `caregaps audit verify <log> --key <file> --checkpoint <file>`. */
export const register: Register = (program, { io, exit }) => {
  program
    .command('audit')
    .description('audit trail tools')
    .command('verify')
    .description('check a keyed audit log for edited, deleted, reordered or truncated entries')
    .argument('<log>', 'the NDJSON audit log')
    .option('--key <file>', 'the audit key file (at least 32 bytes), kept outside the log directory')
    .option('--checkpoint <file>', 'the checkpoint file the writer anchored the log in (outside the log directory)')
    .action((log: string, opts: { key?: string; checkpoint?: string }) => exit(auditVerify(io, log, opts)));
};
