import { existsSync } from 'node:fs';
import { CaregapsError } from '@caregaps/core';
import { headFileOf, verifyAuditLog } from '@caregaps/access';
import { EXIT, report, type Io } from '../io.js';
import { type Register } from '../command.js';

/**
 * `caregaps audit verify <log>`: checks the hash chain of an NDJSON audit log and its head file. Exit 0 when
 * intact, 1 when any entry was modified, deleted, inserted, reordered or truncated (or the head is missing).
 */
export function auditVerify(io: Io, log: string, options: { head?: string }): number {
  try {
    if (!existsSync(log)) throw new CaregapsError('CG_INPUT', `No audit log at ${log}`);
    const head = options.head ?? headFileOf(log);
    const result = verifyAuditLog(log, head);
    if (result.ok) {
      io.out(`ok: ${result.entries} entries, chain intact, head ${head} matches\n`);
      return EXIT.ok;
    }
    io.out(`FAILED: ${result.problems.length} problem(s) in ${log} (${result.entries} entries)\n`);
    for (const p of result.problems) io.out(`  ${log}:${p.line}: ${p.problem} [CG_AUDIT_TAMPERED]\n`);
    return EXIT.failed;
  } catch (error) {
    return report(io, error);
  }
}

/** `caregaps audit verify <log>`. */
export const register: Register = (program, { io, exit }) => {
  program
    .command('audit')
    .description('audit trail tools')
    .command('verify')
    .description('check an audit log for modified, deleted, reordered or truncated entries')
    .argument('<log>', 'the NDJSON audit log')
    .option('--head <file>', 'the head file (default <log>.head)')
    .action((log: string, opts: { head?: string }) => exit(auditVerify(io, log, opts)));
};
