/**
 * The population: calibration of the config into per-age risks and per-practice probabilities, NHS numbers from the
 * test range, and the records of every patient in a fixed order, as chunks of NDJSON (written to disk by `write.ts`).
 * @module
 */
import {
  addMonths,
  CaregapsError,
  loadCodesets,
  parseDay,
  withCheckDigit,
  type CaregapsRecord,
  type Codeset,
  type OrganisationRecord,
} from '@caregaps/core';
import { EventBuffer } from './buffer.js';
import { allCodes, availableCodes, BACKGROUND, verifyCodes, type AvailableId, type CodeFact } from './codes.js';
import { CONDITIONS, resolveConfig, type CareTargetId, type ConditionId, type ConfigOverrides, type GeneratorConfig } from './config.js';
import { NdjsonEncoder, recordObjects, type PatientSketch } from './emit.js';
import { buildHierarchy, type Practice } from './organisations.js';
import { generatePatient, HISTORY_YEARS, type PatientContext } from './patient.js';
import { Prng } from './prng.js';
import { registerCodes, type DiagnosedId, type RegisterCodes } from './registers.js';
import { CodeTable, stepValue } from './routine.js';

const AGES = 100;

export interface PopulationOptions {
  /** Number of patients (NHS numbers) to generate. Default 1,800,000 (North Central London). */
  patients?: number;
  /** Seed: the same seed, size and config give byte-identical output. Default "caregaps". */
  seed?: string | number;
  config?: ConfigOverrides;
  /**
   * Codesets: a folder, or codesets already loaded (the bundled ones with any codeset source layered over them). When
   * given, every code the generator takes from a codeset is checked against them first, clusters that were empty
   * when the generator was written (codes.ts `WHEN_AVAILABLE`) are recorded if they list codes, and background codes
   * that they place in a cluster are left out of the background.
   */
  codesets?: string | readonly Codeset[];
  /**
   * Average records (lines) per patient over the ten-year histories; background entries fill each patient's share.
   * Default 100. Below what the care histories alone need (about 18), the file holds that many instead; 0 writes no
   * background entries.
   */
  recordsPerPatient?: number;
}

export const DEFAULT_PATIENTS = 1_800_000;
export const DEFAULT_SEED = 'caregaps';
export const DEFAULT_RECORDS_PER_PATIENT = 100;
/** Five times London's registered population: beyond it the hierarchy alone would not fit in memory. */
export const MAX_PATIENTS = 50_000_000;
export const MAX_RECORDS_PER_PATIENT = 10_000;
/** Patients generated (without background) to calibrate the record budget to the average asked for. */
const PILOT_PATIENTS = 4000;
/** Random sub-streams of the pilot patients, apart from the population's own. */
const PILOT_STREAM = 0x40000000;

function logit(p: number): number {
  return Math.log(p / (1 - p));
}
function logistic(x: number): number {
  return 1 / (1 + Math.exp(-x));
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

/** A chunk of NDJSON output, with the patients and records written so far (its own included). */
export interface NdjsonChunk {
  bytes: Uint8Array;
  patients: number;
  records: number;
}

/** A synthetic population, ready to produce its records in a fixed order. */
export class Population {
  readonly config: GeneratorConfig;
  readonly patients: number;
  readonly seed: string | number;
  readonly practices: readonly Practice[];
  readonly organisations: readonly OrganisationRecord[];
  /** The average records per patient asked for. */
  readonly recordsPerPatient: number;
  /** Average records per patient of the care histories alone (no background), from the calibration sample. */
  readonly careRecordsPerPatient: number;
  private readonly context: PatientContext;
  /** Codes of the `WHEN_AVAILABLE` clusters that the codesets folder lists, and so are recorded. */
  readonly available: Readonly<Partial<Record<AvailableId, CodeFact>>>;
  private readonly ageWeight: Float64Array;
  private readonly conditionProbability: Record<ConditionId, Float64Array>;

  constructor(options: PopulationOptions = {}) {
    this.patients = options.patients ?? DEFAULT_PATIENTS;
    this.seed = options.seed ?? DEFAULT_SEED;
    this.recordsPerPatient = options.recordsPerPatient ?? DEFAULT_RECORDS_PER_PATIENT;
    if (!Number.isSafeInteger(this.patients) || this.patients < 1 || this.patients > MAX_PATIENTS) {
      invalid(`patients is ${this.patients}; give a whole number from 1 to ${MAX_PATIENTS.toLocaleString('en-GB')}`);
    }
    if (!(this.recordsPerPatient >= 0 && this.recordsPerPatient <= MAX_RECORDS_PER_PATIENT)) {
      invalid(`recordsPerPatient is ${this.recordsPerPatient}; give a number from 0 to ${MAX_RECORDS_PER_PATIENT.toLocaleString('en-GB')}`);
    }
    this.config = resolveConfig(options.config);
    checkConfig(this.config);
    let available: Partial<Record<AvailableId, CodeFact>> = {};
    let registers: Partial<Record<DiagnosedId, RegisterCodes>> = {};
    const codesets = typeof options.codesets === 'string' ? loadCodesets(options.codesets) : options.codesets;
    const clustered = new Set<string>();
    if (codesets) {
      verifyCodes(codesets);
      available = availableCodes(codesets);
      registers = registerCodes(codesets);
      for (const set of codesets) for (const code of set.codes.keys()) clustered.add(code);
    }
    const backgroundCodes = BACKGROUND.filter((b) => !clustered.has(b.fact.code));
    if (!backgroundCodes.length) {
      throw new CaregapsError('CG_SYNTH_CODE', 'every background code is in a cluster of the codesets given, so none is left for background entries');
    }
    this.available = available;
    const { organisations, practices } = buildHierarchy(this.config, this.patients, this.seed);
    this.organisations = organisations;
    this.practices = practices;
    const { weights, female } = ageWeights(this.config);
    const mortality = Float64Array.from({ length: AGES }, (_, a) => stepValue(this.config.annualMortality, a));
    // Registers count the patients alive on the extract date: the risks are calibrated over their age mix, which has
    // fewer of the oldest (without it, dementia's register would fall about 9 % short).
    const living = weights.map((w, a) => w * (1 - mortality[a]!));
    const calibrated = calibrateConditions(this.config, living);
    this.ageWeight = living;
    this.conditionProbability = calibrated.probability;
    const extractDay = parseDay(this.config.extractDate)!;
    const cumulative = new Float64Array(AGES);
    let running = 0;
    for (let a = 0; a < AGES; a++) cumulative[a] = running += weights[a]!;
    cumulative[AGES - 1] = 1;
    // Every code is numbered up front, so the table is fixed before any patient is written.
    const codes = new CodeTable();
    const registerFacts = Object.values(registers).flatMap((r) => [...r.diagnosis.flat(), ...r.also]);
    for (const fact of [...allCodes(), ...Object.values(available), ...registerFacts]) codes.id(fact);
    let weight = 0;
    this.context = {
      config: this.config,
      extractDay,
      yearEnds: Int32Array.from({ length: HISTORY_YEARS + 1 }, (_, k) => addMonths(extractDay, -12 * k)),
      window6: addMonths(extractDay, -6),
      codes,
      background: {
        ids: Int32Array.from(backgroundCodes, (b) => codes.id(b.fact)),
        cumulative: Float64Array.from(backgroundCodes, (b) => (weight += b.weight)),
      },
      recordBudget: 0,
      practices,
      ageCumulative: cumulative,
      femaleShare: female,
      mortality,
      baseRisk: calibrated.base,
      careByPractice: calibrateCare(this.config, practices),
      available,
      registerCodes: registers,
    };
    const { scale, care } = this.calibrate();
    this.context.recordBudget = scale;
    this.careRecordsPerPatient = care;
  }

  /**
   * The record budget that makes the average records per patient what was asked: a sample of patients is generated
   * without background, and the budget scale is solved so that the mean of max(care records, budget × weight) is the
   * target. The sample uses its own random sub-streams, so it changes no patient of the population.
   */
  private calibrate(): { scale: number; care: number } {
    const buffer = new EventBuffer();
    const care = new Float64Array(PILOT_PATIENTS);
    const weight = new Float64Array(PILOT_PATIENTS);
    for (let i = 0; i < PILOT_PATIENTS; i++) {
      const sketch = generatePatient(this.context, new Prng(this.seed, PILOT_STREAM + i), i, '', i % this.practices.length, buffer);
      care[i] = buffer.length + (sketch.previous ? 2 : 1);
      weight[i] = sketch.recordWeight;
    }
    const meanCare = care.reduce((a, b) => a + b, 0) / PILOT_PATIENTS;
    const target = this.recordsPerPatient;
    if (target <= meanCare) return { scale: 0, care: meanCare };
    const mean = (scale: number): number => {
      let sum = 0;
      for (let i = 0; i < PILOT_PATIENTS; i++) sum += Math.max(care[i]!, Math.round(scale * weight[i]!));
      return sum / PILOT_PATIENTS;
    };
    let lo = 0;
    let hi = 2 * target + 1;
    while (mean(hi) < target) hi *= 2;
    for (let i = 0; i < 60; i++) {
      const mid = (lo + hi) / 2;
      if (mean(mid) < target) lo = mid;
      else hi = mid;
    }
    return { scale: (lo + hi) / 2, care: meanCare };
  }

  /** Every code the generator may write (the table its events are numbered by). */
  get codes(): readonly CodeFact[] {
    return this.context.codes.facts;
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
   * patient's history does not depend on how many patients come before it; `range` gives patients `from` (included)
   * to `to` (excluded) only, exactly as the whole population has them.
   */
  *records(range?: PatientRange): Generator<CaregapsRecord[]> {
    for (const { sketch, events } of this.generated(range)) yield recordObjects(sketch, events, this.context.codes.facts);
  }

  /**
   * The same records as NDJSON bytes, in chunks of about `chunkBytes` (the last may be smaller), each with the
   * patients and records (lines) written up to its end (counted from the start of `range`). Each chunk is the
   * caller's to keep; nothing is allocated per record.
   */
  *ndjson(chunkBytes = 1 << 20, range?: PatientRange): Generator<NdjsonChunk> {
    const encoder = new NdjsonEncoder(this.context.codes.facts, chunkBytes);
    let patients = 0;
    let records = 0;
    for (const { sketch, events } of this.generated(range)) {
      encoder.patient(sketch, events);
      patients++;
      records += events.length + (sketch.previous ? 2 : 1);
      if (encoder.full) yield { bytes: encoder.take(), patients, records };
    }
    if (encoder.size) yield { bytes: encoder.take(), patients, records };
  }

  /** Each patient of the range in turn: demographics, and events in a buffer reused for the next patient. */
  private *generated(range: PatientRange = { from: 0, to: this.patients }): Generator<{ sketch: PatientSketch; events: EventBuffer }> {
    const from = Math.max(0, range.from);
    const to = Math.min(this.patients, range.to);
    const numbers = testNhsNumbers();
    for (let skip = 0; skip < from; skip++) numbers.next();
    const events = new EventBuffer();
    let first = 0;
    for (let pi = 0; pi < this.practices.length && first < to; pi++) {
      const practice = this.practices[pi]!;
      for (let index = Math.max(first, from); index < Math.min(first + practice.listSize, to); index++) {
        const sketch = generatePatient(this.context, new Prng(this.seed, index), index, numbers.next().value!, pi, events);
        yield { sketch, events };
      }
      first += practice.listSize;
    }
  }
}

/** Patients `from` (included) to `to` (excluded), by their position in the population. */
export interface PatientRange {
  from: number;
  to: number;
}
