import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * Who writes a store. lmdb-js's own `tryLock`/`attemptLock` hold only among the threads of one process, and LMDB's
 * writer mutex only for the length of one transaction, so write ownership is a lease kept inside the store: it is
 * read and taken in one write transaction, which LMDB's writer mutex (shared by every process that opens the file)
 * makes atomic, and every later write transaction checks it is still ours. A lease whose process has ended (the
 * pid is gone, or now belongs to a process started at another time) is taken over.
 */
export interface Owner {
  pid: number;
  /** The process's start time (Linux: jiffies since boot; elsewhere absent), so a reused pid is not mistaken for it. */
  started: number | undefined;
  token: string;
}

export function ownerOfThisProcess(): Owner {
  return { pid: process.pid, started: startTime(process.pid), token: randomUUID() };
}

/** Whether the process that took this lease still runs. */
export function isAlive(owner: Owner): boolean {
  if (!Number.isInteger(owner.pid) || owner.pid <= 0) return false;
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const started = startTime(owner.pid);
  return owner.started === undefined || started === undefined || started === owner.started;
}

function startTime(pid: number): number | undefined {
  try {
    // Field 22 of /proc/<pid>/stat; the command name (field 2) may hold spaces, so count after its closing parenthesis.
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  } catch {
    return undefined;
  }
}
