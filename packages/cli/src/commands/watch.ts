import { writeFileSync } from 'node:fs';
import { CaregapsError, achievementDay, formatDay, loadRegistries, readRecords } from '@caregaps/core';
import { Engine, type Change } from '@caregaps/engine';
import { EXIT, checkOutputs, report, sink, type Io } from '../io.js';
import { describeSources, registryFolderOptions, type Register } from '../command.js';
import { optionalPartitions } from '../partitions.js';

export interface WatchOptions {
  /** NDJSON records, or `-` for standard input. */
  input: string;
  asOf: string;
  registries: string;
  codesets: string;
  codesetsFrom?: string[];
  /** Engine partitions, each on its own worker thread (default: one per core with --store, else one in this thread). */
  partitions?: string;
  registry?: string[];
  /** Organisation records (NDJSON) to load before the input. */
  organisations?: string;
  /** After the input ends, move the achievement date one day at a time up to this date, printing what time changes. */
  advanceTo?: string;
  /** Keep the engine's state in this directory (durable: a restart resumes from it). */
  store?: string;
  explain?: boolean;
  quarantine?: string;
  /** Where to write the changes (default stdout). */
  output?: string;
}

/**
 * One output line: the change without the practice (and the explanation only when asked for); `provisional: true`
 * when the register or indicator changed reads a missing, partial or substitute cluster.
 */
function line(change: Change, explain: boolean, provisional: ReadonlySet<string>): string {
  const { nhsNumber, registry, indicator, before, after, asOf, explanation } = change;
  const out: Record<string, unknown> = { nhsNumber, registry };
  if (indicator !== undefined) out['indicator'] = indicator;
  Object.assign(out, { before, after, asOf });
  if (provisional.has(`${registry}/${indicator ?? ''}`)) out['provisional'] = true;
  if (explain && explanation) out['explanation'] = explanation;
  return JSON.stringify(out) + '\n';
}

/**
 * `caregaps watch`: ingests a record stream into the incremental engine and prints every change of register
 * membership or indicator status as one NDJSON line the moment it happens.
 */
export async function watch(io: Io, options: WatchOptions, stdin: AsyncIterable<string | Uint8Array> = process.stdin): Promise<number> {
  try {
    const start = achievementDay(options.asOf);
    const until = options.advanceTo === undefined ? undefined : achievementDay(options.advanceTo);
    if (until !== undefined && until < start) throw new CaregapsError('CG_USAGE', `--advance-to ${options.advanceTo} is before --as-of ${options.asOf}`);
    checkOutputs({ '--output': options.output, '--quarantine': options.quarantine }, [options.input, options.organisations]);
    const loaded = loadRegistries(options.registries, options.codesets, { ...(options.registry ? { only: options.registry } : {}), codesetSources: options.codesetsFrom ?? [] });
    describeSources(io, loaded.sources);
    const out = sink(io, options.output);
    const explain = options.explain === true;
    const engine = new Engine({ ...loaded, asOf: start, explainChanges: explain, ...optionalPartitions(options.partitions), ...(options.store ? { store: { directory: options.store } } : {}) });
    const provisional = new Set(
      loaded.compiled.flatMap((r) => [
        ...(r.provisional.register.length ? [`${r.id}/`] : []),
        ...Object.entries(r.provisional.indicators).filter(([, c]) => c.length).map(([id]) => `${r.id}/${id}`),
      ]),
    );
    const subscription = engine.changes$.subscribe((change) => out.write(line(change, explain, provisional)));
    try {
      let accepted = 0;
      if (options.organisations) accepted += (await engine.ingest(readRecords(options.organisations))).accepted;
      const source = options.input === '-' ? readRecords(stdin, { file: '<stdin>' }) : readRecords(options.input);
      accepted += (await engine.ingest(source)).accepted;
      if (until !== undefined) {
        for (let day = achievementDay(engine.asOf) + 1; day <= until; day++) engine.advanceTo(formatDay(day));
      }
      const quarantine = engine.quarantine;
      if (options.quarantine) writeFileSync(options.quarantine, quarantine.items.map((q) => JSON.stringify(q) + '\n').join(''));
      io.err(`${accepted} records accepted, ${quarantine.size} quarantined; ${engine.patientCount} patients as of ${engine.asOf}\n`);
      for (const q of quarantine.items.slice(0, 5)) io.err(`  ${q.file ?? ''}:${q.line}: ${q.reason} [${q.code}]\n`);
    } finally {
      subscription.unsubscribe();
      engine.close();
      await out.close();
    }
    return EXIT.ok;
  } catch (error) {
    return report(io, error);
  }
}

/** `caregaps watch`. */
export const register: Register = (program, { io, exit }) => {
  const command = program
    .command('watch')
    .description('ingest a record stream into the incremental engine and print each change as one NDJSON line as it happens')
    .requiredOption('--input <file>', 'records in format v1 (NDJSON), or - for standard input')
    .requiredOption('--as-of <date>', 'achievement date, YYYY-MM-DD');
  registryFolderOptions(command)
    .option('--registry <id...>', 'only these registries')
    .option('--organisations <file>', 'organisation records (NDJSON) to load first')
    .option('--advance-to <date>', 'after the input ends, move the achievement date day by day up to this date')
    .option('--store <dir>', 'keep the engine state in this directory (durable; a restart resumes from it)')
    .option('--explain', 'add the explanation to every change')
    .option('--output <file>', 'write the changes here instead of stdout')
    .option('--quarantine <file>', 'write refused lines with their reasons here (NDJSON)')
    .option('--partitions <n>', 'split the population into n partitions, each on its own worker thread (default: one per core with --store; without it, one partition in this thread, so each record costs no thread round trip)')
    .action(async (opts: WatchOptions) => exit(await watch(io, opts)));
};
