/**
 * One patient: demographics and registration (one patient upsert, two when they moved practice), and a ten-year
 * history of coded events into an {@link EventBuffer}: the registry conditions with their care year by year (each QOF
 * year's care drawn at the published rate, so achievement holds at every year end, not only the last), everyone's
 * routine care, and background entries no registry reads. Every event is dated on or before the extract date.
 * @module
 */
import { addMonths, ageInYears, type OptOut } from '@caregaps/core';
import type { EventBuffer } from './buffer.js';
import { CODES, type AvailableId, type CodeFact } from './codes.js';
import { CONDITIONS, type CareTargetId, type ConditionId, type GeneratorConfig } from './config.js';
import type { PatientSketch } from './emit.js';
import type { Practice } from './organisations.js';
import type { Prng } from './prng.js';
import { DIAGNOSED, REGISTER_DIAGNOSES, type DiagnosedId, type RegisterCodes } from './registers.js';
import { background, routineCare, type BackgroundCodes, type CodeTable, type History, type Year } from './routine.js';

const YEAR = 365;
const MAX_AGE = 99;
/** QOF years of history before the extract date. */
export const HISTORY_YEARS = 10;

/** What the generator derives once from the config and the hierarchy, shared by every patient. */
export interface PatientContext {
  config: GeneratorConfig;
  extractDay: number;
  /** The extract date and each year end before it, newest first (`HISTORY_YEARS + 1` days): year k's 12-month window is (yearEnds[k + 1], yearEnds[k]]. */
  yearEnds: Int32Array;
  /** Six months before the extract date. */
  window6: number;
  practices: readonly Practice[];
  /** Cumulative population share by single year of age 0…99. */
  ageCumulative: Float64Array;
  femaleShare: Float64Array;
  mortality: Float64Array;
  /** Per condition and age: the calibrated risk before co-morbidity multipliers. */
  baseRisk: Record<ConditionId, Float64Array>;
  /** Per care target and practice: the probability a patient meets it. */
  careByPractice: Record<CareTargetId, Float64Array>;
  /** Codes of clusters that were empty when the generator was written and that the codesets now list. */
  available: Partial<Record<AvailableId, CodeFact>>;
  /** Codes of the register conditions whose clusters the codesets list (registers.ts). */
  registerCodes: Partial<Record<DiagnosedId, RegisterCodes>>;
  codes: CodeTable;
  background: BackgroundCodes;
  /** Records (patient upserts included) a patient of relative weight 1 is given; 0 writes no background entries. */
  recordBudget: number;
}

type Status = 'on' | 'off';

function pick<T>(rng: Prng, items: readonly T[]): T {
  return items[Math.floor(rng.float() * items.length)]!;
}

function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}

/**
 * Builds one patient into `out` (cleared first) and returns their demographics. `index` is the patient's position in
 * the population; `nhsNumber` is theirs.
 */
export function generatePatient(ctx: PatientContext, rng: Prng, index: number, nhsNumber: string, practiceIndex: number, out: EventBuffer): PatientSketch {
  const { config, extractDay: E, practices, available, yearEnds } = ctx;
  const p = config.process;
  const practice = practices[practiceIndex]!;

  // ---- demographics and registration ----
  let age = 0;
  const u = rng.float();
  while (age < MAX_AGE && ctx.ageCumulative[age]! <= u) age++;
  const birth = addMonths(E, -12 * age) - rng.int(0, YEAR - 1);
  const sex = rng.chance(ctx.femaleShare[age]!) ? 'female' : 'male';
  const between = (lo: number, hi: number): number => (hi <= lo ? lo : lo + Math.floor(rng.float() * (hi - lo + 1)));

  let registeredFrom = rng.chance(config.newRegistrationShare)
    ? E - rng.int(0, YEAR - 1)
    : E - YEAR - Math.floor(-Math.log(1 - rng.float()) * config.meanYearsRegistered * YEAR);
  registeredFrom = Math.max(registeredFrom, birth);
  let deathDay: number | undefined;
  let leftDay: number | undefined;
  if (rng.chance(ctx.mortality[age]!)) deathDay = Math.max(registeredFrom, E - rng.int(0, YEAR - 1));
  else if (rng.chance(config.leaverShare)) leftDay = Math.max(registeredFrom, E - rng.int(0, YEAR - 1));
  const end = deathDay ?? leftDay ?? E;

  let previous: { practice: Practice; from: number } | undefined;
  if (practices.length > 1 && registeredFrom - birth > 2 * YEAR && rng.chance(config.practiceMoveShare)) {
    let other = practiceIndex;
    while (other === practiceIndex) other = rng.int(0, practices.length - 1);
    const from = Math.max(birth, registeredFrom - YEAR - Math.floor(-Math.log(1 - rng.float()) * 5 * YEAR));
    previous = { practice: practices[other]!, from };
  }

  const optOuts: OptOut[] = [];
  for (const [optOut, share] of Object.entries(config.optOuts) as [OptOut, number][]) if (rng.chance(share)) optOuts.push(optOut);

  // ---- the years of history this patient lived through, newest first ----
  const years: Year[] = [];
  for (let k = 0; k < HISTORY_YEARS; k++) {
    const yearEnd = yearEnds[k]!;
    const w12 = yearEnds[k + 1]!;
    const last = Math.min(end, yearEnd);
    if (last > w12 && last >= birth) years.push({ k, yearEnd, end: last, w12 });
  }
  /** The years that end on or after `day` (care that starts on `day`). */
  const since = (day: number): Year[] => years.filter((y) => y.end >= day);

  // ---- events ----
  out.clear();
  const add = (fact: CodeFact, day: number, value = NaN, diastolic = NaN): void => out.push(ctx.codes.id(fact), clamp(day, birth, end), value, diastolic);
  /** A day in year `y`'s 12-month window, on or after `notBefore`. */
  const inWindow = (y: Year, notBefore = y.w12 + 1): number => between(Math.max(y.w12 + 1, notBefore), y.end);
  /** A day in year `y`'s window at least 90 days before `day` (an earlier test that year); undefined when there is none. */
  const earlier = (y: Year, day: number, notBefore: number): number | undefined => {
    const lo = Math.max(y.w12 + 1, notBefore);
    return day - 90 >= lo ? between(lo, day - 90) : undefined;
  };
  const bloodPressure = (day: number, high: boolean): void => {
    const systolic = high ? rng.int(141, 178) : rng.int(104, 140);
    const diastolic = high ? rng.int(70, 98) : rng.int(58, 80);
    add(CODES.bloodPressure, day, systolic, diastolic);
  };
  const meets = (target: CareTargetId): boolean => rng.chance(ctx.careByPractice[target][practiceIndex]!);
  /** Monthly repeat issues of `drug` from `last` back to `first`. */
  const repeats = (drug: CodeFact, last: number, first: number): void => {
    for (let day = last; day >= first; day -= 28) add(drug, day);
  };
  const historyStart = yearEnds[HISTORY_YEARS]! + 1;

  // ---- conditions (drawn in CONDITIONS order so co-morbidity can depend on those before) ----
  const has = new Map<ConditionId, Status>();
  for (const id of CONDITIONS) {
    let risk = ctx.baseRisk[id][age]!;
    for (const c of config.comorbidity) if (c.condition === id && has.get(c.given) === 'on') risk *= c.riskRatio;
    risk = Math.min(risk, 0.95);
    if (rng.chance(risk)) has.set(id, 'on');
    else if (rng.chance(risk * config.conditions[id].offRegisterRatio)) has.set(id, 'off');
  }

  // A BMI of 30 or more is what puts a patient on the obesity register (OB: in the last 12 months, 18 or over): those
  // drawn for it have one in the last year and every BMI they have is 30 or more; everyone else's is below 30.
  const obese = has.get('obesity') === 'on';
  const bmi = (): number => Math.round((obese ? Math.min(31 + Math.abs(rng.normal()) * 5, 60) : clamp(25 + rng.normal() * 2.5, 16, 29.9)) * 10) / 10;

  // ---- frailty (electronic frailty index categories, 65+; a few from 50) ----
  let frail = false;
  let frailFrom = Infinity;
  if (age >= 50) {
    const f = config.frailty65;
    const ratio = (has.get('diabetes') === 'on' ? config.diabetesFrailtyRatio : 1) * (age >= 65 ? 1 : 0.15);
    const x = rng.float();
    const severe = f.severe * ratio;
    const moderate = f.moderate * ratio;
    const mild = f.mild * (age >= 65 ? 1 : 0.15);
    const latest = between(E - 2 * YEAR, end);
    if (x < severe) add(CODES.frailtySevere, latest);
    else if (x < severe + moderate) add(CODES.frailtyModerate, latest);
    else if (x < severe + moderate + mild) add(CODES.frailtyMild, latest);
    frail = x < severe + moderate;
    if (frail) frailFrom = latest;
    if (frail && rng.chance(0.3)) add(CODES.frailtyMild, latest - rng.int(YEAR, 3 * YEAR));
  }

  const diabetes = has.get('diabetes');
  if (diabetes) {
    const type1 = rng.chance(age < 25 ? p.type1DiabetesShareUnder25 : p.type1DiabetesShare);
    const onset = Math.max(birth + (type1 ? 5 : age < 35 ? 18 : 25) * YEAR, E - 25 * YEAR);
    const resolved = diabetes === 'off';
    // A resolved diagnosis leaves room for the resolution code after it (same-day resolution keeps diabetes on).
    const dx = resolved ? Math.min(between(Math.min(onset, end), Math.max(onset, end - YEAR)), end - 30) : between(Math.min(onset, end), end);
    const code = type1 ? CODES.diabetesType1 : rng.weighted([[CODES.diabetesType2[0], 0.6], [CODES.diabetesType2[1], 0.25], [CODES.diabetesType2[2], 0.15]] as const);
    add(code, dx);
    if (resolved) {
      add(CODES.diabetesResolved, between(dx + 1, end));
    } else {
      if (dx < end - YEAR && rng.chance(p.repeatDiagnosisCode)) add(code, between(dx + 30, end));
      for (const y of since(dx)) diabetesYear(y, dx);
      if (!type1 && age >= 40 && rng.chance(p.statinFrom40)) repeats(pick(rng, CODES.statins), end - rng.int(0, 27), Math.max(dx, historyStart, birth + 40 * YEAR));
    }
  }

  /** One QOF year of diabetes care. */
  function diabetesYear(y: Year, dx: number): void {
    // HbA1c: the latest value decides DM020 (≤58, not moderately/severely frail) or DM021 (≤75, frail).
    const frailThen = frail && frailFrom <= y.yearEnd;
    const threshold = frailThen ? 75 : 58;
    const met = meets(frailThen ? 'dmHbA1c75Frail' : 'dmHbA1c58');
    let tested: number | undefined;
    let value = 0;
    if (met) {
      tested = inWindow(y, dx);
      value = Math.round(clamp((frailThen ? 60 : 50) + rng.normal() * 6, 36, threshold));
    } else if (rng.chance(p.untargetedTestedShare)) {
      tested = inWindow(y, dx);
      value = Math.round(threshold + 1 + Math.abs(rng.normal()) * 14);
    }
    if (tested !== undefined) {
      add(CODES.hba1c, tested, value);
      const before = earlier(y, tested, dx);
      if (before !== undefined && rng.chance(0.5)) add(CODES.hba1c, before, Math.round(clamp(value + rng.normal() * 6, 35, 130)));
    }
    if (!met) {
      if (tested === undefined && rng.chance(p.fructosamineInsteadOfHbA1c)) add(CODES.fructosamine, inWindow(y, dx), rng.int(250, 400));
      if (rng.chance(p.pcaUnsuitable)) add(CODES.diabetesUnsuitable, inWindow(y));
      if (tested !== undefined && rng.chance(p.pcaMaxTherapy)) add(CODES.diabetesMaxTherapy, inWindow(y, tested));
      if (rng.chance(p.twoInvitations)) {
        const first = inWindow(y, tested !== undefined ? tested + 1 : y.w12 + 1);
        if (first + 7 <= y.end) {
          add(CODES.diabetesInvite1, first);
          add(CODES.diabetesInvite2, between(first + 7, Math.min(y.end, first + 42)));
        }
      }
    }

    // Blood pressure (DM036 ≤140/90, DM019 ≤140/80: readings that meet it are ≤140/80).
    const bpMet = meets('dmBloodPressure');
    if (bpMet || rng.chance(p.untargetedTestedShare)) {
      const day = inWindow(y, dx);
      bloodPressure(day, !bpMet);
      const before = earlier(y, day, dx);
      if (before !== undefined && rng.chance(0.5)) bloodPressure(before, rng.chance(0.3));
    }
    if (!bpMet && rng.chance(p.pcaMaxTherapy)) add(CODES.maxBpTherapy, inWindow(y));

    if (available.footRiskClassification && meets('dmFootCheck')) add(available.footRiskClassification, inWindow(y, dx));
  }

  const af = has.get('atrialFibrillation');
  if (af) {
    const dx = between(Math.max(birth + 30 * YEAR, E - 15 * YEAR), end);
    add(rng.weighted([[CODES.atrialFibrillation[0], 0.6], [CODES.atrialFibrillation[1], 0.25], [CODES.atrialFibrillation[2], 0.15]] as const), dx);
    const doac = age >= 80 ? CODES.apixaban2_5 : CODES.apixaban5;
    const first = Math.max(dx, historyStart);
    if (meets('afAnticoagulation')) {
      repeats(rng.chance(p.warfarinInsteadOfDoac) ? pick(rng, CODES.warfarin) : doac, end - rng.int(0, 27), first);
    } else if (rng.chance(p.earlierReviewWhenMissed) && dx < ctx.window6 - 60) {
      // Anticoagulated once, stopped more than six months ago.
      repeats(doac, ctx.window6 - rng.int(1, 28), first);
    }
    if (available.cha2ds2vasc) {
      for (const y of since(dx)) {
        if (!meets('afCha2ds2vasc')) continue;
        // Age (65–74: 1, 75+: 2), female sex, diabetes, and hypertension or vascular disease drawn at random.
        const score = (age >= 75 ? 2 : age >= 65 ? 1 : 0) + (sex === 'female' ? 1 : 0) + (diabetes === 'on' ? 1 : 0) + rng.int(0, 2);
        add(available.cha2ds2vasc, inWindow(y, dx), score);
      }
    }
  }

  const copd = has.get('copd');
  if (copd) {
    const onset = Math.max(birth + 35 * YEAR, E - 20 * YEAR);
    const dx = copd === 'off' ? Math.min(between(Math.min(onset, end), Math.max(onset, end - YEAR)), end - 30) : between(Math.min(onset, end), end);
    add(rng.weighted([[CODES.copd[0], 0.5], [CODES.copd[1], 0.2], [CODES.copd[2], 0.2], [CODES.copd[3], 0.1]] as const), dx);
    if (copd === 'off') add(CODES.copdResolved, between(dx + 1, end));
    else {
      for (const y of since(dx)) {
        if (!meets('copdReview')) continue;
        const review = inWindow(y, dx);
        add(CODES.copdReview, review);
        add(CODES.copdExacerbations, review, rng.int(0, 4));
        add(rng.weighted(CODES.mrcGrades.map((g, i) => [g, [0.15, 0.35, 0.3, 0.15, 0.05][i]!] as const)), review);
      }
    }
  }

  const asthma = has.get('asthma');
  if (asthma) {
    const childOnset = age < 18 || rng.chance(0.4);
    const dx = childOnset
      ? between(birth + 2 * YEAR, Math.min(end, birth + 12 * YEAR))
      : between(Math.max(birth + 12 * YEAR, E - 30 * YEAR), end);
    const child = dx < birth + 12 * YEAR;
    add(child && rng.chance(0.5) ? CODES.childhoodAsthma : rng.weighted([[CODES.asthma[0], 0.7], [CODES.asthma[1], 0.2], [CODES.asthma[2], 0.1]] as const), dx);
    const inhaler = pick(rng, age < 12 ? CODES.inhaledSteroidsChild : CODES.inhaledSteroidsAdult);
    const resolved = asthma === 'off' && dx < end && rng.chance(p.resolvedAmongOffRegisterAsthma);
    if (asthma === 'on') {
      // Treated every year: on the QOF register (an asthma medicine in the last 12 months) at every year end.
      for (const y of since(dx)) {
        const issues = rng.int(1, 4);
        for (let i = 0; i < issues; i++) add(inhaler, inWindow(y, dx));
      }
    } else if (resolved) {
      add(CODES.asthmaResolved, between(dx + 1, end));
    } else {
      // Untreated now; treated in some earlier years.
      for (const y of since(dx)) if (y.k > 0 && rng.chance(p.untreatedAsthmaEarlierIssue)) add(inhaler, inWindow(y, dx));
    }
    // Reviews follow the AST007 target for all unresolved asthma, treated or not: the QOF register counts only the
    // treated, the NCL children's register counts both.
    if (!resolved) {
      for (const y of since(dx)) {
        if (meets('asthmaReview')) {
          const review = inWindow(y, dx);
          if (available.asthmaReview) add(available.asthmaReview, review);
          add(CODES.asthmaActionPlan, review);
          add(ageInYears(birth, review) < 12 ? CODES.childhoodAsthmaControlTest : CODES.asthmaControlTest, review, rng.int(12, 25));
          add(CODES.asthmaExacerbations, review, rng.int(0, 3));
        } else {
          if (rng.chance(p.pcaUnsuitable)) add(CODES.asthmaUnsuitable, inWindow(y));
          else if (rng.chance(p.pcaDeclined)) add(rng.chance(0.5) ? CODES.asthmaDeclined : CODES.asthmaMonitoringRefused, inWindow(y));
          if (rng.chance(p.twoInvitations)) {
            const first = inWindow(y);
            if (first + 7 <= y.end) {
              add(CODES.asthmaInvite1, first);
              add(CODES.asthmaInvite2, between(first + 7, Math.min(y.end, first + 42)));
            }
          }
        }
      }
    }
  }

  const smi = has.get('smi');
  if (smi) {
    const dx = between(Math.max(birth + 16 * YEAR, E - 30 * YEAR), end);
    const code = rng.weighted([[CODES.smi[0], 0.35], [CODES.smi[1], 0.3], [CODES.smi[2], 0.2], [CODES.smi[3], 0.15]] as const);
    add(code, dx);
    let latestMh = dx;
    if (dx < end && rng.chance(p.smiRemission)) {
      latestMh = between(dx + 1, end);
      add(code === CODES.smi[1] ? CODES.bipolarInRemission : CODES.schizophreniaInRemission, latestMh);
    }
    // The physical health checks are correlated: most patients who have one have the others, and a patient's
    // engagement carries from year to year (one score for all years; assumption), so a 24-month window (MH011 for
    // patients without risk factors) sees about the 12-month rate, not the union of two independent years.
    const shared = rng.float();
    for (const y of since(dx)) {
      // MH002: a care plan in the last 12 months, on or after the latest diagnosis.
      if (available.smiCarePlan && meets('smiCarePlan')) add(available.smiCarePlan, inWindow(y, latestMh <= y.end ? latestMh : dx));
      const check = (target: CareTargetId): boolean =>
        (rng.chance(p.smiChecksCorrelation) ? shared : rng.float()) < ctx.careByPractice[target][practiceIndex]!;
      // A diabetic patient's blood pressure and HbA1c are already written by the diabetes care.
      if (check('smiBloodPressure') && diabetes !== 'on') bloodPressure(inWindow(y), rng.chance(0.2));
      if (check('smiBmi')) add(CODES.bmi, inWindow(y), bmi());
      if (check('smiAlcohol')) add(pick(rng, CODES.alcohol), inWindow(y));
      if (check('smiCholesterol')) add(CODES.cholesterol, inWindow(y), Math.round(clamp(5 + rng.normal(), 2.5, 9) * 10) / 10);
      if (available.smoking && check('smiSmoking')) add(available.smoking, inWindow(y));
      if (check('smiGlucose') && diabetes !== 'on') add(CODES.hba1c, inWindow(y), rng.int(31, 47));
    }
  }

  const ld = has.get('learningDisability');
  if (ld) {
    const dx = between(birth, Math.min(end, birth + 12 * YEAR));
    add(rng.weighted([[CODES.learningDisability[0], 0.55], [CODES.learningDisability[1], 0.35], [CODES.learningDisability[2], 0.1]] as const), dx);
    for (const y of since(dx)) {
      if (ageInYears(birth, y.yearEnd) < 14) continue;
      if (diabetes !== 'on' && rng.chance(p.ldBloodPressureFrom14)) bloodPressure(inWindow(y), rng.chance(0.15));
      if (available.ldHealthCheck && meets('ldHealthCheck')) {
        const check = inWindow(y);
        add(available.ldHealthCheck, check);
        // Of those checked, the share who also get a health action plan, so that check + plan reaches its own target.
        const planned = ctx.careByPractice.ldHealthCheckAndPlan[practiceIndex]! / ctx.careByPractice.ldHealthCheck[practiceIndex]!;
        if (available.ldActionPlan && rng.chance(planned)) add(available.ldActionPlan, check);
      }
    }
  }

  // ---- register conditions recorded as a diagnosis from the codesets given (registers.ts) ----
  for (const id of DIAGNOSED) {
    const codes = ctx.registerCodes[id];
    if (!codes || has.get(id) !== 'on') continue;
    const first = Math.min(Math.max(birth + REGISTER_DIAGNOSES[id].onsetAge * YEAR, codes.since, E - 30 * YEAR), end);
    const dx = between(first, end);
    const n = codes.diagnosis.length;
    // The first cluster twice as often as each other one (stroke more often than TIA).
    add(pick(rng, codes.diagnosis[n > 1 && rng.float() >= 2 / (n + 1) ? rng.int(1, n - 1) : 0]!), dx);
    for (const fact of codes.also) add(fact, between(Math.min(Math.max(dx, codes.alsoSince), end), end));
  }
  if (obese && years[0]?.k === 0) add(CODES.bmi, inWindow(years[0]), bmi());

  // ---- everyone: routine care the registers' own care has not recorded, then background entries ----
  const history: History = { rng, birth, end, age, years, historyStart, add, inWindow, repeats, bmi };
  routineCare(ctx, history, {
    bloodPressure: diabetes === 'on' || !!smi || !!ld,
    bmi: !!smi,
    smokingStatus: !!smi,
    cholesterol: !!smi,
    hba1c: !!diabetes || !!smi,
    statin: diabetes === 'on',
  });
  const recordWeight = background(ctx, history, out, previous ? 2 : 1);
  return { nhsNumber, tag: index.toString(36), birth, sex, practice, registeredFrom, deathDay, leftDay, previous, optOuts, recordWeight };
}
