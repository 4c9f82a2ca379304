import { CaregapsError, loadRegistries } from '@caregaps/core';
import { Engine, RecordStore, migrateOldStore } from '@caregaps/engine';
import { registryFolderOptions, type Register } from '../command.js';
import { EXIT, report, type Io } from '../io.js';

export interface StoreRebuildOptions {
  registries: string;
  codesets: string;
  registry?: string[];
  /** Achievement date for a store that has none yet (a store keeps its own date). */
  asOf?: string;
  partition?: string;
}

/** `caregaps store migrate <old> <new>`: copies an old log+snapshot engine store into a new record store. */
export function storeMigrate(io: Io, from: string, to: string): number {
  try {
    const r = migrateOldStore(from, to);
    io.out(
      `migrated ${from} → ${to}: ${r.read} entries read, ${r.written} records written, ${r.quarantined} quarantined` +
        `${r.asOf ? `, achievement date ${r.asOf}` : ''}${r.tornBytes ? `; ${r.tornBytes} bytes of a torn last entry (never acknowledged) left behind` : ''}\n`,
    );
    return EXIT.ok;
  } catch (error) {
    return report(io, error);
  }
}

/** `caregaps store verify <dir>`: checks every checksum, index entry and count; exit 1 and one line per damage. */
export async function storeVerify(io: Io, directory: string, partition = '0'): Promise<number> {
  try {
    const store = RecordStore.open({ directory, partition: partitionNumber(partition), readOnly: true });
    try {
      const { checked, damage } = store.verify();
      for (const d of damage) io.out(`${d.db}[${d.key}]: ${d.problem} [CG_STORE_DAMAGED]\n`);
      io.err(`${store.file}: ${checked} values checked, ${damage.length} damaged\n`);
      return damage.length === 0 ? EXIT.ok : EXIT.failed;
    } finally {
      await store.close();
    }
  } catch (error) {
    if (error instanceof CaregapsError && error.code === 'CG_STORE_DAMAGED') {
      io.out(`${error.message} [CG_STORE_DAMAGED]\n`);
      return EXIT.failed;
    }
    return report(io, error);
  }
}

/**
 * `caregaps store rebuild <dir>`: rebuilds the engine's state from the record store alone (no feeds) with the
 * registries and codesets given — what a new QOF year or PCD release needs — and reports the counts and the rate.
 */
export async function storeRebuild(io: Io, directory: string, options: StoreRebuildOptions): Promise<number> {
  try {
    const loaded = loadRegistries(options.registries, options.codesets, options.registry);
    const started = process.hrtime.bigint();
    const engine = new Engine({ ...loaded, asOf: options.asOf ?? new Date().toISOString().slice(0, 10), store: { directory } });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    try {
      const { patients, records, eventsNotHeld } = engine.recovery!;
      io.out(
        `rebuilt ${patients} patients (${records} records, of which ${eventsNotHeld} events no registry reads, not held) from ${directory} in ${seconds.toFixed(2)} s (${Math.round(records / Math.max(seconds, 1e-9))} records/s), as of ${engine.asOf}\n`,
      );
      for (const registry of loaded.compiled) {
        const c = engine.counts(registry.id)!;
        io.out(`${registry.id}: ${c.register} on the register of ${c.registered} registered\n`);
      }
    } finally {
      engine.close();
    }
    return EXIT.ok;
  } catch (error) {
    return report(io, error);
  }
}

function partitionNumber(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) throw new CaregapsError('CG_USAGE', `--partition must be a whole number ≥ 0, not ${text}`);
  return n;
}

/** `caregaps store migrate | verify | rebuild`. */
export const register: Register = (program, { io, exit }) => {
  const store = program.command('store').description('the engine record store: migrate an old store, verify checksums, rebuild state from it');
  store
    .command('migrate <old> <new>')
    .description('copy an engine store in the old log+snapshot format into a new record store (the old directory is only read)')
    .action((from: string, to: string) => exit(storeMigrate(io, from, to)));
  store
    .command('verify <dir>')
    .description('read every value of a record store and check its checksum, indexes and counts; list every damage')
    .option('--partition <n>', 'the partition to verify', '0')
    .action(async (dir: string, opts: { partition: string }) => exit(await storeVerify(io, dir, opts.partition)));
  const rebuild = store
    .command('rebuild <dir>')
    .description('rebuild the engine state from the record store alone, with these registries and codesets')
    .option('--as-of <date>', 'achievement date when the store has none yet (YYYY-MM-DD)');
  registryFolderOptions(rebuild)
    .option('--registry <id...>', 'only these registries')
    .action(async (dir: string, opts: StoreRebuildOptions) => exit(await storeRebuild(io, dir, opts)));
};
