import type { DataCategory } from './types.js';

/** The categories of a patient's record view (the London Care Record's headings). */
export type RecordCategory = Exclude<DataCategory, 'registry-statuses'>;

/**
 * Which category an event falls in, by the cluster (codeset) its code belongs to. Only clusters listed here are
 * categorised; an event whose clusters are all unlisted (or that is in no cluster) is shown under `other`. Hosts
 * with their own medication, procedure or immunisation clusters pass their own mapping.
 */
export const DEFAULT_CATEGORIES: Readonly<Record<string, RecordCategory>> = {
  // Diagnoses and their resolutions
  AFIB_COD: 'problems',
  AFIBRES_COD: 'problems',
  AST_COD: 'problems',
  ASTRES_COD: 'problems',
  COPD_COD: 'problems',
  COPDRES_COD: 'problems',
  DM_COD: 'problems',
  DMRES_COD: 'problems',
  DMTYPE1_COD: 'problems',
  DMTYPE2_COD: 'problems',
  LD_COD: 'problems',
  LDREM_COD: 'problems',
  MH_COD: 'problems',
  MHREM_COD: 'problems',
  MILDFRAIL_COD: 'problems',
  MODFRAIL_COD: 'problems',
  SEVFRAIL_COD: 'problems',
  // Drug reference sets (dm+d)
  ASTTRT_COD: 'medications',
  LIT_COD: 'medications',
  // Results and measurements
  BP_COD: 'results',
  CHOL2_COD: 'results',
  HDLCCHOL_COD: 'results',
  LDLCCHOL_COD: 'results',
  NONHDLCCHOL_COD: 'results',
  TCHOLHDL_COD: 'results',
  TRIGLYC_COD: 'results',
  IFCCHBAM_COD: 'results',
  SERFRUC_COD: 'results',
  GLUC_COD: 'results',
  FASPLASGLUC_COD: 'results',
  FEV1FVC_COD: 'results',
  FEV1FVCL70_COD: 'results',
  AUDITC_COD: 'results',
  AUDIT_COD: 'results',
  CHADVASC_COD: 'results',
  // Reviews, assessments, health checks and care plans
  ASTCONTASS_COD: 'procedures',
  COPDRVW_COD: 'procedures',
  REV_COD: 'procedures',
  HLTHCHK_COD: 'procedures',
  HLTHAP_COD: 'procedures',
  WRITPASTP_COD: 'procedures',
  // Allergies, intolerances and adverse reactions; attendances and admissions (encounters). Cluster ids and
  // descriptions from NHS England's PCD refset release of 2024-05-31 (shared/codelists/pcd-20240531/cluster_sizes.tsv).
  // The bundled codesets hold none of their content: a host that loads them (--codesets-from) sees these headings.
  STATALL_COD: 'allergies',
  EZETIMIBEALL_COD: 'allergies',
  BEMPACIDALL_COD: 'allergies',
  INCLISIRANALL_COD: 'allergies',
  PCSK9IALL_COD: 'allergies',
  ORANTICOAGADVERS_COD: 'allergies',
  STATINTOL_COD: 'allergies',
  ARSTAT_COD: 'allergies',
  ARATORVASTAT_COD: 'allergies',
  ARROSUVASTAT_COD: 'allergies',
  EZETIMIBEADV_COD: 'allergies',
  BEMPACIDADV_COD: 'allergies',
  INCLISIRANADV_COD: 'allergies',
  PCSK9IADV_COD: 'allergies',
  LIPIDTHERADV_COD: 'allergies',
  ICOSAETHYLADV_COD: 'allergies',
  ASTADMSN_COD: 'encounters',
  PULRHBATT_COD: 'encounters',
  DRSATT_COD: 'encounters',
  CVDRETSCRN_COD: 'encounters',
  NDASEPATT_COD: 'encounters',
  DPPATT_COD: 'encounters',
};

/** The category of an event from its clusters: the first cluster the mapping knows, else `other`. */
export function categoryOf(clusters: readonly string[], mapping: Readonly<Record<string, RecordCategory>>): RecordCategory {
  for (const cluster of clusters) {
    if (Object.hasOwn(mapping, cluster)) return mapping[cluster]!;
  }
  return 'other';
}
