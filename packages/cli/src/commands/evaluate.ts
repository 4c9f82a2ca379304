import { writeFileSync } from 'node:fs';
import {
  CaregapsError,
  achievementDay,
  loadRegistries,
  provisionalReason,
  type CompiledRegistry,
  type PatientResult,
  type ReadResult,
} from '@caregaps/core';
import { Engine } from '@caregaps/engine';
import { individualMeasureReport, summaryMeasureReports } from '@caregaps/fhir';
import { EXIT, checkOutputs, readRecordsWithProgress, report, sink, type Io } from '../io.js';
import { sourceRecords, type SourceOptions } from './ingest.js';
import { describeSources, registryFolderOptions, type Register } from '../command.js';
import { optionalPartitions } from '../partitions.js';

export interface EvaluateOptions extends SourceOptions {
  input?: string;
  asOf: string;
  registries: string;
  codesets: string;
  codesetsFrom?: string[];
  /** Engine partitions, each on its own worker thread (default: one per core). */
  partitions?: string;
  output?: string;
  explain?: boolean;
  summary?: boolean;
  quarantine?: string;
  registry?: string[];
  /** `results` (DESIGN §3.2 lines, the default), `measure-report` (one individual FHIR MeasureReport per line) or
   * `measure-report-summary` (one summary MeasureReport per registry). */
  format?: 'results' | 'measure-report' | 'measure-report-summary';
}

const FORMATS = ['results', 'measure-report', 'measure-report-summary'];

/** Register sizes and achievement per indicator, for the readable summary. */
export interface Summary {
  registered: number;
  registers: Record<string, { size: number; indicators: Record<string, Record<string, number>> }>;
  /** Indicators (and `<registry> register`s) that read a cluster that is missing, partial or a substitute, with the reason (computed). */
  provisional: Record<string, string>;
  /** Retired indicators (still evaluated), with the reason and source the rule file gives. */
  retired: Record<string, string>;
}

function summarise(results: Iterable<PatientResult>, registries: readonly CompiledRegistry[], registered: number): Summary {
  const summary: Summary = { registered, registers: {}, provisional: {}, retired: {} };
  for (const r of registries) {
    if (r.provisional.register.length) summary.provisional[`${r.id} register`] = provisionalReason(r.provisional.register);
    for (const [id, clusters] of Object.entries(r.provisional.indicators)) if (clusters.length) summary.provisional[id] = provisionalReason(clusters);
    const retiring = [...r.registry.definition.indicators, ...(r.registry.definition.registerIndicator ? [r.registry.definition.registerIndicator] : [])];
    for (const indicator of retiring) {
      if (indicator.retired) summary.retired[indicator.id] = `${indicator.retired.reason} (${indicator.retired.source})`;
    }
    summary.registers[r.id] = {
      size: 0,
      indicators: Object.fromEntries(r.indicatorIds.map((id) => [id, { met: 0, gap: 0, excepted: 0, 'not-applicable': 0 }])),
    };
  }
  for (const result of results) {
    const reg = summary.registers[result.registry]!;
    reg.size++;
    for (const [id, status] of Object.entries(result.indicators)) reg.indicators[id]![status]!++;
  }
  return summary;
}

/** Per registry, the ids of its provisional indicators (results lines carry them as `provisional`). */
function provisionalIds(registries: readonly CompiledRegistry[]): Map<string, string[]> {
  const ids = new Map<string, string[]>();
  for (const r of registries) {
    const list = Object.entries(r.provisional.indicators).filter(([, clusters]) => clusters.length).map(([id]) => id);
    if (list.length) ids.set(r.id, list);
  }
  return ids;
}

function pct(n: number, d: number): string {
  return d === 0 ? '–' : `${((100 * n) / d).toFixed(1)}%`;
}

/** The summary as a table a person can read. */
function formatSummary(summary: Summary, asOf: string): string {
  const lines = [`Caregaps — ${summary.registered} registered patients, achievement date ${asOf}`, ''];
  for (const [id, reg] of Object.entries(summary.registers)) {
    lines.push(`${id}: ${reg.size} on the register (prevalence ${pct(reg.size, summary.registered)})${summary.provisional[`${id} register`] ? ' *' : ''}`);
    for (const [ind, c] of Object.entries(reg.indicators)) {
      const den = c.met! + c.gap!;
      lines.push(
        `${summary.provisional[ind] ? '* ' : '  '}${ind.padEnd(10)} met ${String(c.met).padStart(6)}  gap ${String(c.gap).padStart(6)}  excepted ${String(c.excepted).padStart(5)}  n/a ${String(c['not-applicable']).padStart(6)}  achievement ${pct(c.met!, den).padStart(6)} (gross ${pct(c.met!, den + c.excepted!)})${summary.retired[ind] ? '  retired' : ''}`,
      );
    }
    lines.push('');
  }
  if (Object.keys(summary.provisional).length) {
    lines.push('* provisional: the register or indicator reads a cluster that is missing, partial or a substitute here, so records');
    lines.push('  coded with its missing members are not seen (caregaps codesets lists every cluster; docs/codesets.md):');
    for (const [id, reason] of Object.entries(summary.provisional)) lines.push(`  ${id}: ${reason}`);
    lines.push('');
  }
  for (const [ind, why] of Object.entries(summary.retired)) lines.push(`${ind} retired: ${why}`);
  return lines.join('\n');
}

/** `caregaps evaluate`: reads records, evaluates every registry on the achievement date, writes NDJSON results. */
export async function evaluate(io: Io, options: EvaluateOptions, paths: string[] = []): Promise<number> {
  try {
    if ((options.input === undefined) === (options.from === undefined)) {
      throw new CaregapsError('CG_USAGE', 'give either --input <records.ndjson> or --from fhir|extract <paths…>');
    }
    const format = options.format ?? 'results';
    if (!FORMATS.includes(format)) throw new CaregapsError('CG_USAGE', `--format must be one of ${FORMATS.join(', ')}, not "${format}"`);
    const day = achievementDay(options.asOf);
    checkOutputs({ '--output': options.output, '--quarantine': options.quarantine }, [options.input, options.map, ...paths]);
    const loaded = loadRegistries(options.registries, options.codesets, { ...(options.registry ? { only: options.registry } : {}), codesetSources: options.codesetsFrom ?? [] });
    describeSources(io, loaded.sources);
    const provisional = provisionalIds(loaded.compiled);
    // A bulk load: its partitions on worker threads, one per core unless asked (an in-memory engine's own default is
    // one partition in this thread, for single applies).
    const engine = new Engine({ ...loaded, asOf: day, workerThreads: true, ...optionalPartitions(options.partitions) });
    try {
      const quarantine = engine.quarantine;
      // Once every record is read the engine evaluates each patient: say so, or a terminal would look stuck.
      async function* thenEvaluating(items: AsyncIterable<ReadResult>): AsyncGenerator<ReadResult> {
        yield* items;
        if (io.interactive) io.err(`evaluating ${engine.patientCount} patients on ${loaded.compiled.length} registries…\n`);
      }
      // Bulk: every record is applied first and each patient evaluated once, as a batch evaluation would.
      const records = options.from !== undefined ? sourceRecords(io, paths, options) : readRecordsWithProgress(io, options.input!);
      const { accepted } = await engine.ingest(thenEvaluating(records), { bulk: true });
      const results: PatientResult[] = [];
      const out = options.summary && !options.output ? undefined : sink(io, options.output);
      const registered = engine.registeredCount;
      const reportOptions = { asOf: options.asOf, registries: loaded.compiled };
      const keep = options.summary === true || format === 'measure-report-summary';
      for (const result of engine.results({ explain: options.explain === true })) {
        if (format === 'results') out?.write(JSON.stringify(provisional.has(result.registry) ? { ...result, provisional: provisional.get(result.registry) } : result) + '\n');
        else if (format === 'measure-report') out?.write(JSON.stringify(individualMeasureReport(result, reportOptions)) + '\n');
        if (keep) results.push(result);
      }
      if (format === 'measure-report-summary') {
        for (const r of summaryMeasureReports(results, reportOptions)) out?.write(JSON.stringify(r) + '\n');
      }
      await out?.close();
      if (options.quarantine) writeFileSync(options.quarantine, quarantine.items.map((q) => JSON.stringify(q)).join('\n') + (quarantine.size ? '\n' : ''));
      io.err(`${accepted} records accepted, ${quarantine.size} quarantined${quarantine.size ? ' (' + [...quarantine.counts].map(([c, n]) => `${c}: ${n}`).join(', ') + ')' : ''}\n`);
      for (const q of quarantine.items.slice(0, 5)) io.err(`  ${q.file ?? ''}:${q.line}: ${q.reason} [${q.code}]\n`);
      if (options.summary) io.out(formatSummary(summarise(results, loaded.compiled, registered), options.asOf));
      return EXIT.ok;
    } finally {
      engine.close(); // its partitions' threads and private stores
    }
  } catch (error) {
    return report(io, error);
  }
}

/** `caregaps evaluate`. */
export const register: Register = (program, { io, exit }) => {
  const command = program
    .command('evaluate')
    .description('evaluate registries over an NDJSON record file (or sources read with --from) as of an achievement date')
    .argument('[paths...]', 'source files or folders, with --from')
    .option('--input <file>', 'records in format v1 (NDJSON)')
    .option('--from <adapter>', 'read the paths with a source adapter instead: fhir or extract (see caregaps ingest)')
    .option('--map <file>', 'column map for --from extract')
    .option('--default-practice <ods>', 'with --from: practice for patients the source does not register')
    .option('--assign-test-nhs-numbers', 'with --from: test-range NHS numbers for source patients without one')
    .requiredOption('--as-of <date>', 'achievement date, YYYY-MM-DD');
  registryFolderOptions(command)
    .option('--registry <id...>', 'only these registries')
    .option('--output <file>', 'write results here instead of stdout')
    .option('--explain', 'add the deciding rule and the records used to every status')
    .option('--format <format>', 'results (default), measure-report (individual FHIR MeasureReports) or measure-report-summary', 'results')
    .option('--summary', 'print register sizes and achievement (results go to --output only)')
    .option('--quarantine <file>', 'write refused lines with their reasons here (NDJSON)')
    .option('--partitions <n>', 'split the population into n partitions, each on its own worker thread (default: one per core)')
    .action(async (paths: string[], opts: EvaluateOptions) => exit(await evaluate(io, opts, paths)));
};
