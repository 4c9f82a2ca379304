import { fileURLToPath } from 'node:url';

/** The shared codeset sources, in the order `pnpm test:registries` and the docs give them. */
export const SHARED_CODESET_SOURCES = ['pcd-20240531', 'opencodelists', 'substitutes/nhs-drug-refsets-20231025'].map((p) =>
  fileURLToPath(new URL(`../../../../shared/codelists/${p}`, import.meta.url)),
);
