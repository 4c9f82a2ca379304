/**
 * The population: calibration of the config into per-age risks and per-practice probabilities, NHS numbers from the
 * test range, and the records of every patient in a fixed order, streamed to disk with backpressure.
 * @module
 */
import { once } from 'node:events';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { addMonths, CaregapsError, loadCodesets, parseDay, withCheckDigit, type CaregapsRecord, type Codeset, type OrganisationRecord } from '@caregaps/core';
import { availableCodes, verifyCodes, type AvailableId, type CodeFact } from './codes.js';
import { CONDITIONS, resolveConfig, type CareTargetId, type ConditionId, type ConfigOverrides, type GeneratorConfig } from './config.js';
import { buildHierarchy, type Practice } from './organisations.js';
import { generatePatient, type PatientContext } from './patient.js';
import { Prng } from './prng.js';

const AGES = 100;

export interface PopulationOptions {
  /** Number of patients (NHS numbers) to generate. Default 1,800,000 (North Central London). */
  patients?: number;
  /** Seed: the same seed, size and config give byte-identical output. Default "caregaps". */
  seed?: string | number;
  config?: ConfigOverrides;
  /**
   * Codesets folder (or codesets already loaded, e.g. with codeset sources laid over). When given, every code the generator takes from a codeset is checked against it first, and
   * clusters that were empty when the generator was written (codes.ts `WHEN_AVAILABLE`) are recorded if it lists codes.
   */
  codesets?: string | readonly Codeset[];
}

export const DEFAULT_PATIENTS = 1_800_000;
export const DEFAULT_SEED = 'caregaps';

function logit(p: number): number {
  return Math.log(p / (1 - p));
}
function logistic(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

function stepValue(steps: readonly (readonly [number, number])[], age: number): number {
  let value = 0;
  for (const [from, v] of steps) if (age >= from) value = v;
  return value;
}

function invalid(message: string): never {
  throw new CaregapsError('CG_SYNTH_CONFIG', message, [{ code: 'CG_SYNTH_CONFIG', message }]);
}

function checkConfig(config: GeneratorConfig): void {
  if (parseDay(config.extractDate) === undefined) invalid(`extractDate "${config.extractDate}" is not a YYYY-MM-DD date`);
  const rate = (name: string, v: number, max = 1): void => {
    if (!(v >= 0 && v <= max)) invalid(`${name} is ${v}; it must be between 0 and ${max}`);
  };
  for (const id of CONDITIONS) {
    const c = config.conditions[id];
    rate(`conditions.${id}.prevalence`, c.prevalence, 0.5);
    rate(`conditions.${id}.offRegisterRatio`, c.offRegisterRatio, 10);
  }
  for (const [id, t] of Object.entries(config.care)) if (!(t.rate > 0 && t.rate < 1)) invalid(`care.${id}.rate is ${t.rate}; it must be between 0 and 1 (exclusive)`);
  for (const [id, v] of Object.entries(config.process)) rate(`process.${id}`, v);
  for (const [id, v] of Object.entries(config.optOuts)) rate(`optOuts.${id}`, v);
  rate('practiceMoveShare', config.practiceMoveShare);
  rate('leaverShare', config.leaverShare);
  rate('newRegistrationShare', config.newRegistrationShare);
  if (!config.boroughs.length) invalid('boroughs is empty; give at least one borough');
  const order = new Map(CONDITIONS.map((c, i) => [c, i]));
  for (const c of config.comorbidity) {
    if (!(order.get(c.given)! < order.get(c.condition)!)) invalid(`comorbidity ${c.condition} given ${c.given}: "given" must come earlier in ${CONDITIONS.join(', ')}`);
  }
}

/** Population weight of each single year of age 0…99. */
function ageWeights(config: GeneratorConfig): { weights: Float64Array; female: Float64Array } {
  const weights = new Float64Array(AGES);
  const female = new Float64Array(AGES);
  for (const band of config.ageBands) {
    const width = Math.min(band.to, AGES - 1) - band.from + 1;
    // A band wider than five years (the oldest) thins out with age: each year 20 % fewer people than the one before.
    const thinning = width > 5 ? 0.8 : 1;
    let norm = 0;
    for (let i = 0; i < width; i++) norm += Math.pow(thinning, i);
    for (let i = 0; i < width; i++) {
      weights[band.from + i] = (band.weight * Math.pow(thinning, i)) / norm;
      female[band.from + i] = band.femaleShare;
    }
  }
  const total = weights.reduce((x, y) => x + y, 0);
  for (let a = 0; a < AGES; a++) weights[a]! /= total;
  return { weights, female };
}

/**
 * Per-age risks that give each register its target prevalence in expectation: the age gradient times a constant,
 * with the expected co-morbidity multipliers of the conditions drawn before it taken into account.
 */
function calibrateConditions(
  config: GeneratorConfig,
  weights: Float64Array,
): { base: Record<ConditionId, Float64Array>; probability: Record<ConditionId, Float64Array> } {
  const probability = {} as Record<ConditionId, Float64Array>;
  const base = {} as Record<ConditionId, Float64Array>;
  for (const id of CONDITIONS) {
    const c = config.conditions[id];
    const shape = new Float64Array(AGES);
    let numerator = 0;
    let denominator = 0;
    for (let a = 0; a < AGES; a++) {
      let multiplier = 1;
      for (const m of config.comorbidity) if (m.condition === id) multiplier *= 1 + (m.riskRatio - 1) * probability[m.given]![a]!;
      shape[a] = stepValue(c.ageRisk, a) * multiplier;
      if (a >= c.denominatorMinAge) {
        numerator += weights[a]! * shape[a]!;
        denominator += weights[a]!;
      }
    }
    const k = numerator > 0 ? (c.prevalence * denominator) / numerator : 0;
    probability[id] = shape.map((s) => Math.min(0.95, k * s));
    base[id] = new Float64Array(AGES).map((_, a) => k * stepValue(c.ageRisk, a));
  }
  return { base, probability };
}

/** Per-practice probabilities whose list-size-weighted mean is the target, spread by practice quality. */
function calibrateCare(config: GeneratorConfig, practices: readonly Practice[]): Record<CareTargetId, Float64Array> {
  const out = {} as Record<CareTargetId, Float64Array>;
  const total = practices.reduce((s, p) => s + p.listSize, 0) || 1;
  for (const [id, target] of Object.entries(config.care) as [CareTargetId, { rate: number }][]) {
    const at = (shift: number): Float64Array =>
      Float64Array.from(practices, (p) => logistic(logit(target.rate) + shift + config.practiceQualitySd * p.quality));
    const mean = (shift: number): number => at(shift).reduce((s, v, i) => s + v * practices[i]!.listSize, 0) / total;
    let lo = -5;
    let hi = 5;
    for (let i = 0; i < 50; i++) {
      const mid = (lo + hi) / 2;
      if (mean(mid) < target.rate) lo = mid;
      else hi = mid;
    }
    out[id] = at((lo + hi) / 2);
  }
  return out;
}

/**
 * NHS numbers from the test range: 999 000 0000 upwards, skipping stems with no valid check digit. That range holds
 * 909,091 numbers; larger populations continue in 998 000 0000 upwards, then 997…, and so on.
 */
export function* testNhsNumbers(): Generator<string> {
  for (let block = 999; block >= 0; block--) {
    for (let offset = 0; offset < 1_000_000; offset++) {
      const number = withCheckDigit(block * 1_000_000 + offset);
      if (number) yield number;
    }
  }
}

/** A synthetic population, ready to produce its records in a fixed order. */
export class Population {
  readonly config: GeneratorConfig;
  readonly patients: number;
  readonly seed: string | number;
  readonly practices: readonly Practice[];
  readonly organisations: readonly OrganisationRecord[];
  private readonly context: PatientContext;
  /** Codes of the `WHEN_AVAILABLE` clusters that the codesets folder lists, and so are recorded. */
  readonly available: Readonly<Partial<Record<AvailableId, CodeFact>>>;
  private readonly ageWeight: Float64Array;
  private readonly conditionProbability: Record<ConditionId, Float64Array>;

  constructor(options: PopulationOptions = {}) {
    this.patients = options.patients ?? DEFAULT_PATIENTS;
    this.seed = options.seed ?? DEFAULT_SEED;
    if (!Number.isSafeInteger(this.patients) || this.patients < 1) invalid(`patients is ${this.patients}; give a whole number of at least 1`);
    this.config = resolveConfig(options.config);
    checkConfig(this.config);
    let available: Partial<Record<AvailableId, CodeFact>> = {};
    if (options.codesets) {
      const codesets = typeof options.codesets === 'string' ? loadCodesets(options.codesets) : options.codesets;
      verifyCodes(codesets);
      available = availableCodes(codesets);
    }
    this.available = available;
    const { organisations, practices } = buildHierarchy(this.config, this.patients, this.seed);
    this.organisations = organisations;
    this.practices = practices;
    const { weights, female } = ageWeights(this.config);
    const calibrated = calibrateConditions(this.config, weights);
    this.ageWeight = weights;
    this.conditionProbability = calibrated.probability;
    const extractDay = parseDay(this.config.extractDate)!;
    const cumulative = new Float64Array(AGES);
    let running = 0;
    for (let a = 0; a < AGES; a++) cumulative[a] = running += weights[a]!;
    cumulative[AGES - 1] = 1;
    this.context = {
      config: this.config,
      extractDay,
      window12: addMonths(extractDay, -12),
      window6: addMonths(extractDay, -6),
      practices,
      ageCumulative: cumulative,
      femaleShare: female,
      mortality: Float64Array.from({ length: AGES }, (_, a) => stepValue(this.config.annualMortality, a)),
      baseRisk: calibrated.base,
      careByPractice: calibrateCare(this.config, practices),
      available,
    };
  }

  /**
   * The expected share of patients aged `fromAge`…`toAge` who have the condition on its QOF-style register, or, with
   * `untreated`, who have an unresolved diagnosis (registers without a treatment rule, such as the NCL children's
   * asthma register, count untreated asthma too). This is the model's own figure, for registers with no published one.
   */
  expectedShare(condition: ConditionId, fromAge: number, toAge: number, options: { untreated?: boolean } = {}): number {
    const c = this.config.conditions[condition];
    const untreated = options.untreated && condition === 'asthma' ? c.offRegisterRatio * (1 - this.config.process.resolvedAmongOffRegisterAsthma) : 0;
    let share = 0;
    let weight = 0;
    for (let a = fromAge; a <= Math.min(toAge, AGES - 1); a++) {
      const p = this.conditionProbability[condition][a]!;
      share += this.ageWeight[a]! * (p + (1 - p) * p * untreated);
      weight += this.ageWeight[a]!;
    }
    return weight ? share / weight : 0;
  }

  /**
   * Every patient's records in order (practice by practice). Patient `i` draws from its own random stream, so a
   * patient's history does not depend on how many patients come before it.
   */
  *records(): Generator<CaregapsRecord[]> {
    const numbers = testNhsNumbers();
    let index = 0;
    for (let pi = 0; pi < this.practices.length; pi++) {
      const practice = this.practices[pi]!;
      for (let k = 0; k < practice.listSize; k++, index++) {
        const nhsNumber = numbers.next().value!;
        yield generatePatient(this.context, new Prng(this.seed, index), index, nhsNumber, pi);
      }
    }
  }
}

export interface WriteOptions extends PopulationOptions {
  /** Folder to write `records.ndjson` and `organisations.ndjson` into (created if missing). */
  output: string;
  /** Called every `progressEvery` patients and at the end. */
  onProgress?: (done: number, total: number) => void;
  progressEvery?: number;
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

async function write(stream: WriteStream, text: string): Promise<void> {
  if (!stream.write(text)) await once(stream, 'drain');
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

  const stream = createWriteStream(recordsFile, { highWaterMark: 1 << 20 });
  const every = options.progressEvery ?? 10_000;
  let records = 0;
  let bytes = 0;
  let done = 0;
  let chunk = '';
  for (const patient of population.records()) {
    for (const record of patient) chunk += JSON.stringify(record) + '\n';
    records += patient.length;
    done++;
    if (chunk.length >= 1 << 18) {
      bytes += Buffer.byteLength(chunk);
      await write(stream, chunk);
      chunk = '';
    }
    if (done % every === 0) options.onProgress?.(done, population.patients);
  }
  bytes += Buffer.byteLength(chunk);
  await write(stream, chunk);
  await close(stream);
  options.onProgress?.(done, population.patients);
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
