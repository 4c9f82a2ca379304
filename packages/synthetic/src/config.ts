/**
 * The generator's knobs, as data. Every rate says where it comes from: a published figure (with its source) or an
 * assumption (marked so). Override any part with `generatePopulation({ config: { … } })`.
 * @module
 */

/** A five-year age band of the population and the share of women in it. */
export interface AgeBand {
  from: number;
  /** Last age in the band (inclusive). */
  to: number;
  /** Relative weight of the band in the population (normalised by the generator). */
  weight: number;
  femaleShare: number;
}

/** The six conditions with their own care histories (patient.ts). */
export type CareConditionId = 'diabetes' | 'atrialFibrillation' | 'copd' | 'asthma' | 'smi' | 'learningDisability';

/**
 * Conditions recorded as a diagnosis from the codesets the generator is given (registers.ts), and obesity (a BMI of
 * 30 or more in the last 12 months): recorded only when those codesets list codes for their clusters.
 */
export type RegisterConditionId =
  | 'hypertension'
  | 'chd'
  | 'strokeTia'
  | 'pad'
  | 'heartFailure'
  | 'ckd'
  | 'dementia'
  | 'depression'
  | 'cancer'
  | 'ndh'
  | 'obesity'
  | 'osteoporosis'
  | 'palliativeCare'
  | 'rheumatoidArthritis';

/** A registry condition. */
export type ConditionId = CareConditionId | RegisterConditionId;

export const CONDITIONS: readonly ConditionId[] = [
  'learningDisability',
  'smi',
  'asthma',
  'copd',
  'atrialFibrillation',
  'diabetes',
  'hypertension',
  'chd',
  'strokeTia',
  'pad',
  'heartFailure',
  'ckd',
  'dementia',
  'depression',
  'cancer',
  'ndh',
  'obesity',
  'osteoporosis',
  'palliativeCare',
  'rheumatoidArthritis',
];

/** How often a condition is on its register, and how that varies with age. */
export interface ConditionConfig {
  /** Register prevalence to reach among registered patients aged `denominatorMinAge` or over. */
  prevalence: number;
  denominatorMinAge: number;
  /** Relative risk by age: `[fromAge, risk]`, ascending; a risk applies from its age to the next entry's. */
  ageRisk: readonly (readonly [number, number])[];
  /**
   * Extra patients with the diagnosis who are not on the register, per patient on it: resolved diagnoses, and for
   * asthma also patients with no asthma medicine in the last 12 months.
   */
  offRegisterRatio: number;
  source: string;
}

/** A condition that makes another more likely (applied as a risk multiplier, then re-calibrated). */
export interface Comorbidity {
  condition: ConditionId;
  given: ConditionId;
  riskRatio: number;
  source: string;
}

/** A care-process target: the share of the indicator's population that meets it (gross, as QOF publishes). */
export interface CareTarget {
  rate: number;
  source: string;
}

export type CareTargetId =
  | 'dmHbA1c58'
  | 'dmHbA1c75Frail'
  | 'dmBloodPressure'
  | 'afAnticoagulation'
  | 'copdReview'
  | 'asthmaReview'
  | 'smiBloodPressure'
  | 'smiBmi'
  | 'smiAlcohol'
  | 'smiCholesterol'
  | 'smiGlucose'
  | 'smiCarePlan'
  | 'smiSmoking'
  | 'dmFootCheck'
  | 'afCha2ds2vasc'
  | 'ldHealthCheck'
  | 'ldHealthCheckAndPlan';

export type ProcessRateId =
  | 'type1DiabetesShareUnder25'
  | 'type1DiabetesShare'
  | 'repeatDiagnosisCode'
  | 'untargetedTestedShare'
  | 'pcaUnsuitable'
  | 'pcaMaxTherapy'
  | 'pcaDeclined'
  | 'twoInvitations'
  | 'fructosamineInsteadOfHbA1c'
  | 'statinFrom40'
  | 'warfarinInsteadOfDoac'
  | 'earlierReviewWhenMissed'
  | 'resolvedAmongOffRegisterAsthma'
  | 'smiRemission'
  | 'smiChecksCorrelation'
  | 'ldBloodPressureFrom14'
  | 'untreatedAsthmaEarlierIssue';

/** A rate by age: `[fromAge, rate]`, ascending; a rate applies from its age to the next entry's. */
export type AgeSteps = readonly (readonly [number, number])[];

export interface RoutineConfig {
  /** Probability, per QOF year, that an adult has each routine measurement recorded, by age. */
  bloodPressure: AgeSteps;
  bmi: AgeSteps;
  smokingStatus: AgeSteps;
  cholesterol: AgeSteps;
  /** HbA1c as a screening test for people without diabetes. */
  hba1cScreening: AgeSteps;
  /** Probability of being on a statin for primary prevention (monthly repeat issues), by age. */
  statin: AgeSteps;
  /** Shares of current and ex-smokers among adults (the rest never smoked). */
  smokers: { current: number; ex: number };
  source: string;
}

export interface HistoryConfig {
  /** Relative number of records by age (normalised by the generator). */
  recordsByAge: AgeSteps;
  /** Spread of records between patients of one age (standard deviation on the log scale). */
  recordsLogSd: number;
  source: string;
}

export interface Borough {
  code: string;
  name: string;
  /** Relative population weight. */
  weight: number;
}

export interface GeneratorConfig {
  /** The date the extract is taken: no record is dated after it, and the care targets hold on it. */
  extractDate: string;
  ageBands: readonly AgeBand[];
  conditions: Readonly<Record<ConditionId, ConditionConfig>>;
  comorbidity: readonly Comorbidity[];
  care: Readonly<Record<CareTargetId, CareTarget>>;
  /** Spread of practice quality (standard deviation on the log-odds scale) around every care target. */
  practiceQualitySd: number;
  icb: { code: string; name: string };
  boroughs: readonly Borough[];
  /** Practice list sizes: log-normal with this median and log-sd, clipped to [min, max]. */
  listSize: { median: number; logSd: number; min: number; max: number };
  practicesPerPcn: number;
  /** Share of patients who registered at their practice in the 12 months before the extract date. */
  newRegistrationShare: number;
  /** Mean years since registration of the others (exponential). */
  meanYearsRegistered: number;
  /** Share of patients who moved from another practice in the ICB (two patient upserts). */
  practiceMoveShare: number;
  /** Share of patients who left the ICB's practices in the 12 months before the extract date. */
  leaverShare: number;
  /** Probability of dying in the 12 months before the extract date, by age: `[fromAge, probability]`. */
  annualMortality: readonly (readonly [number, number])[];
  /** Electronic frailty index categories among people aged 65+: shares of mild, moderate, severe. */
  frailty65: { mild: number; moderate: number; severe: number; source: string };
  /** Multiplier on moderate and severe frailty for people with diabetes. */
  diabetesFrailtyRatio: number;
  /** Shares of patients holding each opt-out. */
  optOuts: Readonly<Record<'national-data-opt-out' | 'type-1' | 'shared-record', number>>;
  /** Secondary rates of the care histories (all assumptions; they shape the records, not the targets). */
  process: Readonly<Record<ProcessRateId, number>>;
  /** Everyone's routine care, year by year (what the registers' own care does not already record). */
  routine: RoutineConfig;
  /** How the records of a ten-year history are spread between patients (the average comes from `recordsPerPatient`). */
  history: HistoryConfig;
  sources: Readonly<Record<string, string>>;
}

const CLINICAL_RULES = 'shared/reference/clinical-rules.md';
/**
 * QOF 2020/21 recorded prevalence, London region: register ÷ list size of the register's age group, from
 * opensafely/qof-utilities lib/prevalence/qof_prevalence_region_fy20to21.csv (derived from NHS Digital's QOF 2020/21
 * publication; the same file gives the six figures of clinical-rules.md §3.1). No later regional table was found.
 */
const QOF_LONDON = 'QOF 2020/21, London region (opensafely/qof-utilities lib/prevalence/qof_prevalence_region_fy20to21.csv)';
const ASSUMED_GRADIENT = 'Age gradient: assumption (rising with age as the condition does).';

/** Defaults: North Central London-shaped, London prevalence, NCL achievement. */
export const DEFAULT_CONFIG: GeneratorConfig = {
  extractDate: '2025-03-31',
  // ONS Census 2021, London region, usual residents by five-year age band (TS007A), rounded to 0.1 % of the
  // population; female shares rounded (more women from 65). Approximate, normalised by the generator.
  ageBands: [
    { from: 0, to: 4, weight: 6.3, femaleShare: 0.488 },
    { from: 5, to: 9, weight: 6.2, femaleShare: 0.488 },
    { from: 10, to: 14, weight: 6.0, femaleShare: 0.488 },
    { from: 15, to: 19, weight: 5.4, femaleShare: 0.49 },
    { from: 20, to: 24, weight: 6.5, femaleShare: 0.51 },
    { from: 25, to: 29, weight: 9.0, femaleShare: 0.52 },
    { from: 30, to: 34, weight: 9.6, femaleShare: 0.51 },
    { from: 35, to: 39, weight: 8.6, femaleShare: 0.5 },
    { from: 40, to: 44, weight: 7.4, femaleShare: 0.5 },
    { from: 45, to: 49, weight: 6.6, femaleShare: 0.5 },
    { from: 50, to: 54, weight: 6.2, femaleShare: 0.5 },
    { from: 55, to: 59, weight: 5.6, femaleShare: 0.5 },
    { from: 60, to: 64, weight: 4.5, femaleShare: 0.51 },
    { from: 65, to: 69, weight: 3.5, femaleShare: 0.52 },
    { from: 70, to: 74, weight: 3.0, femaleShare: 0.53 },
    { from: 75, to: 79, weight: 2.1, femaleShare: 0.55 },
    { from: 80, to: 84, weight: 1.5, femaleShare: 0.58 },
    { from: 85, to: 99, weight: 1.6, femaleShare: 0.64 },
  ],
  conditions: {
    diabetes: {
      prevalence: 0.067,
      denominatorMinAge: 17,
      ageRisk: [[0, 0], [10, 0.02], [17, 0.12], [30, 0.3], [40, 0.8], [50, 1.6], [60, 2.6], [70, 3.3], [80, 3.0]],
      offRegisterRatio: 0.02,
      source: `London region DM register 6.70 % of age 17+ (QOF 2020/21; ${CLINICAL_RULES} §3.1). Age gradient: assumption shaped on QOF/NDA (rising to ~20 % at 70+). Resolved share: assumption.`,
    },
    atrialFibrillation: {
      prevalence: 0.0111,
      denominatorMinAge: 0,
      ageRisk: [[0, 0], [30, 0.03], [40, 0.15], [50, 0.5], [60, 1.6], [70, 4.2], [80, 8.5]],
      offRegisterRatio: 0,
      source: `London region AF register 1.11 % of all ages (QOF 2020/21; ${CLINICAL_RULES} §3.1). Age gradient: assumption (AF rises steeply after 65). No AFIBRES_COD codeset, so no resolved AF.`,
    },
    copd: {
      prevalence: 0.0111,
      denominatorMinAge: 0,
      ageRisk: [[0, 0], [35, 0.15], [45, 0.5], [55, 1.3], [65, 2.6], [75, 3.6]],
      offRegisterRatio: 0.02,
      source: `London region COPD register 1.11 % of all ages (QOF 2020/21; ${CLINICAL_RULES} §3.1). Age gradient and resolved share: assumption.`,
    },
    asthma: {
      prevalence: 0.0472,
      denominatorMinAge: 6,
      ageRisk: [[0, 0], [3, 0.6], [6, 1.25], [18, 1.0], [40, 0.9], [65, 0.85]],
      offRegisterRatio: 0.35,
      source: `London region asthma register 4.72 % of age 6+ (QOF 2020/21; ${CLINICAL_RULES} §3.1), which needs an asthma medicine in the last 12 months; off-register (untreated or resolved) ratio and age gradient: assumption.`,
    },
    smi: {
      prevalence: 0.0111,
      denominatorMinAge: 0,
      ageRisk: [[0, 0], [16, 0.5], [25, 1.1], [35, 1.3], [65, 1.0], [80, 0.8]],
      offRegisterRatio: 0,
      source: `London region SMI (MH) register 1.11 % of all ages (QOF 2020/21; ${CLINICAL_RULES} §3.1). Remission stays on the register (MH_COD). Age gradient: assumption.`,
    },
    learningDisability: {
      prevalence: 0.0041,
      denominatorMinAge: 0,
      ageRisk: [[0, 0.6], [5, 1.2], [18, 1.1], [50, 0.8], [70, 0.5]],
      offRegisterRatio: 0,
      source: `London region LD register 0.41 % of all ages (QOF 2020/21; ${CLINICAL_RULES} §3.1). Age gradient: assumption (lower life expectancy). No LDREM_COD codeset.`,
    },
    hypertension: {
      prevalence: 0.1077,
      denominatorMinAge: 0,
      ageRisk: [[0, 0], [18, 0.03], [30, 0.15], [40, 0.5], [50, 1.3], [60, 2.6], [70, 4], [80, 5]],
      offRegisterRatio: 0,
      source: `HYP 1,115,344 of 10,359,317 (10.77 %, all ages), ${QOF_LONDON}. ${ASSUMED_GRADIENT}`,
    },
    chd: {
      prevalence: 0.01904,
      denominatorMinAge: 0,
      ageRisk: [[0, 0], [35, 0.1], [45, 0.5], [55, 1.5], [65, 3], [75, 5], [85, 6]],
      offRegisterRatio: 0,
      source: `CHD 197,255 of 10,359,317 (1.90 %, all ages), ${QOF_LONDON}. ${ASSUMED_GRADIENT}`,
    },
    strokeTia: {
      prevalence: 0.01074,
      denominatorMinAge: 0,
      ageRisk: [[0, 0], [20, 0.05], [40, 0.3], [55, 1], [65, 2.5], [75, 5], [85, 7]],
      offRegisterRatio: 0,
      source: `STIA 111,251 of 10,359,317 (1.07 %, all ages), ${QOF_LONDON}. ${ASSUMED_GRADIENT}`,
    },
    pad: {
      prevalence: 0.00322,
      denominatorMinAge: 0,
      ageRisk: [[0, 0], [40, 0.2], [55, 1], [65, 2.5], [75, 4.5], [85, 5.5]],
      offRegisterRatio: 0,
      source: `PAD 33,387 of 10,359,317 (0.32 %, all ages), ${QOF_LONDON}. ${ASSUMED_GRADIENT}`,
    },
    heartFailure: {
      prevalence: 0.00543,
      denominatorMinAge: 0,
      ageRisk: [[0, 0], [30, 0.05], [45, 0.3], [55, 1], [65, 2.5], [75, 6], [85, 10]],
      offRegisterRatio: 0,
      source: `HF 56,231 of 10,359,317 (0.54 %, all ages), ${QOF_LONDON}. ${ASSUMED_GRADIENT}`,
    },
    ckd: {
      prevalence: 0.02384,
      denominatorMinAge: 18,
      ageRisk: [[0, 0], [18, 0.05], [40, 0.3], [50, 0.8], [60, 2], [70, 5], [80, 10]],
      offRegisterRatio: 0,
      source: `CKD 197,385 of 8,278,376 aged 18+ (2.38 %), ${QOF_LONDON}. ${ASSUMED_GRADIENT}`,
    },
    dementia: {
      prevalence: 0.00464,
      denominatorMinAge: 0,
      ageRisk: [[0, 0], [50, 0.05], [60, 0.3], [70, 1.5], [80, 6], [90, 12]],
      offRegisterRatio: 0,
      source: `DEM 48,052 of 10,359,317 (0.46 %, all ages), ${QOF_LONDON}. ${ASSUMED_GRADIENT}`,
    },
    depression: {
      prevalence: 0.08729,
      denominatorMinAge: 18,
      ageRisk: [[0, 0], [18, 0.8], [30, 1.1], [45, 1.2], [65, 0.9], [80, 0.8]],
      offRegisterRatio: 0,
      source: `DEP 722,623 of 8,278,376 aged 18+ (8.73 %), ${QOF_LONDON}. Age gradient: assumption.`,
    },
    cancer: {
      prevalence: 0.02183,
      denominatorMinAge: 0,
      ageRisk: [[0, 0.02], [20, 0.1], [40, 0.4], [55, 1.2], [65, 2.5], [75, 4], [85, 5]],
      offRegisterRatio: 0,
      source: `CAN 226,170 of 10,359,317 (2.18 %, all ages), ${QOF_LONDON}. ${ASSUMED_GRADIENT}`,
    },
    ndh: {
      prevalence: 0.0524,
      denominatorMinAge: 18,
      ageRisk: [[0, 0], [18, 0.1], [30, 0.4], [40, 0.8], [50, 1.5], [60, 2.2], [70, 2.6], [80, 2.4]],
      offRegisterRatio: 0,
      source: `NDH 433,806 of 8,278,376 aged 18+ (5.24 %), ${QOF_LONDON}. Drawn only for patients without diabetes (the register excludes them). ${ASSUMED_GRADIENT}`,
    },
    obesity: {
      prevalence: 0.05542,
      denominatorMinAge: 18,
      ageRisk: [[0, 0], [18, 0.5], [30, 0.9], [40, 1.1], [50, 1.3], [60, 1.3], [70, 1], [80, 0.6]],
      offRegisterRatio: 0,
      source: `OB 458,777 of 8,278,376 aged 18+ (5.54 %), ${QOF_LONDON}: a BMI of 30 or more recorded in the last 12 months; everyone else's BMIs are below 30. Age gradient: assumption.`,
    },
    osteoporosis: {
      prevalence: 0.00487,
      denominatorMinAge: 50,
      ageRisk: [[0, 0], [50, 0.3], [60, 0.8], [70, 2], [80, 4]],
      offRegisterRatio: 0,
      source: `OST 13,767 of 2,829,573 aged 50+ (0.49 %), ${QOF_LONDON}: diagnosis, fragility fracture since April 2014 and a DXA result. ${ASSUMED_GRADIENT}`,
    },
    palliativeCare: {
      prevalence: 0.00294,
      denominatorMinAge: 0,
      ageRisk: [[0, 0.02], [20, 0.05], [40, 0.2], [60, 0.8], [70, 2], [80, 5], [90, 8]],
      offRegisterRatio: 0,
      source: `PC 30,473 of 10,359,317 (0.29 %, all ages), ${QOF_LONDON}. ${ASSUMED_GRADIENT}`,
    },
    rheumatoidArthritis: {
      prevalence: 0.00549,
      denominatorMinAge: 16,
      ageRisk: [[0, 0], [16, 0.1], [30, 0.4], [45, 1], [60, 1.8], [70, 2.2], [80, 2]],
      offRegisterRatio: 0,
      source: `RA 46,625 of 8,493,284 aged 16+ (0.55 %), ${QOF_LONDON}. ${ASSUMED_GRADIENT}`,
    },
  },
  comorbidity: [
    { condition: 'smi', given: 'learningDisability', riskRatio: 2, source: 'assumption: psychosis is more common with LD' },
    { condition: 'copd', given: 'smi', riskRatio: 2, source: 'assumption: higher smoking prevalence in SMI' },
    { condition: 'copd', given: 'asthma', riskRatio: 2.5, source: 'assumption: asthma–COPD overlap' },
    { condition: 'atrialFibrillation', given: 'copd', riskRatio: 1.5, source: 'assumption' },
    { condition: 'diabetes', given: 'smi', riskRatio: 2, source: 'assumption: antipsychotics and SMI double diabetes risk' },
    { condition: 'diabetes', given: 'atrialFibrillation', riskRatio: 1.4, source: 'assumption: shared cardiovascular risk' },
    { condition: 'diabetes', given: 'learningDisability', riskRatio: 1.5, source: 'assumption' },
    { condition: 'ndh', given: 'diabetes', riskRatio: 0, source: 'registries/non-diabetic-hyperglycaemia: the NDH register leaves out unresolved diabetes' },
  ],
  care: {
    dmHbA1c58: { rate: 0.595, source: `DM020 59.5 %, NCL practices, gross (${CLINICAL_RULES} §3.2)` },
    dmHbA1c75Frail: { rate: 0.831, source: `DM021 83.1 %, NCL practices, gross (${CLINICAL_RULES} §3.2)` },
    dmBloodPressure: { rate: 0.806, source: `DM036 80.6 %, NCL practices, gross (${CLINICAL_RULES} §3.2); readings that meet it are ≤140/80, so they meet DM019 too` },
    afAnticoagulation: { rate: 0.896, source: `CVDPREVENT CVDP002AF 89.6 %, Mar 2026 (${CLINICAL_RULES} §3.2)` },
    copdReview: { rate: 0.803, source: `COPD010 80.3 % (${CLINICAL_RULES} §3.2)` },
    asthmaReview: { rate: 0.671, source: `AST007 67.1 % (${CLINICAL_RULES} §3.2)` },
    smiBloodPressure: { rate: 0.782, source: `PHSMI BP 78.2 %, Jun 2026 (${CLINICAL_RULES} §3.2)` },
    smiBmi: { rate: 0.783, source: `PHSMI BMI 78.3 % (${CLINICAL_RULES} §3.2)` },
    smiAlcohol: { rate: 0.78, source: `PHSMI alcohol 78.0 % (${CLINICAL_RULES} §3.2)` },
    smiCholesterol: { rate: 0.704, source: `PHSMI cholesterol 70.4 % (${CLINICAL_RULES} §3.2)` },
    smiGlucose: { rate: 0.708, source: `PHSMI glucose 70.8 % (${CLINICAL_RULES} §3.2)` },
    // The targets below are written only when their cluster has codes in the codesets folder (codes.ts WHEN_AVAILABLE).
    smiCarePlan: { rate: 0.775, source: `MH002 care plan 77.5 % (${CLINICAL_RULES} §3.2)` },
    smiSmoking: { rate: 0.78, source: 'assumption: no published PHSMI smoking figure in clinical-rules.md §3.2; set like the other checks' },
    dmFootCheck: { rate: 0.787, source: `DM012 foot risk classification 78.7 % (${CLINICAL_RULES} §3.2)` },
    afCha2ds2vasc: { rate: 0.946, source: `AF006 CHA2DS2-VASc in 12 months 94.6 % (${CLINICAL_RULES} §3.2)` },
    ldHealthCheck: { rate: 0.835, source: `LD health checks (NCD HI01, Mar 2025) 83.5 % (${CLINICAL_RULES} §3.2)` },
    ldHealthCheckAndPlan: { rate: 0.78, source: `LDHC check + plan (Mar 2026) 78.0 % (${CLINICAL_RULES} §3.2)` },
  },
  practiceQualitySd: 0.45,
  icb: { code: 'QMJ', name: 'NHS North Central London Integrated Care Board' },
  // GSS codes of the five London boroughs; weights are their Census 2021 populations in thousands (rounded).
  boroughs: [
    { code: 'E09000003', name: 'Barnet', weight: 389 },
    { code: 'E09000007', name: 'Camden', weight: 210 },
    { code: 'E09000010', name: 'Enfield', weight: 330 },
    { code: 'E09000014', name: 'Haringey', weight: 264 },
    { code: 'E09000019', name: 'Islington', weight: 217 },
  ],
  listSize: { median: 9000, logSd: 0.55, min: 2000, max: 20000 },
  practicesPerPcn: 5,
  newRegistrationShare: 0.1,
  meanYearsRegistered: 9,
  practiceMoveShare: 0.04,
  leaverShare: 0.03,
  annualMortality: [[0, 0.0003], [50, 0.003], [65, 0.01], [75, 0.03], [85, 0.11]],
  frailty65: {
    mild: 0.35,
    moderate: 0.12,
    severe: 0.03,
    source: 'eFI categories among people aged 65+ (Clegg et al., Age and Ageing 2016: fit 50 %, mild 35 %, moderate 12 %, severe 3 %)',
  },
  diabetesFrailtyRatio: 1.5,
  // National data opt-out: about 5 % of registered patients in NHS Digital's monthly statistics (approximate);
  // type-1 and shared-record opt-outs: assumption.
  optOuts: { 'national-data-opt-out': 0.05, 'type-1': 0.02, 'shared-record': 0.01 },
  process: {
    type1DiabetesShareUnder25: 0.6,
    type1DiabetesShare: 0.06,
    repeatDiagnosisCode: 0.3,
    untargetedTestedShare: 0.6,
    pcaUnsuitable: 0.05,
    pcaMaxTherapy: 0.06,
    pcaDeclined: 0.03,
    twoInvitations: 0.3,
    fructosamineInsteadOfHbA1c: 0.02,
    statinFrom40: 0.75,
    warfarinInsteadOfDoac: 0.1,
    earlierReviewWhenMissed: 0.5,
    resolvedAmongOffRegisterAsthma: 0.4,
    smiRemission: 0.1,
    // All six SMI checks 67.0 % against 70–78 % for each (clinical-rules.md §3.2): checks nearly always come together.
    smiChecksCorrelation: 0.95,
    ldBloodPressureFrom14: 0.75,
    // Untreated asthma (off the QOF register today): the share of earlier years with an inhaler issue.
    untreatedAsthmaEarlierIssue: 0.25,
  },
  routine: {
    bloodPressure: [[18, 0.2], [40, 0.35], [60, 0.5], [75, 0.6]],
    bmi: [[18, 0.15], [40, 0.25], [60, 0.3]],
    smokingStatus: [[18, 0.2], [40, 0.25]],
    cholesterol: [[18, 0.03], [40, 0.15], [60, 0.25]],
    hba1cScreening: [[18, 0.02], [45, 0.08], [65, 0.12]],
    statin: [[18, 0], [40, 0.05], [60, 0.25], [75, 0.4]],
    smokers: { current: 0.12, ex: 0.2 },
    source:
      'assumption: shaped on NICE NG136 (blood pressure at least every 5 years) and the NHS Health Check (every 5 years at 40–74), with more recording with age; smoker shares about London adults',
  },
  history: {
    recordsByAge: [[0, 0.5], [18, 0.75], [40, 1], [65, 1.7], [80, 2.3]],
    recordsLogSd: 0.5,
    source: 'assumption: older patients consult and are prescribed for more often; patients of one age vary widely',
  },
  sources: {
    population: 'ONS Census 2021 London age structure (approximate); NCL ~1.8 M registered patients (DESIGN.md)',
    registration: 'assumption: London list turnover (10 % new in a year, 3 % leave, 4 % moved between practices)',
    process:
      'assumption: type 1 share of diabetes; share of off-target patients tested; personalised care adjustments; invitations; statin and anticoagulant mix; screening',
    practiceQualitySd: 'assumption: log-odds sd 0.45 spreads practice achievement by roughly ±10–15 points, as NCL practices vary',
  },
};

/** A partial config: any top-level knob, and any single condition or care target, may be overridden. */
export interface ConfigOverrides extends Partial<Omit<GeneratorConfig, 'conditions' | 'care' | 'process' | 'routine' | 'history'>> {
  routine?: Partial<RoutineConfig>;
  history?: Partial<HistoryConfig>;
  process?: Partial<Record<ProcessRateId, number>>;
  conditions?: Partial<Record<ConditionId, Partial<ConditionConfig>>>;
  care?: Partial<Record<CareTargetId, Partial<CareTarget>>>;
}

/** The defaults with `overrides` applied. */
export function resolveConfig(overrides: ConfigOverrides = {}): GeneratorConfig {
  const { conditions, care, process, routine, history, ...rest } = overrides;
  const merged: GeneratorConfig = {
    ...DEFAULT_CONFIG,
    ...rest,
    routine: { ...DEFAULT_CONFIG.routine, ...routine },
    history: { ...DEFAULT_CONFIG.history, ...history },
    conditions: { ...DEFAULT_CONFIG.conditions },
    care: { ...DEFAULT_CONFIG.care },
    process: { ...DEFAULT_CONFIG.process, ...process },
  };
  for (const [id, c] of Object.entries(conditions ?? {})) {
    (merged.conditions as Record<string, ConditionConfig>)[id] = { ...DEFAULT_CONFIG.conditions[id as ConditionId], ...c };
  }
  for (const [id, c] of Object.entries(care ?? {})) {
    (merged.care as Record<string, CareTarget>)[id] = { ...DEFAULT_CONFIG.care[id as CareTargetId], ...c };
  }
  return merged;
}
