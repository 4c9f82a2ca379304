/**
 * The register conditions recorded from the codesets the generator is given: a diagnosis code of the register's
 * cluster (and, for osteoporosis, the fracture and scan its register needs), dated so that the register's own date
 * rules hold. Their codes are never written here: each is taken from the codesets given (the bundled ones with any
 * codeset source laid over them), so a condition whose clusters have no codes there is drawn but not recorded.
 * @module
 */
import { parseDay, type Codeset } from '@caregaps/core';
import type { CodeFact } from './codes.js';
import type { RegisterConditionId } from './config.js';

/** How one register condition is recorded. */
export interface RegisterDiagnosis {
  /** Clusters of the diagnosis: one is chosen for each patient (the first twice as often as each other). */
  clusters: readonly string[];
  /** Clusters recorded as well, each once on or after the diagnosis (on or after `alsoSince` when given). */
  also?: readonly string[];
  alsoSince?: string;
  /** Youngest age at diagnosis. */
  onsetAge: number;
  /** Earliest diagnosis date the register accepts (the register's own date rule). */
  since?: string;
  /** The registry whose rules the dating follows. */
  registry: string;
}

/** Every register condition recorded as a diagnosis (obesity is written as BMI values instead, in patient.ts). */
export const REGISTER_DIAGNOSES: Readonly<Record<Exclude<RegisterConditionId, 'obesity'>, RegisterDiagnosis>> = {
  hypertension: { clusters: ['HYP_COD'], onsetAge: 18, registry: 'hypertension' },
  chd: { clusters: ['CHD_COD'], onsetAge: 30, registry: 'chd' },
  strokeTia: { clusters: ['STRK_COD', 'TIA_COD'], onsetAge: 20, registry: 'stroke-tia' },
  pad: { clusters: ['PAD_COD'], onsetAge: 40, registry: 'pad' },
  heartFailure: { clusters: ['HF_COD'], onsetAge: 30, registry: 'heart-failure' },
  ckd: { clusters: ['CKD_COD'], onsetAge: 18, registry: 'ckd' },
  dementia: { clusters: ['DEM_COD'], onsetAge: 50, registry: 'dementia' },
  // DEP_REG counts a latest diagnosis on or after 1 April 2006 (registries/depression).
  depression: { clusters: ['DEPR_COD'], onsetAge: 18, since: '2006-04-01', registry: 'depression' },
  // CAN_REG counts a diagnosis on or after 1 April 2003 (registries/cancer).
  cancer: { clusters: ['CAN_COD'], onsetAge: 0, since: '2003-04-01', registry: 'cancer' },
  ndh: { clusters: ['NDH_COD'], onsetAge: 18, registry: 'non-diabetic-hyperglycaemia' },
  // OSTEO1_REG/OSTEO2_REG: a fragility fracture on or after 1 April 2014 counts at every age from 50, and a DXA
  // result of osteoporosis meets the 50–74 scan rule (registries/osteoporosis).
  osteoporosis: { clusters: ['OSTEO_COD'], also: ['FF_COD', 'DXA_COD'], alsoSince: '2014-04-01', onsetAge: 50, registry: 'osteoporosis' },
  // PC_REG counts a palliative care code on or after 1 April 2008 (registries/palliative-care).
  palliativeCare: { clusters: ['PALCARE_COD'], onsetAge: 0, since: '2008-04-01', registry: 'palliative-care' },
  rheumatoidArthritis: { clusters: ['RARTH_COD'], onsetAge: 16, registry: 'rheumatoid-arthritis' },
};

export type DiagnosedId = keyof typeof REGISTER_DIAGNOSES;
export const DIAGNOSED: readonly DiagnosedId[] = Object.keys(REGISTER_DIAGNOSES) as DiagnosedId[];

/** The codes a register condition is recorded with: per diagnosis cluster, then per `also` cluster. */
export interface RegisterCodes {
  diagnosis: readonly (readonly CodeFact[])[];
  also: readonly CodeFact[];
  since: number;
  alsoSince: number;
}

/** Codes per cluster: at most this many, so a few common codes stand for the cluster. */
const CODES_PER_CLUSTER = 3;

/**
 * The codes of each register condition whose clusters all have codes in `codesets`. Codes listed in no other cluster
 * of the codesets come first (so a diagnosis does not also count for another register), then the rest, in the
 * order the cluster's file lists them.
 */
export function registerCodes(codesets: readonly Codeset[]): Partial<Record<DiagnosedId, RegisterCodes>> {
  const byCluster = new Map(codesets.map((s) => [s.cluster, s]));
  const clustersOf = new Map<string, number>();
  for (const set of codesets) for (const code of set.codes.keys()) clustersOf.set(code, (clustersOf.get(code) ?? 0) + 1);
  const pick = (cluster: string): CodeFact[] => {
    const set = byCluster.get(cluster);
    if (!set) return [];
    const entries = [...set.codes.entries()];
    const own = entries.filter(([code]) => clustersOf.get(code) === 1);
    return [...own, ...entries.filter(([code]) => clustersOf.get(code) !== 1)]
      .slice(0, CODES_PER_CLUSTER)
      .map(([code, term]) => ({ code, term, cluster, from: 'codeset' as const }));
  };
  const out: Partial<Record<DiagnosedId, RegisterCodes>> = {};
  for (const id of DIAGNOSED) {
    const d = REGISTER_DIAGNOSES[id];
    const diagnosis = d.clusters.map(pick);
    const also = (d.also ?? []).map((cluster) => pick(cluster)[0]);
    if (diagnosis.some((codes) => codes.length === 0) || also.some((fact) => fact === undefined)) continue;
    out[id] = {
      diagnosis,
      also: also as CodeFact[],
      since: d.since ? parseDay(d.since)! : -Infinity,
      alsoSince: d.alsoSince ? parseDay(d.alsoSince)! : -Infinity,
    };
  }
  return out;
}
