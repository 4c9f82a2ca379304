/**
 * What every patient's record holds besides the registry conditions: routine care year by year (blood pressure,
 * BMI, smoking status, cholesterol, HbA1c screening, statins issued monthly) and background entries — consultations
 * and everyday problems in no cluster any registry reads — up to the patient's share of the records per patient.
 * @module
 */
import { ageInYears } from '@caregaps/core';
import { MAX_EVENTS_PER_PATIENT, type EventBuffer } from './buffer.js';
import { CODES, PREVENTION_STATINS, SMOKING_STATUS, type AvailableId, type CodeFact } from './codes.js';
import type { AgeSteps, GeneratorConfig } from './config.js';
import type { Prng } from './prng.js';

/** One QOF year of a patient's history: its 12-month window is (w12, yearEnd], cut short at `end` by death or leaving. */
export interface Year {
  /** 0 for the year ending on the extract date, 1 for the one before, … */
  k: number;
  yearEnd: number;
  /** The last day of the year the patient was there (≤ yearEnd). */
  end: number;
  w12: number;
}

/** A patient's history being written: what routine care and background entries need from the patient's generator. */
export interface History {
  rng: Prng;
  birth: number;
  end: number;
  /** Age on the extract date. */
  age: number;
  years: readonly Year[];
  /** The first day of the ten-year history. */
  historyStart: number;
  add(fact: CodeFact, day: number, value?: number, diastolic?: number): void;
  inWindow(y: Year, notBefore?: number): number;
  repeats(drug: CodeFact, last: number, first: number): void;
  /** A BMI value for this patient (30 or more only for those on the obesity register). */
  bmi(): number;
}

/** Which routine measurements the registers' own care records for this patient year by year (so routine care does not). */
export interface Covered {
  bloodPressure: boolean;
  bmi: boolean;
  smokingStatus: boolean;
  cholesterol: boolean;
  hba1c: boolean;
  statin: boolean;
}

/** Every code the generator may write, numbered, so an event stores an integer instead of an object. */
export class CodeTable {
  readonly facts: CodeFact[] = [];
  private readonly ids = new Map<CodeFact, number>();

  id(fact: CodeFact): number {
    let id = this.ids.get(fact);
    if (id === undefined) {
      id = this.facts.push(fact) - 1;
      this.ids.set(fact, id);
    }
    return id;
  }
}

/** The background codes to draw from (ids in the code table), with cumulative weights. */
export interface BackgroundCodes {
  ids: Int32Array;
  cumulative: Float64Array;
}

export function stepValue(steps: AgeSteps, age: number): number {
  // An indexed loop, not destructuring: it runs several times per patient-year.
  let value = 0;
  for (let k = 0; k < steps.length; k++) if (age >= steps[k]![0]) value = steps[k]![1];
  return value;
}

/** What routine care and background entries read of the generator's context (patient.ts's PatientContext has it all). */
export interface RoutineContext {
  config: GeneratorConfig;
  available: Partial<Record<AvailableId, CodeFact>>;
  background: BackgroundCodes;
  recordBudget: number;
}

/** Routine care for every adult, one draw per measurement per QOF year (at the patient's age that year). */
export function routineCare(ctx: RoutineContext, h: History, covered: Covered): void {
  const { rng } = h;
  const r = ctx.config.routine;
  const x = rng.float();
  const smoking = ctx.available.smoking ?? (x < r.smokers.current ? SMOKING_STATUS.current : x < r.smokers.current + r.smokers.ex ? SMOKING_STATUS.ex : SMOKING_STATUS.never);
  for (const y of h.years) {
    const age = ageInYears(h.birth, y.yearEnd);
    if (age < 18) continue;
    if (!covered.bloodPressure && rng.chance(stepValue(r.bloodPressure, age))) {
      const high = rng.chance(age >= 60 ? 0.3 : 0.1);
      h.add(CODES.bloodPressure, h.inWindow(y), high ? rng.int(141, 178) : rng.int(100, 140), high ? rng.int(70, 98) : rng.int(58, 85));
    }
    if (!covered.bmi && rng.chance(stepValue(r.bmi, age))) h.add(CODES.bmi, h.inWindow(y), h.bmi());
    if (!covered.smokingStatus && rng.chance(stepValue(r.smokingStatus, age))) h.add(smoking, h.inWindow(y));
    if (!covered.cholesterol && rng.chance(stepValue(r.cholesterol, age))) h.add(CODES.cholesterol, h.inWindow(y), Math.round((5 + rng.normal() * 0.9) * 10) / 10);
    if (!covered.hba1c && rng.chance(stepValue(r.hba1cScreening, age))) h.add(CODES.hba1c, h.inWindow(y), rng.int(30, 47));
  }
  if (!covered.statin && rng.chance(stepValue(r.statin, h.age))) {
    // Started some time in the ten years (or at 40), issued every 28 days since.
    const start = Math.max(h.historyStart, h.birth + 40 * 365, h.end - rng.int(0, 10 * 365));
    h.repeats(PREVENTION_STATINS[rng.int(0, PREVENTION_STATINS.length - 1)]!, h.end - rng.int(0, 27), start);
  }
}

/**
 * Background entries up to the patient's record budget: `recordBudget` × the patient's relative weight (of their age,
 * times a log-normal spread), less what the history already holds (`patientRecords` upserts and the events so far).
 * Returns the relative weight.
 */
export function background(ctx: RoutineContext, h: History, out: EventBuffer, patientRecords: number): number {
  const { rng } = h;
  const hc = ctx.config.history;
  const weight = stepValue(hc.recordsByAge, h.age) * Math.exp(hc.recordsLogSd * rng.normal() - (hc.recordsLogSd * hc.recordsLogSd) / 2);
  const budget = Math.round(ctx.recordBudget * weight);
  const count = Math.min(budget - patientRecords - out.length, MAX_EVENTS_PER_PATIENT - out.length);
  if (count <= 0) return weight;
  const { ids, cumulative } = ctx.background;
  const total = cumulative[cumulative.length - 1]!;
  const from = Math.max(h.birth, h.historyStart);
  const span = h.end - from + 1;
  for (let n = 0; n < count; n++) {
    const u = rng.float() * total;
    let i = 0;
    while (cumulative[i]! <= u) i++;
    out.push(ids[i]!, from + Math.floor(rng.float() * span), NaN, NaN);
  }
  return weight;
}
