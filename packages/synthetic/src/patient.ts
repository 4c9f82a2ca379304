/**
 * One patient's records: a patient upsert (two when they moved practice) and a clinically plausible history of
 * coded events, all dated on or before the extract date.
 * @module
 */
import { addMonths, formatDay, type CaregapsRecord, type EventRecord, type OptOut, type PatientRecord } from '@caregaps/core';
import { CODES, type AvailableId, type CodeFact } from './codes.js';
import { CONDITIONS, type CareTargetId, type ConditionId, type GeneratorConfig } from './config.js';
import type { Practice } from './organisations.js';
import type { Prng } from './prng.js';

const YEAR = 365;
const MAX_AGE = 99;

/** What the generator derives once from the config and the hierarchy, shared by every patient. */
export interface PatientContext {
  config: GeneratorConfig;
  extractDay: number;
  /** Events "in the last 12 months" are dated after this day (QOF windows exclude the far boundary). */
  window12: number;
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
}

type Status = 'on' | 'off';

/** Day-number formatting is hot: keep the strings of the ~100 years before the extract date. */
class DayText {
  private readonly cache = new Map<number, string>();
  get(day: number): string {
    let text = this.cache.get(day);
    if (text === undefined) {
      text = formatDay(day);
      this.cache.set(day, text);
    }
    return text;
  }
}
const dayText = new DayText();

function pick<T>(rng: Prng, items: readonly T[]): T {
  return items[Math.floor(rng.float() * items.length)]!;
}

function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}

/** Builds one patient. `index` is the patient's position in the population; `nhsNumber` is theirs. */
export function generatePatient(ctx: PatientContext, rng: Prng, index: number, nhsNumber: string, practiceIndex: number): CaregapsRecord[] {
  const { config, extractDay: E, window12: w12, practices, available } = ctx;
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

  // ---- events ----
  const events: EventRecord[] = [];
  const tag = index.toString(36);
  let serial = 0;
  const sourceAt = (day: number): string => (previous && day < registeredFrom ? previous.practice.code : practice.code);
  const add = (fact: CodeFact, day: number, extra?: Partial<EventRecord>, kind = 'obs'): void => {
    const d = clamp(day, birth, end);
    const source = sourceAt(d);
    const event: EventRecord = { kind: 'event', id: `${source}:${kind}:${tag}.${serial++}`, nhsNumber, code: fact.code, date: dayText.get(d) };
    if (extra) Object.assign(event, extra);
    event.source = source;
    events.push(event);
  };
  const medicine = (fact: CodeFact, day: number): void => add(fact, day, undefined, 'med');
  /** A day in the last 12 months (on or after `notBefore`). */
  const inWindow = (notBefore = w12 + 1): number => between(Math.max(w12 + 1, notBefore), end);
  /** A day before the 12-month window, not before `notBefore`; undefined when there is none. */
  const beforeWindow = (notBefore: number): number | undefined => (notBefore <= w12 ? between(Math.max(notBefore, w12 - 540), w12) : undefined);
  const bloodPressure = (day: number, high: boolean): void => {
    const systolic = high ? rng.int(141, 178) : rng.int(104, 140);
    const diastolic = high ? rng.int(70, 98) : rng.int(58, 80);
    add(CODES.bloodPressure, day, { values: { systolic, diastolic } });
  };
  const meets = (target: CareTargetId): boolean => rng.chance(ctx.careByPractice[target][practiceIndex]!);

  // ---- conditions (drawn in CONDITIONS order so co-morbidity can depend on those before) ----
  const has = new Map<ConditionId, Status>();
  for (const id of CONDITIONS) {
    let risk = ctx.baseRisk[id][age]!;
    for (const c of config.comorbidity) if (c.condition === id && has.get(c.given) === 'on') risk *= c.riskRatio;
    risk = Math.min(risk, 0.95);
    if (rng.chance(risk)) has.set(id, 'on');
    else if (rng.chance(risk * config.conditions[id].offRegisterRatio)) has.set(id, 'off');
  }

  // ---- frailty (electronic frailty index categories, 65+; a few from 50) ----
  let frail = false;
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
      diabetesCare(dx, type1);
    }
  }

  function diabetesCare(dx: number, type1: boolean): void {
    // HbA1c: the latest value decides DM020 (≤58, not moderately/severely frail) or DM021 (≤75, frail).
    const threshold = frail ? 75 : 58;
    const met = meets(frail ? 'dmHbA1c75Frail' : 'dmHbA1c58');
    let latestDay: number | undefined;
    let latestValue = 0;
    if (met) {
      latestDay = inWindow(dx);
      latestValue = Math.round(clamp((frail ? 60 : 50) + rng.normal() * 6, 36, threshold));
    } else if (rng.chance(p.untargetedTestedShare)) {
      latestDay = inWindow(dx);
      latestValue = Math.round(threshold + 1 + Math.abs(rng.normal()) * 14);
    } else {
      latestDay = beforeWindow(dx);
      latestValue = Math.round(clamp(58 + rng.normal() * 12, 38, 130));
    }
    if (latestDay !== undefined) {
      let day = latestDay;
      let value = latestValue;
      add(CODES.hba1c, day, { value, unit: 'mmol/mol' });
      for (day -= rng.int(150, 240); day >= Math.max(dx, E - 3 * YEAR); day -= rng.int(150, 240)) {
        value = Math.round(clamp(value + rng.normal() * 6, 35, 130));
        add(CODES.hba1c, day, { value, unit: 'mmol/mol' });
      }
    }
    if (!met) {
      const testedInWindow = latestDay !== undefined && latestDay > w12;
      if (!testedInWindow && rng.chance(p.fructosamineInsteadOfHbA1c)) add(CODES.fructosamine, inWindow(dx), { value: rng.int(250, 400), unit: 'micromol/L' });
      if (rng.chance(p.pcaUnsuitable)) add(CODES.diabetesUnsuitable, inWindow());
      if (testedInWindow && rng.chance(p.pcaMaxTherapy)) add(CODES.diabetesMaxTherapy, inWindow(latestDay));
      if (rng.chance(p.twoInvitations)) {
        const first = inWindow(testedInWindow ? latestDay! + 1 : w12 + 1);
        if (first + 7 <= end) {
          add(CODES.diabetesInvite1, first);
          add(CODES.diabetesInvite2, between(first + 7, Math.min(end, first + 42)));
        }
      }
    }

    // Blood pressure (DM036 ≤140/90, DM019 ≤140/80: readings that meet are ≤140/80).
    const bpMet = meets('dmBloodPressure');
    const bpTested = bpMet || rng.chance(p.untargetedTestedShare);
    const latestBp = bpTested ? inWindow(dx) : beforeWindow(dx);
    if (latestBp !== undefined) {
      bloodPressure(latestBp, !bpMet);
      for (let day = latestBp - rng.int(150, 240); day >= Math.max(dx, E - 2 * YEAR); day -= rng.int(150, 240)) bloodPressure(day, rng.chance(0.3));
    }
    if (!bpMet && rng.chance(p.pcaMaxTherapy)) add(CODES.maxBpTherapy, inWindow());

    if (available.footRiskClassification) {
      const footCheck = meets('dmFootCheck') ? inWindow(dx) : rng.chance(p.earlierReviewWhenMissed) ? beforeWindow(dx) : undefined;
      if (footCheck !== undefined) add(available.footRiskClassification, footCheck);
    }

    if (!type1 && age >= 40 && rng.chance(p.statinFrom40)) {
      const statin = pick(rng, CODES.statins);
      for (let day = end - rng.int(0, 84); day > Math.max(dx, E - YEAR); day -= 84) medicine(statin, day);
    }
  }

  const af = has.get('atrialFibrillation');
  if (af) {
    const dx = between(Math.max(birth + 30 * YEAR, E - 15 * YEAR), end);
    add(rng.weighted([[CODES.atrialFibrillation[0], 0.6], [CODES.atrialFibrillation[1], 0.25], [CODES.atrialFibrillation[2], 0.15]] as const), dx);
    const doac = age >= 80 ? CODES.apixaban2_5 : CODES.apixaban5;
    if (meets('afAnticoagulation')) {
      const drug = rng.chance(p.warfarinInsteadOfDoac) ? pick(rng, CODES.warfarin) : doac;
      for (let day = end - rng.int(0, 55); day >= Math.max(dx, E - YEAR); day -= 56) medicine(drug, day);
    } else if (rng.chance(p.earlierReviewWhenMissed) && dx < ctx.window6 - 60) {
      for (let day = ctx.window6 - rng.int(1, 56); day >= Math.max(dx, E - 2 * YEAR); day -= 56) medicine(doac, day);
    }
    if (diabetes !== 'on') bloodPressure(between(E - 2 * YEAR, end), rng.chance(0.25));
    if (available.cha2ds2vasc && meets('afCha2ds2vasc')) {
      // Age (65–74: 1, 75+: 2), female sex, diabetes, and hypertension or vascular disease drawn at random.
      const score = (age >= 75 ? 2 : age >= 65 ? 1 : 0) + (sex === 'female' ? 1 : 0) + (diabetes === 'on' ? 1 : 0) + rng.int(0, 2);
      add(available.cha2ds2vasc, inWindow(dx), { value: score });
    }
  }

  const copd = has.get('copd');
  if (copd) {
    const onset = Math.max(birth + 35 * YEAR, E - 20 * YEAR);
    const dx = copd === 'off' ? Math.min(between(Math.min(onset, end), Math.max(onset, end - YEAR)), end - 30) : between(Math.min(onset, end), end);
    add(rng.weighted([[CODES.copd[0], 0.5], [CODES.copd[1], 0.2], [CODES.copd[2], 0.2], [CODES.copd[3], 0.1]] as const), dx);
    if (copd === 'off') add(CODES.copdResolved, between(dx + 1, end));
    else {
      const review = meets('copdReview') ? inWindow(dx) : rng.chance(p.earlierReviewWhenMissed) ? beforeWindow(dx) : undefined;
      if (review !== undefined) {
        add(CODES.copdReview, review);
        add(CODES.copdExacerbations, review, { value: rng.int(0, 4) });
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
      const issues = rng.int(1, 4);
      for (let i = 0; i < issues; i++) medicine(inhaler, inWindow(dx));
    } else if (resolved) {
      add(CODES.asthmaResolved, between(dx + 1, end));
    } else {
      const last = beforeWindow(dx);
      if (last !== undefined) medicine(inhaler, last);
    }
    // Reviews follow the AST007 target for all unresolved asthma, treated or not: the QOF register counts only the
    // treated, the NCL children's register counts both.
    if (!resolved) {
      if (meets('asthmaReview')) {
        const review = inWindow(dx);
        if (available.asthmaReview) add(available.asthmaReview, review);
        add(CODES.asthmaActionPlan, review);
        add(age < 12 ? CODES.childhoodAsthmaControlTest : CODES.asthmaControlTest, review, { value: rng.int(12, 25) });
        add(CODES.asthmaExacerbations, review, { value: rng.int(0, 3) });
      } else {
        if (rng.chance(p.pcaUnsuitable)) add(CODES.asthmaUnsuitable, inWindow());
        else if (rng.chance(p.pcaDeclined)) add(rng.chance(0.5) ? CODES.asthmaDeclined : CODES.asthmaMonitoringRefused, inWindow());
        if (rng.chance(p.twoInvitations)) {
          const first = inWindow();
          if (first + 7 <= end) {
            add(CODES.asthmaInvite1, first);
            add(CODES.asthmaInvite2, between(first + 7, Math.min(end, first + 42)));
          }
        }
      }
    }
  }

  if (has.get('smi')) {
    const dx = between(Math.max(birth + 16 * YEAR, E - 30 * YEAR), end);
    const code = rng.weighted([[CODES.smi[0], 0.35], [CODES.smi[1], 0.3], [CODES.smi[2], 0.2], [CODES.smi[3], 0.15]] as const);
    add(code, dx);
    let latestMh = dx;
    if (dx < end && rng.chance(p.smiRemission)) {
      latestMh = between(dx + 1, end);
      add(code === CODES.smi[1] ? CODES.bipolarInRemission : CODES.schizophreniaInRemission, latestMh);
    }
    // MH002: a care plan in the last 12 months, on or after the latest diagnosis.
    if (available.smiCarePlan && meets('smiCarePlan')) add(available.smiCarePlan, inWindow(latestMh));
    // The physical health checks are correlated: most patients who have one have the others.
    const shared = rng.float();
    const check = (target: CareTargetId): boolean =>
      (rng.chance(p.smiChecksCorrelation) ? shared : rng.float()) < ctx.careByPractice[target][practiceIndex]!;
    // A diabetic patient's blood pressure series is already written by diabetesCare.
    if (check('smiBloodPressure') && diabetes !== 'on') bloodPressure(inWindow(), rng.chance(0.2));
    if (check('smiBmi')) add(CODES.bmi, inWindow(), { value: Math.round(clamp(28 + rng.normal() * 5, 16, 50) * 10) / 10, unit: 'kg/m2' });
    if (check('smiAlcohol')) add(pick(rng, CODES.alcohol), inWindow());
    if (check('smiCholesterol')) add(CODES.cholesterol, inWindow(), { value: Math.round(clamp(5 + rng.normal(), 2.5, 9) * 10) / 10, unit: 'mmol/L' });
    if (available.smoking && check('smiSmoking')) add(available.smoking, inWindow());
    if (check('smiGlucose') && diabetes !== 'on') add(CODES.hba1c, inWindow(), { value: rng.int(31, 47), unit: 'mmol/mol' });
  }

  if (has.get('learningDisability')) {
    const dx = between(birth, Math.min(end, birth + 12 * YEAR));
    add(rng.weighted([[CODES.learningDisability[0], 0.55], [CODES.learningDisability[1], 0.35], [CODES.learningDisability[2], 0.1]] as const), dx);
    if (age >= 14 && diabetes !== 'on' && rng.chance(p.ldBloodPressureFrom14)) bloodPressure(inWindow(), rng.chance(0.15));
    if (age >= 14 && available.ldHealthCheck && meets('ldHealthCheck')) {
      const check = inWindow();
      add(available.ldHealthCheck, check);
      // Of those checked, the share who also get a health action plan, so that check + plan reaches its own target.
      const planned = ctx.careByPractice.ldHealthCheckAndPlan[practiceIndex]! / ctx.careByPractice.ldHealthCheck[practiceIndex]!;
      if (available.ldActionPlan && rng.chance(planned)) add(available.ldActionPlan, check);
    }
  }

  // ---- everyone else: opportunistic checks ----
  if (has.size === 0) {
    if (age >= 40 && rng.chance(p.bloodPressureCheckFrom40)) bloodPressure(between(E - 3 * YEAR, end), rng.chance(0.2));
    if (age >= 45 && rng.chance(p.hba1cScreeningFrom45)) add(CODES.hba1c, between(E - 3 * YEAR, end), { value: rng.int(30, 47), unit: 'mmol/mol' });
  }

  // ---- the records, patient first ----
  const records: CaregapsRecord[] = [];
  const patient = (code: string, from: number, to: number | undefined): PatientRecord => ({
    kind: 'patient',
    nhsNumber,
    birthDate: dayText.get(birth),
    sex,
    practice: code,
    registeredFrom: dayText.get(from),
    registeredTo: to === undefined ? null : dayText.get(to),
    deathDate: deathDay === undefined ? null : dayText.get(deathDay),
    optOuts,
    source: code,
  });
  if (previous) records.push({ ...patient(previous.practice.code, previous.from, registeredFrom - 1), deathDate: null });
  records.push(patient(practice.code, registeredFrom, deathDay ?? leftDay));
  events.sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));
  for (const e of events) records.push(e);
  return records;
}
