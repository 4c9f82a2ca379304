/** FHIR code system URIs and the short names record format v1 uses for them (`snomed` is the default system). */
export const SYSTEMS: Readonly<Record<string, string>> = {
  'http://snomed.info/sct': 'snomed',
  'http://loinc.org': 'loinc',
  'http://www.nlm.nih.gov/research/umls/rxnorm': 'rxnorm',
  'http://read.info/readv2': 'read2',
  'http://read.info/ctv3': 'ctv3',
  'http://hl7.org/fhir/sid/icd-10': 'icd10',
  'http://hl7.org/fhir/sid/cvx': 'cvx',
  'http://www.ama-assn.org/go/cpt': 'cpt',
  'https://fhir.hl7.org.uk/Id/emis-drug-codes': 'local:emis-drug',
  'https://fhir.hl7.org.uk/Id/emis-code': 'local:emis',
  'https://fhir.hl7.org.uk/Id/tpp-code': 'local:tpp',
};

/** The NHS number identifier system (UK Core). */
export const NHS_NUMBER_SYSTEM = 'https://fhir.nhs.uk/Id/nhs-number';
/** The ODS organisation code identifier system. */
export const ODS_SYSTEM = 'https://fhir.nhs.uk/Id/ods-organization-code';

const MAX_SYSTEM = 64;

/** The short name for a code system URI; other URIs are kept as written when they fit record format v1. */
export function systemName(uri: string): string | undefined {
  const known = SYSTEMS[uri];
  if (known !== undefined) return known;
  return uri.length > 0 && uri.length <= MAX_SYSTEM ? uri : undefined;
}
