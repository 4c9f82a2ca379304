import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { SingleBar } from 'cli-progress';
import { DEFAULT_PATIENTS, DEFAULT_RECORDS_PER_PATIENT, DEFAULT_SEED, MAX_PATIENTS, MAX_RECORDS_PER_PATIENT, writePopulation } from '@caregaps/synthetic';
import { CaregapsError, loadCodesetLayers } from '@caregaps/core';
import { BUNDLED, EXIT, report, type Io } from '../io.js';
import { codesetSourceOption, describeSources, type Register } from '../command.js';

export interface GenerateOptions {
  patients: string;
  seed: string;
  output: string;
  codesets: string;
  codesetsFrom?: string[];
  extractDate?: string;
  recordsPerPatient: string;
  threads: string;
}

/** `caregaps generate`: writes a synthetic population (records.ndjson and organisations.ndjson) into a folder. */
export async function generate(io: Io, options: GenerateOptions): Promise<number> {
  try {
    // Both bounds are checked before anything is generated: a population too large to build fails here, not in memory.
    const patients = Number(options.patients.replaceAll('_', ''));
    if (!Number.isSafeInteger(patients) || patients < 1 || patients > MAX_PATIENTS) {
      throw new CaregapsError('CG_USAGE', `--patients "${options.patients}" must be a whole number from 1 to ${MAX_PATIENTS.toLocaleString('en-GB')}`);
    }
    const recordsPerPatient = Number(options.recordsPerPatient.replaceAll('_', ''));
    if (options.recordsPerPatient.trim() === '' || !(recordsPerPatient >= 0 && recordsPerPatient <= MAX_RECORDS_PER_PATIENT)) {
      throw new CaregapsError('CG_USAGE', `--records-per-patient "${options.recordsPerPatient}" must be a number from 0 to ${MAX_RECORDS_PER_PATIENT.toLocaleString('en-GB')}`);
    }
    const threads = Number(options.threads);
    if (options.threads.trim() === '' || !Number.isInteger(threads) || threads < 1 || threads > 256) {
      throw new CaregapsError('CG_USAGE', `--threads "${options.threads}" must be a whole number from 1 to 256`);
    }
    const bar = io.interactive
      ? new SingleBar({ format: 'generating {bar} {percentage}% | {value}/{total} patients | {duration_formatted} | eta {eta_formatted}', stream: process.stderr, fps: 5 })
      : undefined;
    if (existsSync(options.output) && !statSync(options.output).isDirectory()) {
      throw new CaregapsError('CG_OUTPUT', `--output ${options.output} is an existing file; generate writes records.ndjson and organisations.ndjson into a folder`);
    }
    const layers = loadCodesetLayers(options.codesets, options.codesetsFrom ?? []);
    describeSources(io, layers.sources);
    bar?.start(patients, 0);
    const result = await writePopulation({
      patients,
      seed: options.seed,
      output: options.output,
      codesets: layers.codesets,
      recordsPerPatient,
      threads,
      ...(options.extractDate ? { config: { extractDate: options.extractDate } } : {}),
      onProgress: (done) => bar?.update(done),
    });
    bar?.stop();
    io.err(
      `${result.patients} patients in ${result.practices} practices: ${result.records} records, ${(result.records / result.patients).toFixed(1)} per patient (${(result.bytes / 1e6).toFixed(1)} MB) ` +
        `written to ${resolve(result.recordsFile)} and ${resolve(result.organisationsFile)} in ${(result.elapsedMs / 1000).toFixed(1)} s\n`,
    );
    return EXIT.ok;
  } catch (error) {
    return report(io, error);
  }
}

const GENERATE_DEFAULTS = {
  patients: String(DEFAULT_PATIENTS),
  seed: DEFAULT_SEED,
  codesets: BUNDLED.codesets,
  recordsPerPatient: String(DEFAULT_RECORDS_PER_PATIENT),
  threads: '1',
};

/** `caregaps generate`. */
export const register: Register = (program, { io, exit }) => {
  const command = program
    .command('generate')
    .description('write a synthetic population (records.ndjson, organisations.ndjson) into a folder')
    .requiredOption('--output <dir>', 'folder to write into (created if missing)')
    .option('--patients <n>', 'number of patients', GENERATE_DEFAULTS.patients)
    .option('--seed <seed>', 'random seed: the same seed gives byte-identical files', GENERATE_DEFAULTS.seed)
    .option('--extract-date <date>', 'no record is dated after this day (default 2025-03-31)')
    .option('--codesets <dir>', 'codesets to check the generated codes against', GENERATE_DEFAULTS.codesets)
    .option('--records-per-patient <n>', 'average records per patient over ten-year histories', GENERATE_DEFAULTS.recordsPerPatient)
    .option('--threads <n>', 'worker threads generating (the same bytes whatever the number; helps when cores are idle)', GENERATE_DEFAULTS.threads);
  codesetSourceOption(command).action(async (opts: GenerateOptions) => exit(await generate(io, opts)));
};
