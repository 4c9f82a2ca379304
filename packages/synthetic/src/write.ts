/**
 * Writing a generated population to disk: `records.ndjson` and `organisations.ndjson`, on one thread or on worker
 * threads (`parallel.ts`), never holding more than one chunk of output in memory.
 */
import { once } from 'node:events';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { CaregapsError } from '@caregaps/core';
import { Population, type PopulationOptions } from './generate.js';
import { parallelNdjson } from './parallel.js';

export interface WriteOptions extends PopulationOptions {
  /** Folder to write `records.ndjson` and `organisations.ndjson` into (created if missing). */
  output: string;
  /** Called every `progressEvery` patients and at the end. */
  onProgress?: (done: number, total: number) => void;
  progressEvery?: number;
  /**
   * Worker threads generating the records (default 1: this thread). The file is byte-identical whatever the number;
   * more threads help only when there are idle cores.
   */
  threads?: number;
}

export interface WriteResult {
  patients: number;
  practices: number;
  /** Lines written to records.ndjson. */
  records: number;
  bytes: number;
  recordsFile: string;
  organisationsFile: string;
  elapsedMs: number;
}

async function write(stream: WriteStream, data: string | Uint8Array): Promise<void> {
  if (!stream.write(data)) await once(stream, 'drain');
}

async function close(stream: WriteStream): Promise<void> {
  await new Promise<void>((resolve, reject) => stream.end((error?: Error | null) => (error ? reject(error) : resolve())));
}

/**
 * Generates the population patient by patient into `<output>/records.ndjson` and `<output>/organisations.ndjson`,
 * never holding more than one chunk of output in memory, and waiting for the disk when the stream is full.
 */
export async function writePopulation(options: WriteOptions): Promise<WriteResult> {
  const started = performance.now();
  const population = new Population(options);
  mkdirSync(options.output, { recursive: true });
  const organisationsFile = join(options.output, 'organisations.ndjson');
  const recordsFile = join(options.output, 'records.ndjson');
  const orgStream = createWriteStream(organisationsFile);
  await write(orgStream, population.organisations.map((o) => JSON.stringify(o) + '\n').join(''));
  await close(orgStream);

  const threads = options.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) {
    const message = `threads is ${threads}; give a whole number from 1 to 256`;
    throw new CaregapsError('CG_SYNTH_CONFIG', message, [{ code: 'CG_SYNTH_CONFIG', message }]);
  }
  const { onProgress, progressEvery = 10_000, output: _output, threads: _threads, ...populationOptions } = options;
  const chunks = threads > 1 ? parallelNdjson(populationOptions, { threads }) : population.ndjson();
  const stream = createWriteStream(recordsFile, { highWaterMark: 1 << 20 });
  let records = 0;
  let bytes = 0;
  let done = 0;
  let reported = 0;
  for await (const chunk of chunks) {
    await write(stream, chunk.bytes);
    bytes += chunk.bytes.length;
    records = chunk.records;
    done = chunk.patients;
    if (done - reported >= progressEvery) {
      reported = done - (done % progressEvery);
      onProgress?.(done, population.patients);
    }
  }
  await close(stream);
  onProgress?.(done, population.patients);
  return {
    patients: done,
    practices: population.practices.length,
    records,
    bytes,
    recordsFile,
    organisationsFile,
    elapsedMs: performance.now() - started,
  };
}
