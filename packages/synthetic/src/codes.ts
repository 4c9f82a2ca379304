/**
 * Every code the generator writes, with the cluster it belongs to and where that fact comes from. Codes marked
 * `codeset` are checked against `codesets/<CLUSTER>.csv` before generating (see {@link verifyCodes}); codes marked
 * `cited` are medicines (dm+d) with no codeset here, quoted with their source in
 * shared/reference/clinical-rules.md §2, or codes of routine care and background entries quoted from the public
 * sources named beside them (`ROUTINE`, `BACKGROUND`).
 * No code here is made up.
 * @module
 */
import { CaregapsError, loadCodesets, type Codeset, type Problem } from '@caregaps/core';

export interface CodeFact {
  code: string;
  term: string;
  cluster: string;
  /** `codeset`: listed in codesets/<cluster>.csv; `cited`: quoted from the public source its group names. */
  from: 'codeset' | 'cited';
  /** Unit written with the value, for codes recorded with a value and a unit. */
  unit?: string;
  /** A medicine issue: its event id reads `:med:` instead of `:obs:`. */
  medicine?: boolean;
}

const c = (code: string, term: string, cluster: string, from: CodeFact['from'] = 'codeset', extra: Pick<CodeFact, 'unit' | 'medicine'> = {}): CodeFact => ({
  code,
  term,
  cluster,
  from,
  ...extra,
});
const med = (code: string, term: string, group: string): CodeFact => c(code, term, group, 'cited', { medicine: true });

/** The codes, grouped by what they record. */
export const CODES = {
  diabetesType1: c('46635009', 'Diabetes mellitus type 1', 'DM_COD'),
  diabetesType2: [
    c('44054006', 'Diabetes mellitus type 2', 'DM_COD'),
    c('313436004', 'Type II diabetes mellitus without complication', 'DM_COD'),
    c('73211009', 'Diabetes mellitus', 'DM_COD'),
  ],
  diabetesResolved: c('315051004', 'Diabetes resolved', 'DMRES_COD'),
  hba1c: c('999791000000106', 'Haemoglobin A1c level - IFCC standardised', 'IFCCHBAM_COD', 'codeset', { unit: 'mmol/mol' }),
  fructosamine: c('1006751000000102', 'Serum fructosamine level', 'SERFRUC_COD', 'codeset', { unit: 'micromol/L' }),
  diabetesInvite1: c('185756006', 'Diabetes monitoring first letter', 'DMINVITE_COD'),
  diabetesInvite2: c('185757002', 'Diabetes monitoring second letter', 'DMINVITE_COD'),
  diabetesMaxTherapy: c('407569005', 'Patient on maximal tolerated therapy for diabetes', 'DMMAX_COD'),
  diabetesUnsuitable: c('717421000000100', 'Excepted from diabetes quality indicators - patient unsuitable', 'DMPCAPU_COD'),
  frailtyMild: c('925791000000100', 'Mild frailty', 'MILDFRAIL_COD'),
  frailtyModerate: c('925831000000107', 'Moderate frailty', 'MODFRAIL_COD'),
  frailtySevere: c('925861000000102', 'Severe frailty', 'SEVFRAIL_COD'),
  bloodPressure: c('163020007', 'On examination - blood pressure reading', 'BP_COD'),
  maxBpTherapy: c('407567007', 'Patient on maximal tolerated antihypertensive therapy', 'HTMAX_COD'),
  statins: [
    med('320029006', 'Atorvastatin 10mg tablets', 'statin VMP'),
    med('320030001', 'Atorvastatin 20mg tablets', 'statin VMP'),
    med('319997009', 'Simvastatin 20mg tablets', 'statin VMP'),
  ],
  atrialFibrillation: [
    c('49436004', 'Atrial fibrillation', 'AFIB_COD'),
    c('282825002', 'Paroxysmal atrial fibrillation', 'AFIB_COD'),
    c('440028005', 'Permanent atrial fibrillation', 'AFIB_COD'),
  ],
  apixaban5: med('703908001', 'Apixaban 5mg tablets', 'DOAC VMP'),
  apixaban2_5: med('703907006', 'Apixaban 2.5mg tablets', 'DOAC VMP'),
  warfarin: [med('319733000', 'Warfarin 1mg tablets', 'VKA VMP'), med('319735007', 'Warfarin 5mg tablets', 'VKA VMP')],
  copd: [
    c('13645005', 'Chronic obstructive pulmonary disease', 'COPD_COD'),
    c('313296004', 'Mild chronic obstructive pulmonary disease', 'COPD_COD'),
    c('313297008', 'Moderate chronic obstructive pulmonary disease', 'COPD_COD'),
    c('313299006', 'Severe chronic obstructive pulmonary disease', 'COPD_COD'),
  ],
  copdResolved: c('941201000000103', 'Chronic obstructive pulmonary disease resolved', 'COPDRES_COD'),
  copdReview: c('394703002', 'Chronic obstructive pulmonary disease annual review', 'COPDRVW_COD'),
  copdExacerbations: c('723245007', 'Number of COPD exacerbations in past year', 'COPDEXACB_COD'),
  mrcGrades: [
    c('391120009', 'MRC dyspnoea grade 1', 'MRC_COD'),
    c('391123006', 'MRC dyspnoea grade 2', 'MRC_COD'),
    c('391124000', 'MRC dyspnoea grade 3', 'MRC_COD'),
    c('391125004', 'MRC dyspnoea grade 4', 'MRC_COD'),
    c('391126003', 'MRC dyspnoea grade 5', 'MRC_COD'),
  ],
  asthma: [
    c('195967001', 'Asthma', 'AST_COD'),
    c('426979002', 'Mild persistent asthma', 'AST_COD'),
    c('427295004', 'Moderate persistent asthma', 'AST_COD'),
  ],
  childhoodAsthma: c('233678006', 'Childhood asthma', 'AST_COD'),
  asthmaResolved: c('162660004', 'Asthma resolved', 'ASTRES_COD'),
  asthmaActionPlan: c('527171000000103', 'Patient has a written asthma personal action plan', 'WRITPASTP_COD'),
  asthmaControlTest: c('443117005', 'Asthma control test score', 'ASTCONTASS_COD'),
  childhoodAsthmaControlTest: c('905301000000103', 'Childhood Asthma Control Test score', 'ASTCONTASS_COD'),
  asthmaExacerbations: c('366874008', 'Number of asthma exacerbations in past year', 'ASTEXACB_COD'),
  asthmaInvite1: c('185731000', 'Asthma monitoring call first letter', 'ASTINVITE_COD'),
  asthmaInvite2: c('185732007', 'Asthma monitoring call second letter', 'ASTINVITE_COD'),
  asthmaUnsuitable: c('717291000000103', 'Excepted from asthma quality indicators - patient unsuitable', 'ASTPCAPU_COD'),
  asthmaDeclined: c('716491000000100', 'Excepted from asthma quality indicators - informed dissent', 'ASTPCADEC_COD'),
  asthmaMonitoringRefused: c('763221007', 'Asthma monitoring refused', 'ASTMONDEC_COD'),
  inhaledSteroidsAdult: [
    med('320537007', 'Beclometasone 100micrograms/dose inhaler', 'ICS (dm+d)'),
    med('12906411000001100', 'Fostair 100/6 inhaler', 'ICS (dm+d)'),
    med('3294611000001104', 'Symbicort 200/6 Turbohaler', 'ICS (dm+d)'),
  ],
  inhaledSteroidsChild: [
    med('10618211000001109', 'Clenil Modulite 100micrograms/dose inhaler', 'ICS (dm+d)'),
    med('726611000001102', 'Flixotide 50 Evohaler', 'ICS (dm+d)'),
  ],
  smi: [
    c('58214004', 'Schizophrenia', 'MH_COD'),
    c('13746004', 'Bipolar disorder', 'MH_COD'),
    c('69322001', 'Psychotic disorder', 'MH_COD'),
    c('68890003', 'Schizoaffective disorder', 'MH_COD'),
  ],
  schizophreniaInRemission: c('4926007', 'Schizophrenia in remission', 'MH_COD'),
  bipolarInRemission: c('85248005', 'Bipolar disorder in remission', 'MH_COD'),
  bmi: c('60621009', 'Body mass index', 'BMI_COD', 'codeset', { unit: 'kg/m2' }),
  alcohol: [
    c('160575005', 'Light drinker', 'ALC_COD'),
    c('28127009', 'Social drinker', 'ALC_COD'),
    c('160579004', 'Stopped drinking alcohol', 'ALC_COD'),
  ],
  cholesterol: c('1005671000000105', 'Serum cholesterol level', 'CHOL2_COD', 'codeset', { unit: 'mmol/L' }),
  learningDisability: [
    c('110359009', 'Intellectual disability', 'LD_COD'),
    c('416075005', 'On learning disability register', 'LD_COD'),
    c('41040004', 'Complete trisomy 21 syndrome', 'LD_COD'),
  ],
} as const;

const SYNTHEA = 'shared/realdata/synthea-r4-bundles (smart-on-fhir/generated-sample-data 25ac808, R4/SYNTHEA)';
const bg = (code: string, term: string, file: string): CodeFact => c(code, term, `background: ${SYNTHEA}/${file}`, 'cited');

/**
 * Smoking status for everyone's routine care, used when the codesets give no SMOK_COD codes (the bundled SMOK_COD is
 * empty). Each is a member of a published NHS cluster: 77176002 of LSMOK_COD (nhsd-primary-care-domain-refsets
 * lsmok_cod 20260630, OpenCodelists), 8517006 of EXSMOK_COD (exsmok_cod 20260630, OpenCodelists), 266919005 of the
 * GM-SDE "smoking status: never" list (gm-sde patient/smoking-status-never/1) — all three listed, with where they were
 * copied from, in shared/codelists/substitutes/MANIFEST.tsv.
 */
export const SMOKING_STATUS = {
  current: c('77176002', 'Smoker', 'LSMOK_COD', 'cited'),
  ex: c('8517006', 'Ex-smoker', 'EXSMOK_COD', 'cited'),
  never: c('266919005', 'Never smoked tobacco', 'smoking status: never (GM-SDE)', 'cited'),
} as const;

/**
 * Background entries: coded consultations and everyday problems that no registry reads. Real SNOMED CT concepts,
 * each quoted from the Synthea patient bundle named beside it (Synthea codes its encounters and conditions in SNOMED
 * CT). The generator checks at start that none is in any cluster of the codesets it is given (a codeset source that
 * lists one takes it out of the background), so background entries never touch a register.
 * `weight` is the relative frequency (assumption: consultations far outnumber everything else).
 */
export const BACKGROUND: readonly { fact: CodeFact; weight: number }[] = [
  { fact: bg('185349003', 'Encounter for check up', 'Adolfo_Marquardt_50635536-8051-4085-bfd4-511a05062ac2.json'), weight: 30 },
  { fact: bg('185345009', 'Encounter for symptom', 'Adolfo_Marquardt_50635536-8051-4085-bfd4-511a05062ac2.json'), weight: 20 },
  { fact: bg('185347001', 'Encounter for problem', 'Adolfo_Marquardt_50635536-8051-4085-bfd4-511a05062ac2.json'), weight: 15 },
  { fact: bg('698314001', 'Consultation for treatment', 'Estrella_Daugherty_ecc5586f-45d1-4fb2-bb4c-3fce1b7b4456.json'), weight: 10 },
  { fact: bg('308335008', 'Patient encounter procedure', 'Estrella_Daugherty_ecc5586f-45d1-4fb2-bb4c-3fce1b7b4456.json'), weight: 8 },
  { fact: bg('444814009', 'Viral sinusitis', 'Birgit_Schmeler_7e8ee10e-569b-4229-9380-62c49244902c.json'), weight: 4 },
  { fact: bg('195662009', 'Acute viral pharyngitis', 'Birgit_Schmeler_7e8ee10e-569b-4229-9380-62c49244902c.json'), weight: 3 },
  { fact: bg('10509002', 'Acute bronchitis', 'Adolfo_Marquardt_50635536-8051-4085-bfd4-511a05062ac2.json'), weight: 2 },
  { fact: bg('43878008', 'Streptococcal sore throat', 'Birgit_Schmeler_7e8ee10e-569b-4229-9380-62c49244902c.json'), weight: 1 },
  { fact: bg('65363002', 'Otitis media', 'Max_Dicki_d9f8849f-e4a7-4ced-b057-c618db16a117.json'), weight: 1 },
  { fact: bg('40055000', 'Chronic sinusitis', 'Buster_Hoeger_ad2e3fc5-2b5d-4cb9-8d03-9ea0f4ac8423.json'), weight: 1 },
  { fact: bg('446096008', 'Perennial allergic rhinitis', 'Dusty_Stracke_9fe3de76-2cd4-4c02-936a-8de0b18497dd.json'), weight: 1 },
  { fact: bg('117015009', 'Throat culture', 'Birgit_Schmeler_7e8ee10e-569b-4229-9380-62c49244902c.json'), weight: 1 },
  { fact: bg('271737000', 'Anaemia', 'Birgit_Schmeler_7e8ee10e-569b-4229-9380-62c49244902c.json'), weight: 1 },
  { fact: bg('39848009', 'Whiplash injury to neck', 'Emery_Purdy_298c62e6-b204-4a14-8e21-73d5be0ce22e.json'), weight: 0.5 },
  { fact: bg('284549007', 'Laceration of hand', 'Monika_Green_5a422bd7-d15f-4ce5-89f1-d3fa4f19c34e.json'), weight: 0.5 },
];

/** Statins for primary prevention (dm+d VMPs, cited in clinical-rules.md §2 from opensafely/FLUCATS). */
export const PREVENTION_STATINS = [
  ...CODES.statins,
  med('408036003', 'Rosuvastatin 10mg tablets', 'statin VMP'),
] as const;

/** Every code the generator can write, each once. */
export function allCodes(): CodeFact[] {
  const out: CodeFact[] = [];
  for (const entry of Object.values(CODES)) {
    if (Array.isArray(entry)) out.push(...(entry as readonly CodeFact[]));
    else out.push(entry as CodeFact);
  }
  out.push(...Object.values(SMOKING_STATUS), PREVENTION_STATINS.at(-1)!, ...BACKGROUND.map((b) => b.fact));
  return out;
}

/**
 * Clusters whose codesets had no codes when the generator was written. When the codesets folder given to the
 * generator lists codes for one, the generator records it with the first code listed in that file; until then the
 * records (and the indicators that read them) are left out.
 */
export const WHEN_AVAILABLE = {
  footRiskClassification: 'FRC_COD',
  cha2ds2vasc: 'CHADVASC_COD',
  asthmaReview: 'REV_COD',
  smiCarePlan: 'MHP_COD',
  smoking: 'SMOK_COD',
  ldHealthCheck: 'HLTHCHK_COD',
  ldActionPlan: 'HLTHAP_COD',
} as const;
export type AvailableId = keyof typeof WHEN_AVAILABLE;

/** The {@link WHEN_AVAILABLE} clusters that have codes in `codesets`, each with the first code its file lists. */
export function availableCodes(codesets: readonly Codeset[]): Partial<Record<AvailableId, CodeFact>> {
  const byCluster = new Map(codesets.map((s) => [s.cluster, s]));
  const out: Partial<Record<AvailableId, CodeFact>> = {};
  for (const [id, cluster] of Object.entries(WHEN_AVAILABLE) as [AvailableId, string][]) {
    const first = byCluster.get(cluster)?.codes.entries().next();
    if (first && !first.done) out[id] = c(first.value[0], first.value[1], cluster);
  }
  return out;
}

/**
 * Checks that every `codeset` code is listed in its cluster's file under `codesets` (a folder, or codesets already
 * loaded). Throws CG_SYNTH_CODE naming each code that is not, so the generator never writes a code the codesets do
 * not know.
 */
export function verifyCodes(codesets: string | readonly Codeset[]): void {
  const where = typeof codesets === 'string' ? codesets : 'the codesets given';
  const clusters = new Map((typeof codesets === 'string' ? loadCodesets(codesets) : codesets).map((s) => [s.cluster, s.codes]));
  const problems: Problem[] = [];
  const missingClusters = new Set<string>();
  for (const fact of allCodes()) {
    if (fact.from !== 'codeset') continue;
    const codes = clusters.get(fact.cluster);
    if (!codes) missingClusters.add(fact.cluster);
    else if (!codes.has(fact.code)) problems.push({ code: 'CG_SYNTH_CODE', message: `code ${fact.code} (${fact.term}) is not in ${fact.cluster}` });
  }
  if (missingClusters.size) {
    problems.push({ code: 'CG_SYNTH_CODE', message: `no codeset in ${where} for ${[...missingClusters].join(', ')}` });
  }
  if (problems.length) throw new CaregapsError('CG_SYNTH_CODE', `${problems.length} generator code(s) not found in the codesets`, problems);
}
