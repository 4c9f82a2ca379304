import { CaregapsError, loadRegistries } from '@caregaps/core';
import { ClusterClient, ClusterWorker, type ClusterStatus } from '@caregaps/nats';
import { registryFolderOptions, type Register } from '../command.js';
import { EXIT, report, type Io } from '../io.js';
import { clusterOptions, serversOf, type ClusterConnectionOptions } from './publish.js';

interface RegistryOptions {
  registries: string;
  codesets: string;
  codesetsFrom: string[];
}

export interface WorkerCommandOptions extends ClusterConnectionOptions, RegistryOptions {
  store: string;
  id?: string;
  partitions?: string;
  asOf?: string;
  lease?: string;
  batch?: string;
}

export interface StatusCommandOptions extends ClusterConnectionOptions, RegistryOptions {
  registry?: string;
  organisation?: string;
  json?: boolean;
  wait?: string;
}

function wholeNumber(text: string | undefined, option: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new CaregapsError('CG_USAGE', `${option} must be a whole number above 0, not "${text}"`);
  return n;
}

function compile(options: RegistryOptions) {
  return loadRegistries(options.registries, options.codesets, { codesetSources: options.codesetsFrom });
}

/**
 * `caregaps cluster worker --store <dir>`: joins the cluster and applies a fair share of its partitions until
 * stopped (Ctrl-C or SIGTERM: it finishes the batch in hand and gives its partitions up), or until its store fails
 * (exit 1, saying why).
 */
export async function clusterWorker(io: Io, options: WorkerCommandOptions, signals: Pick<NodeJS.EventEmitter, 'once' | 'off'> = process): Promise<number> {
  try {
    const { compiled, index } = compile(options);
    const worker = await ClusterWorker.start({
      servers: serversOf(options.server),
      cluster: options.cluster,
      store: options.store,
      compiled,
      index,
      ...(options.id === undefined ? {} : { id: options.id }),
      ...(options.partitions === undefined ? {} : { partitions: wholeNumber(options.partitions, '--partitions')! }),
      ...(options.asOf === undefined ? {} : { asOf: options.asOf }),
      ...(options.lease === undefined ? {} : { leaseMs: wholeNumber(options.lease, '--lease')! }),
      ...(options.batch === undefined ? {} : { batchSize: wholeNumber(options.batch, '--batch')! }),
      log: (event) => io.err(`${new Date().toISOString().slice(11, 19)} ${event.message}\n`),
    });
    const stop = () => void worker.stop();
    signals.once('SIGINT', stop);
    signals.once('SIGTERM', stop);
    const failure = await worker.done;
    signals.off('SIGINT', stop);
    signals.off('SIGTERM', stop);
    if (failure) {
      io.err(`worker ${worker.id} stopped: ${failure.message}${failure instanceof CaregapsError ? ` [${failure.code}]` : ''}\n`);
      return EXIT.failed;
    }
    return EXIT.ok;
  } catch (error) {
    return report(io, error);
  }
}

function formatStatus(s: ClusterStatus): string {
  const lines = [
    `cluster ${s.cluster}: ${s.partitions} partitions, as of ${s.asOf}, ${s.records} records in the stream`,
    `${s.workers.length} worker${s.workers.length === 1 ? '' : 's'}:`,
    ...s.workers.map((w) => `  ${w.id.padEnd(12)} ${String(w.partitions.length).padStart(4)} partitions  ${w.host} pid ${w.pid}  store ${w.store}`),
    `partitions: ${s.partitions - s.unowned} owned, ${s.unowned} unowned; lag ${s.lag} records; ${s.caughtUp ? 'caught up' : 'catching up'}`,
    `  ${'p'.padStart(4)}  ${'owner'.padEnd(12)} ${'applied'.padStart(10)} ${'newest'.padStart(10)} ${'lag'.padStart(8)} ${'patients'.padStart(9)}`,
    ...s.partitionStatus.map(
      (p) =>
        `  ${String(p.partition).padStart(4)}  ${(p.owner ?? '-').padEnd(12)} ${String(p.applied).padStart(10)} ${String(p.last).padStart(10)} ${String(p.lag ?? '-').padStart(8)} ${String(p.patients).padStart(9)}`,
    ),
  ];
  return lines.join('\n') + '\n';
}

/** `caregaps cluster status`: workers, partitions (owner, applied position, lag) and counts summed across the cluster. */
export async function clusterStatus(io: Io, options: StatusCommandOptions): Promise<number> {
  try {
    const { compiled } = compile(options);
    const client = await ClusterClient.connect({ servers: serversOf(options.server), cluster: options.cluster, compiled });
    try {
      const wait = wholeNumber(options.wait, '--wait');
      const status = wait === undefined ? await client.status() : await client.caughtUp({ timeoutMs: wait * 1000 });
      const registries = options.registry ? [options.registry] : compiled.map((r) => r.id);
      const counts = await Promise.all(registries.map(async (id) => ({ id, counts: await client.counts(id, options.organisation) })));
      if (options.json) {
        io.out(JSON.stringify({ ...status, counts: Object.fromEntries(counts.map((c) => [c.id, c.counts ?? null])) }, null, 2) + '\n');
        return EXIT.ok;
      }
      io.out(formatStatus(status));
      const where = options.organisation ?? 'the whole population';
      if (counts.some((c) => c.counts === undefined)) throw new CaregapsError('CG_USAGE', `No organisation ${options.organisation} in cluster ${options.cluster}`);
      io.out(`counts at ${where} (registered ${counts[0]?.counts?.registered ?? 0}):\n`);
      for (const { id, counts: c } of counts) {
        io.out(`  ${id.padEnd(28)} register ${String(c!.register).padStart(9)}  prevalence ${(100 * c!.prevalence).toFixed(2)}%\n`);
        if (!options.registry) continue;
        for (const [indicator, i] of Object.entries(c!.indicators)) {
          io.out(`    ${indicator.padEnd(10)} met ${i.met}  gap ${i.gap}  excepted ${i.excepted}  n/a ${i['not-applicable']}  achievement ${i.achievement === null ? '-' : (100 * i.achievement).toFixed(1) + '%'}\n`);
        }
      }
      return EXIT.ok;
    } finally {
      await client.close();
    }
  } catch (error) {
    return report(io, error);
  }
}

/** `caregaps cluster patient <nhs>`: one patient's statuses, asked of the worker that owns their partition. */
export async function clusterPatient(io: Io, nhsNumber: string, options: ClusterConnectionOptions & { explain?: boolean }): Promise<number> {
  try {
    const client = await ClusterClient.connect({ servers: serversOf(options.server), cluster: options.cluster });
    try {
      const status = await client.patient(nhsNumber, { explain: options.explain === true });
      if (!status) {
        io.err(`no patient record for ${nhsNumber} in cluster ${options.cluster}\n`);
        return EXIT.failed;
      }
      io.out(JSON.stringify(status, null, 2) + '\n');
      return EXIT.ok;
    } finally {
      await client.close();
    }
  } catch (error) {
    return report(io, error);
  }
}

/** `caregaps cluster advance --as-of <date>`: moves the cluster's achievement date; every worker follows. */
export async function clusterAdvance(io: Io, options: ClusterConnectionOptions & { asOf: string }): Promise<number> {
  try {
    const client = await ClusterClient.connect({ servers: serversOf(options.server), cluster: options.cluster });
    try {
      await client.advanceTo(options.asOf);
      io.err(`cluster ${options.cluster} moves to ${options.asOf}; workers advance their partitions as they see it\n`);
      return EXIT.ok;
    } finally {
      await client.close();
    }
  } catch (error) {
    return report(io, error);
  }
}

/** `caregaps cluster …`. */
export const register: Register = (program, { io, exit }) => {
  const cluster = program.command('cluster').description('scale out on NATS JetStream: workers, status, queries (docs/scale-out.md)');
  clusterOptions(registryFolderOptions(cluster.command('worker').description('join a cluster and apply a fair share of its partitions until stopped')))
    .requiredOption('--store <dir>', "this worker's store directory (one LMDB file per partition it applies)")
    .option('--id <name>', 'worker name in the cluster (default: random)')
    .option('--partitions <n>', 'partition count when this sets the cluster up (default 64; fixed afterwards)')
    .option('--as-of <date>', 'achievement date when this sets the cluster up (default today; then `cluster advance`)')
    .option('--lease <ms>', 'lease time when this sets the cluster up (default 10000)')
    .option('--batch <n>', 'most records committed in one store transaction', '2048')
    .action(async (opts: WorkerCommandOptions) => exit(await clusterWorker(io, opts)));
  clusterOptions(registryFolderOptions(cluster.command('status').description('workers, partitions, lag, and counts summed across the cluster')))
    .option('--registry <id>', 'show this registry with its indicators')
    .option('--organisation <code>', 'counts at this organisation (practice, PCN, borough or ICB)')
    .option('--wait <seconds>', 'first wait (up to this long) until every partition is owned and caught up')
    .option('--json', 'print the status and counts as JSON')
    .action(async (opts: StatusCommandOptions) => exit(await clusterStatus(io, opts)));
  clusterOptions(cluster.command('patient').description("one patient's statuses, from the worker that owns their partition").argument('<nhsNumber>'))
    .option('--explain', 'add the rule that decided each indicator and the records it used')
    .action(async (nhsNumber: string, opts: ClusterConnectionOptions & { explain?: boolean }) => exit(await clusterPatient(io, nhsNumber, opts)));
  clusterOptions(cluster.command('advance').description("move the cluster's achievement date; workers re-evaluate only patients whose horizon passed"))
    .requiredOption('--as-of <date>', 'the new achievement date, YYYY-MM-DD')
    .action(async (opts: ClusterConnectionOptions & { asOf: string }) => exit(await clusterAdvance(io, opts)));
};
