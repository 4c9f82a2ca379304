import type { QuarantinedRecord } from '@caregaps/core';
import { Publisher, type PublishSummary } from '@caregaps/nats';
import type { Command } from 'commander';
import { type Register } from '../command.js';
import { EXIT, readRecordsWithProgress, report, sink, type Io } from '../io.js';

/** The options every command that reaches a cluster shares. */
export interface ClusterConnectionOptions {
  server: string;
  cluster: string;
}

/** `--server` and `--cluster`. */
export function clusterOptions(command: Command): Command {
  return command
    .option('--server <url>', 'NATS server URL (comma-separated for several)', 'nats://127.0.0.1:4222')
    .option('--cluster <name>', 'cluster name on the server (subjects <name>.records.<p>, buckets <name>-…)', 'caregaps');
}

/** The servers of `--server`. */
export function serversOf(text: string): string[] {
  return text.split(',').map((s) => s.trim()).filter(Boolean);
}

export interface PublishOptions extends ClusterConnectionOptions {
  partitions?: string;
  quarantine?: string;
  inFlight?: string;
}

function formatSummary(s: PublishSummary, cluster: string, partitions: number, seconds: number): string {
  const refused = Object.values(s.quarantined).reduce((a, b) => a + (b ?? 0), 0);
  const lines = [
    `${s.read} items read; published to cluster ${cluster} (${partitions} partitions) in ${seconds.toFixed(1)} s:`,
    `  ${String(s.published).padStart(10)}  new records`,
    `  ${String(s.duplicates).padStart(10)}  duplicates (the stream already held them: same source, id and version)`,
    `  ${String(s.organisations).padStart(10)}  organisation records (to the organisations bucket)`,
    `  ${String(refused).padStart(10)}  refused${refused ? ':' : ''}`,
    ...Object.entries(s.quarantined).map(([code, n]) => `  ${String(n).padStart(14)}  ${code}`),
  ];
  if (s.retried) lines.push(`  ${String(s.retried).padStart(10)}  publishes retried after a timeout (same message id, so never twice)`);
  return lines.join('\n') + '\n';
}

/** `caregaps publish <files…>`: record files → the cluster's records stream, with back-pressure, progress and a summary. */
export async function publish(io: Io, files: string[], options: PublishOptions): Promise<number> {
  try {
    const started = process.hrtime.bigint();
    const refused = options.quarantine ? sink(io, options.quarantine) : undefined;
    const publisher = await Publisher.open({
      ...(refused ? { onRefused: (q: QuarantinedRecord) => refused.write(JSON.stringify(q) + '\n') } : {}),
      servers: serversOf(options.server),
      cluster: options.cluster,
      ...(options.partitions === undefined ? {} : { partitions: Number(options.partitions) }),
      ...(options.inFlight === undefined ? {} : { inFlight: Number(options.inFlight) }),
    });
    try {
      for (const file of files) {
        for await (const item of readRecordsWithProgress(io, file, `publishing ${file}`)) {
          await publisher.publish(item);
        }
      }
      await publisher.flush();
    } finally {
      await refused?.close();
      await publisher.close();
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    io.err(formatSummary(publisher.summary, publisher.target.cluster, publisher.target.partitions, seconds));
    for (const q of publisher.refused.slice(0, 5)) io.err(`  ${q.file ?? ''}:${q.line}: ${q.reason} [${q.code}]\n`);
    return publisher.summary.published + publisher.summary.duplicates === 0 && publisher.summary.read > 0 ? EXIT.failed : EXIT.ok;
  } catch (error) {
    return report(io, error);
  }
}

/** `caregaps publish`. */
export const register: Register = (program, { io, exit }) => {
  clusterOptions(
    program
      .command('publish')
      .description('publish record files (record format v1, NDJSON) to a NATS JetStream cluster, partitioned by NHS number')
      .argument('<files...>', 'NDJSON record files'),
  )
    .option('--partitions <n>', 'partition count when this sets the cluster up (default 64; fixed afterwards)')
    .option('--in-flight <n>', 'most records awaiting acknowledgement at once (back-pressure)', '2048')
    .option('--quarantine <file>', 'write refused records with their reasons here (NDJSON)')
    .action(async (files: string[], opts: PublishOptions) => exit(await publish(io, files, opts)));
};
