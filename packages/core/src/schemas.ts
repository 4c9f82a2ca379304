// The JSON Schemas as typed values. Re-exporting the JSON modules directly would inline them in the .d.ts as `var`
// declarations, which do not compile for consumers with skipLibCheck: false.
import record from '../schemas/record.schema.json' with { type: 'json' };
import registry from '../schemas/registry.schema.json' with { type: 'json' };
import registryTests from '../schemas/registry-tests.schema.json' with { type: 'json' };

/** A JSON Schema (draft-07) document, as shipped in `@caregaps/core/schemas/`. */
export interface JsonSchema {
  readonly $schema?: string;
  readonly $id?: string;
  readonly [keyword: string]: unknown;
}

/** The schema of registry rule files (`registry.yaml`). */
export const registrySchema: JsonSchema = registry;
/** The schema of registry test files (`tests.yaml`). */
export const registryTestsSchema: JsonSchema = registryTests;
/** The schema of record format v1 (one NDJSON line). */
export const recordSchema: JsonSchema = record;
