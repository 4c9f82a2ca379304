import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CaregapsError,
  Linker,
  TestNumberAssigner,
  loadNormalisationMaps,
  readCheckedBatches,
  type AdapterItem,
  type AdapterOptions,
  type AdapterQuarantine,
  type CaregapsRecord,
  type ErrorCode,
  type ReadResult,
} from '@caregaps/core';
import { extractAdapter, loadColumnMap } from '@caregaps/extract';
import { fhirAdapter } from '@caregaps/fhir';
import { BUNDLED, EXIT, progress, report, sink, type Io } from '../io.js';
import { type Register } from '../command.js';

export interface IngestOptions {
  from: string;
  output?: string;
  /** Column map for `--from extract`. */
  map?: string;
  /** Folder of normalisation maps (default: the bundled codesets/maps). */
  maps: string;
  source?: string;
  defaultPractice?: string;
  assignTestNhsNumbers?: boolean;
  nhsNumberMap?: string;
  quarantine?: string;
}

/** What an ingest read and produced, for the summary. */
export interface IngestSummary {
  read: number;
  produced: Record<CaregapsRecord['kind'], number>;
  quarantined: Partial<Record<ErrorCode, number>>;
}

const EXTENSIONS: Record<string, RegExp> = { fhir: /\.(json|ndjson)$/i, extract: /\.(csv|ndjson|jsonl|txt)$/i };

/** Files named directly, and the matching files of named folders (sorted, not recursive). */
function expandPaths(paths: readonly string[], pattern: RegExp): string[] {
  const out: string[] = [];
  for (const p of paths) {
    let isDir = false;
    try {
      isDir = statSync(p).isDirectory();
    } catch (error) {
      throw new CaregapsError('CG_INPUT', `Cannot read ${p}: ${(error as Error).message}`);
    }
    if (isDir) out.push(...readdirSync(p).filter((f) => pattern.test(f)).sort().map((f) => join(p, f)));
    else out.push(p);
  }
  return out;
}

/**
 * Reads sources with an adapter, links patients across sources and hands every record to `write` (events and
 * retractions as they come, patients once all input is read). Quarantined items go to `quarantine`.
 */
async function ingestRecords(
  from: 'fhir' | 'extract',
  inputs: readonly string[],
  options: AdapterOptions & { columnMap?: string },
  write: (record: CaregapsRecord) => void,
  quarantine: (item: AdapterQuarantine) => void,
  tick: () => void = () => {},
): Promise<IngestSummary> {
  const summary: IngestSummary = { read: 0, produced: { patient: 0, event: 0, retract: 0, organisation: 0 }, quarantined: {} };
  const linker = new Linker();
  const refuse = (item: AdapterQuarantine) => {
    summary.quarantined[item.code] = (summary.quarantined[item.code] ?? 0) + 1;
    quarantine(item);
  };
  const emit = (record: CaregapsRecord) => {
    summary.produced[record.kind]++;
    write(record);
  };
  let batches: AsyncIterable<AdapterItem[]>;
  if (from === 'fhir') batches = readCheckedBatches(fhirAdapter, inputs, options);
  else {
    if (!options.columnMap) throw new CaregapsError('CG_USAGE', '--from extract needs --map <column map file>');
    batches = readCheckedBatches(extractAdapter, inputs, { ...options, columnMap: loadColumnMap(options.columnMap) });
  }
  for await (const batch of batches) {
    summary.read += batch.length;
    for (const item of batch) {
      tick();
      if (!item.ok) refuse(item);
      else {
        const now = linker.accept(item);
        if (now) emit(now);
      }
    }
  }
  const linked = linker.finish();
  for (const patient of linked.records) emit(patient);
  for (const item of linked.quarantined) refuse(item);
  return summary;
}

/** The summary as lines a person reads. */
function formatIngestSummary(s: IngestSummary): string {
  const produced = s.produced.patient + s.produced.event + s.produced.retract;
  const quarantined = Object.values(s.quarantined).reduce((a, b) => a + (b ?? 0), 0);
  const lines = [
    `${s.read} items read (resources or rows)`,
    `${produced} records produced: ${s.produced.patient} patients, ${s.produced.event} events, ${s.produced.retract} retractions`,
    `${quarantined} quarantined${quarantined ? ':' : ''}`,
    ...Object.entries(s.quarantined)
      .sort((a, b) => (b[1] ?? 0) - (a[1] ?? 0))
      .map(([code, n]) => `  ${String(n).padStart(8)}  ${code}`),
  ];
  return lines.join('\n') + '\n';
}

/** `caregaps ingest`: source files → record format v1 NDJSON, with a progress bar and a summary. */
export async function ingest(io: Io, paths: string[], options: IngestOptions): Promise<number> {
  try {
    if (options.from !== 'fhir' && options.from !== 'extract') throw new CaregapsError('CG_USAGE', `--from must be fhir or extract, not ${options.from}`);
    const files = expandPaths(paths, EXTENSIONS[options.from]!);
    const testNumbers = options.assignTestNhsNumbers ? new TestNumberAssigner() : undefined;
    const mappingFile = options.nhsNumberMap ?? (options.output ? `${options.output}.nhs-numbers.csv` : undefined);
    if (testNumbers && !mappingFile) throw new CaregapsError('CG_USAGE', '--assign-test-nhs-numbers needs --output or --nhs-number-map to write the mapping to');
    const adapterOptions: AdapterOptions & { columnMap?: string } = { maps: loadNormalisationMaps(options.maps) };
    if (options.source) adapterOptions.source = options.source;
    if (options.defaultPractice) adapterOptions.defaultPractice = options.defaultPractice;
    if (testNumbers) adapterOptions.testNumbers = testNumbers;
    if (options.map) adapterOptions.columnMap = options.map;
    const out = sink(io, options.output);
    const refused = options.quarantine ? sink(io, options.quarantine) : undefined;
    const firstFew: AdapterQuarantine[] = [];
    const bar = progress(io, `ingest ${options.from}`);
    const summary = await ingestRecords(
      options.from,
      files,
      adapterOptions,
      (record) => out.write(JSON.stringify(record) + '\n'),
      (item) => {
        refused?.write(JSON.stringify(item) + '\n');
        if (firstFew.length < 5) firstFew.push(item);
      },
      () => bar.tick(),
    );
    bar.stop();
    await out.close();
    await refused?.close();
    if (testNumbers && mappingFile) {
      writeFileSync(mappingFile, 'source,nhsNumber\n' + testNumbers.mapping().map((m) => `${JSON.stringify(m.source)},${m.nhsNumber}\n`).join(''));
    }
    io.err(formatIngestSummary(summary));
    for (const q of firstFew) io.err(`  ${[q.at.file, q.at.line].filter((x) => x !== undefined).join(':')}${q.at.pointer ?? ''}: ${q.reason} [${q.code}]\n`);
    return EXIT.ok;
  } catch (error) {
    return report(io, error);
  }
}

const INGEST_DEFAULTS = { maps: join(BUNDLED.codesets, 'maps') };

/** The options `evaluate --from` shares with `ingest`. */
export interface SourceOptions {
  from?: string;
  map?: string;
  maps?: string;
  source?: string;
  defaultPractice?: string;
  assignTestNhsNumbers?: boolean;
}

/**
 * Sources read with an adapter and linked, as the `ReadResult`s `evaluate` consumes (quarantined items keep their
 * code, reason, file and line). Prints the ingest summary to stderr.
 */
export async function* sourceRecords(io: Io, paths: readonly string[], options: SourceOptions): AsyncGenerator<ReadResult> {
  if (options.from !== 'fhir' && options.from !== 'extract') throw new CaregapsError('CG_USAGE', `--from must be fhir or extract, not ${options.from}`);
  const adapterOptions: AdapterOptions & { columnMap?: string } = { maps: loadNormalisationMaps(options.maps ?? INGEST_DEFAULTS.maps) };
  if (options.source) adapterOptions.source = options.source;
  if (options.defaultPractice) adapterOptions.defaultPractice = options.defaultPractice;
  if (options.assignTestNhsNumbers) adapterOptions.testNumbers = new TestNumberAssigner();
  if (options.map) adapterOptions.columnMap = options.map;
  const results: ReadResult[] = [];
  const summary = await ingestRecords(
    options.from,
    expandPaths(paths, EXTENSIONS[options.from]!),
    adapterOptions,
    (record) => results.push({ ok: true, record, line: 0 }),
    (item) => {
      const refused: ReadResult = { ok: false, code: item.code, reason: item.reason, line: item.at.line ?? 0, text: '' };
      // Bundle entries have no line: the JSON pointer goes with the file name (file.json#/entry/3/resource).
      if (item.at.file !== undefined) refused.file = item.at.pointer ? `${item.at.file}#${item.at.pointer}` : item.at.file;
      if (item.at.recordId !== undefined) refused.recordId = item.at.recordId;
      results.push(refused);
    },
  );
  io.err(formatIngestSummary(summary));
  yield* results;
}

/** `caregaps ingest`. */
export const register: Register = (program, { io, exit }) => {
  program
    .command('ingest')
    .description('read FHIR R4 or flat GP extracts with a source adapter and write record format v1 (NDJSON)')
    .requiredOption('--from <adapter>', 'fhir (Bundles, Bulk Data NDJSON or manifest) or extract (CSV/NDJSON with --map)')
    .argument('<paths...>', 'files, or folders whose matching files are read')
    .option('--output <file>', 'write records here instead of stdout')
    .option('--map <file>', 'column map (YAML or JSON) for --from extract')
    .option('--maps <dir>', 'normalisation maps folder', INGEST_DEFAULTS.maps)
    .option('--source <ods>', 'ODS code of the sending organisation (written as each event source)')
    .option('--default-practice <ods>', 'register patients with this practice when the source has no GP registration')
    .option('--assign-test-nhs-numbers', 'give source patients without NHS numbers numbers from the test range 999 000 0000 onwards')
    .option('--nhs-number-map <file>', 'where to write source patient → assigned NHS number (default <output>.nhs-numbers.csv)')
    .option('--quarantine <file>', 'write refused items with their reasons here (NDJSON)')
    .action(async (paths: string[], opts: IngestOptions) => exit(await ingest(io, paths, opts)));
};
