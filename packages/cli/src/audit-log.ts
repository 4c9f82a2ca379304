import { CaregapsError } from '@caregaps/core';
import { FileCheckpoint, MemoryAuditLog, NdjsonAuditLog, readAuditKey, type AuditSink } from '@caregaps/access';
import type { Command } from 'commander';

/** The audit options a command that reads patient data takes. */
export interface AuditLogOptions {
  audit?: string;
  auditKey?: string;
  auditCheckpoint?: string;
}

/** Adds --audit-key and --audit-checkpoint (the command declares --audit itself). */
export function auditLogOptions(command: Command): Command {
  return command
    .option('--audit-key <file>', 'the audit key (at least 32 bytes) that chains the --audit log, kept outside its directory')
    .option('--audit-checkpoint <file>', 'where the --audit log head is anchored, outside its directory');
}

/**
 * The audit sink the options name: the keyed NDJSON log of --audit (checked and opened, anchored in
 * --audit-checkpoint), or an in-memory log when no --audit is given.
 */
export async function openAuditSink(options: AuditLogOptions): Promise<AuditSink> {
  if (!options.audit) return new MemoryAuditLog();
  if (!options.auditKey) throw new CaregapsError('CG_USAGE', '--audit needs --audit-key <file>: the key that chains the log, kept outside its directory');
  return NdjsonAuditLog.open(options.audit, {
    key: readAuditKey(options.auditKey, options.audit),
    ...(options.auditCheckpoint ? { checkpoint: new FileCheckpoint(options.auditCheckpoint, options.audit) } : {}),
  });
}
