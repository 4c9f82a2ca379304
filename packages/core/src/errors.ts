/**
 * Every error Caregaps reports has a stable code, documented in `docs/errors.md` with how to fix it.
 * Tests assert codes, never wording.
 * @module
 */

/** The documented error codes and what each one tells the user to do. */
export const ERRORS = {
  CG_RECORD_JSON: 'The line is not valid JSON. Write one JSON object per line (NDJSON).',
  CG_RECORD_SCHEMA: 'The record does not match record format v1. Fix the named field (see docs/records.md).',
  CG_RECORD_NHS_NUMBER: 'The NHS number is not 10 digits with a valid Modulus 11 check digit. Correct it at the source.',
  CG_RECORD_DATE: 'The date is not a real calendar date in YYYY-MM-DD form.',
  CG_RECORD_ENCODING: 'The line is not valid UTF-8, so it was quarantined rather than read with its bad bytes replaced. Write the file as UTF-8 (re-export it, or convert it with iconv).',
  CG_RECORD_TOO_LONG: 'The line is longer than the reader accepts. Split the record or raise maxLineBytes.',
  CG_CODESET_FORMAT: 'The codeset file is malformed. Follow the format in docs/codesets.md.',
  CG_CODESET_DUPLICATE: 'The cluster or code appears twice. Keep one copy.',
  CG_CODESET_SOURCE: 'The codeset source cannot be read, or nothing in it is a format Caregaps reads. Check the path; see docs/codesets.md for the formats.',
  CG_RULE_FILE_TOO_LARGE: 'The rule file is larger than the loader accepts. Split it or raise maxBytes.',
  CG_RULE_SYNTAX: 'The file is not valid YAML or JSON. Fix the syntax at the position given.',
  CG_RULE_ALIASES: 'The YAML uses more aliases than allowed, or an alias inside the collection it names (a cycle). Write the content out instead of using anchors.',
  CG_RULE_NESTING: 'Collections are nested deeper than the loader accepts (64 by default). Flatten the conditions, e.g. split them into fields.',
  CG_RULE_FORBIDDEN_KEY: 'Keys named __proto__, constructor or prototype are not allowed anywhere, nor keys written as an alias or a collection. Rename the key or write it out.',
  CG_RULE_SCHEMA: 'The file does not match the registry schema. Fix the property named at the position given.',
  CG_RULE_UNKNOWN_FACT: 'The condition or field names a fact that is neither a field of this registry nor a built-in fact.',
  CG_RULE_UNKNOWN_CLUSTER: 'The field names a cluster with no codeset. Add codesets/<CLUSTER>.csv or correct the name.',
  CG_RULE_FIELD_CYCLE: 'Fields refer to each other in a cycle. Break the cycle.',
  CG_RULE_TYPE: 'The operator or value does not suit the type of the fact.',
  CG_RULE_DATE_EXPRESSION: 'The date expression is not understood. Write e.g. "PPED - 12 months", "DMLAT_DAT", "2023-04-01".',
  CG_RULE_CASCADE: 'The rule cascade cannot end without a decision. Make the last rule select or reject on both branches.',
  CG_RULE_DUPLICATE: 'The id is used twice in this registry. Give each indicator and rule a unique id.',
  CG_RULE_UNSAFE_PATH: 'A condition path must be a plain property path such as $.a.b. Scripts and filters are refused.',
  CG_TEST_CASE: 'The registry test case is malformed. Fix the property named.',
  CG_TEST_DUPLICATE: 'Two registry test cases are the same. Remove or change one.',
  CG_STORE_WRITE: 'The record store could not commit the batch (disk full, permissions, I/O error), so it was refused: not applied, not acknowledged. Free disk space or fix permissions, then send it again.',
  CG_STORE_DAMAGED: 'A value or structure in the record store fails its checksum or count (bit rot, truncation, a bad copy). Run `caregaps store verify <dir>` for the full list; restore the store from a backup or rebuild it from the source records.',
  CG_STORE_OLD_FORMAT: 'The directory holds a store in the old log+snapshot format. Run `caregaps store migrate <old> <new>` and open the new directory.',
  CG_RECORD_ID_CONFLICT: 'The record\'s source and id are already held for another NHS number, so it was quarantined: an id never moves a record to another patient silently. If it was filed under the wrong patient, send it with correctsNhsNumber naming the NHS number it is held for.',
  CG_ENGINE_LOCKED: 'Another running process has this engine store open. Use one engine per store directory, or stop the other process.',
  CG_ENGINE_CLOSED: 'The engine was closed. Create a new engine (it recovers from its store).',
  CG_ENGINE_PARTITION: 'A partition\'s worker thread stopped, or neither answered nor made progress for 10 minutes (it crashed, ran out of memory, or hangs). Close the engine and open it again: it recovers from its record store. Report the message if it happens again.',
  CG_ENGINE_ORGANISATION_CYCLE: 'The organisation record would make an organisation its own ancestor. Correct its parent.',
  CG_CLUSTER_CONNECT: 'The NATS server could not be reached, or it does not have JetStream enabled. Check --server (default nats://127.0.0.1:4222) and start nats-server with -js (see docs/scale-out.md).',
  CG_CLUSTER_CONFIG: 'The cluster on this NATS server was set up differently (another partition count, or workers built with other registries). Use the same --partitions and registries on every publisher, worker and client, or give a new --cluster name.',
  CG_CLUSTER_LEASE_LOST: 'The worker lost its lease on a partition (it was paused or cut off longer than the lease), so it stopped applying that partition without committing or acknowledging its batch; another worker has taken it. Nothing is lost. If it repeats, give workers more CPU or a longer --lease.',
  CG_CLUSTER_PUBLISH: 'A record could not be published: JetStream did not acknowledge it within the retry time. Check the server is up and has disk space, then publish the same files again (duplicates are dropped).',
  CG_CLUSTER_QUERY: 'No worker answered the query for that patient\'s partition in time (no worker owns it yet, or the owner is busy catching up). Check `caregaps cluster status` and retry.',
  CG_REGISTRY_DUPLICATE_ID: 'Two registry folders define the same id, so every patient would be counted twice. Keep one of the two files named.',
  CG_REGISTRY_FOLDER_NAME: 'A registry folder must be named after the registry id in its rule file. Rename the folder (or correct the id).',
  CG_SERVER_PLUGIN: 'A server plugin (an authenticator) has a missing or malformed meta or behaviour. Fix what the message names; see docs/serve.md.',
  CG_SERVER_OIDC: 'The OpenID Connect sign-in is misconfigured, its provider cannot be reached, or a token lacks a claim the mapping needs. Fix what the message names; see docs/serve.md.',
  CG_SERVER_HOST_FILE: 'A care teams, sharing agreements or opt-out register file given to `caregaps serve` is malformed. Fix the entry named; see docs/serve.md.',
  CG_SERVER_PRINCIPALS: 'The principals file of the development authenticator is malformed. Fix the entry and field named; see docs/serve.md.',
  CG_USAGE: 'The command was called with wrong arguments. Run `caregaps <command> --help`.',
  CG_OUTPUT: 'An output cannot be written there: its folder is missing, it is one of the inputs, or it would overwrite existing data. Choose another path.',
  CG_INPUT: 'An input file could not be read. Check the path and permissions.',
  CG_SYNTH_CODE: 'A code the synthetic generator writes is not in its codeset. Fix the code in packages/synthetic/src/codes.ts or the codeset.',
  CG_SYNTH_CONFIG: 'The generator options or config are invalid. Fix the named knob (see docs/analyst-guide.md).',
  CG_ACCESS_DENIED: 'The access was refused by policy (deny by default). Check role, purpose, care relationship and sharing agreements; the audit log holds the decision.',
  CG_ACCESS_POLICY: 'The policy plugin is malformed. Give it meta {name, version (x.y.z), decides} and a decide function (see docs/access.md).',
  CG_ACCESS_RBAC_DATA: 'The role → activity data is invalid. Grant only activities and purposes the file defines (see docs/access.md).',
  CG_ACCESS_AGREEMENT: 'The sharing agreement or its change is invalid. Fix the terms or the order of create, sign, amend, withdraw (see docs/access.md).',
  CG_AUDIT_WRITE: 'The audit event could not be written, so the access was refused. Fix the audit sink (disk space, permissions) and retry.',
  CG_AUDIT_TAMPERED: 'The audit log does not verify under its key and checkpoint. Investigate; restore the log from a trusted copy (see docs/access.md).',
  CG_AUDIT_KEY: 'The audit key is missing, shorter than 32 bytes or kept in the log directory. Give a key of at least 32 random bytes from the host configuration, stored apart from the log.',
  CG_AUDIT_CHECKPOINT: 'The audit checkpoint is malformed or kept in the log directory. Keep checkpoints where the log writer cannot rewrite them (see docs/access.md).',
  CG_ADAPTER_META: "The adapter's meta is incomplete or malformed. Declare name, version (x.y.z), engine (a semver range) and reads (see docs/adapters.md).",
  CG_ADAPTER_ENGINE: 'The adapter does not support this version of @caregaps/core. Install an adapter version whose meta.engine includes it, or test and widen the range.',
  CG_ADAPTER_DUPLICATE: 'An adapter with this name is already registered. Register each adapter once, or rename one.',
  CG_ADAPTER_UNKNOWN: 'No adapter with this name is registered. Register it first or use one of the names listed.',
  CG_ADAPTER_FAILED: 'The adapter threw while reading, so the rest of that input was not read. Report it to the adapter author with the input.',
  CG_SOURCE_PARSE: 'The source file, line or row is not valid JSON or CSV. Fix the syntax at the place given.',
  CG_SOURCE_ENCODING: 'The line or row is not valid UTF-8, so it was quarantined rather than read with its bad bytes replaced. Export the file as UTF-8 (or convert it with iconv).',
  CG_SOURCE_NHS_NUMBER: 'The source patient has no valid NHS number. Correct it at source; for synthetic data use --assign-test-nhs-numbers.',
  CG_SOURCE_CONFLICT: 'One source id was given for two patients (different NHS numbers), so the resource and everything referring to that id were quarantined. Correct the id or the NHS number at source and send both again.',
  CG_SOURCE_TOO_LARGE: 'The JSON document is over maxBundleBytes (512 MiB by default), or is a single resource over streamFromBytes (8 MiB), which would have to be parsed whole. Split it, send Bulk Data NDJSON, or raise the limit.',
  CG_SOURCE_REFERENCE: 'The item refers to a patient not found in the input. Send the Patient with it (same bundle, or the Patient NDJSON file).',
  CG_SOURCE_DATE: 'The item has no usable date to the day (effective, then issued or recorded). Record the date at source.',
  CG_SOURCE_CODE: 'The item has no usable code (missing, too long, or a SNOMED code that is not a concept id). Fix the coding at source.',
  CG_SOURCE_FIELD: 'A field the item needs is missing or has the wrong type. Fix the named field at source.',
  CG_SOURCE_NOT_DONE: 'The item says it did not happen (cancelled, not done, refuted, not taken), so it does not count. Nothing to fix.',
  CG_SOURCE_UNSUPPORTED: 'The resource type is not used by Caregaps. Nothing to fix; leave it out of the feed to avoid the count.',
  CG_SOURCE_PRACTICE: 'The patient has no registered practice. Send generalPractitioner with an ODS code, or pass a default practice option.',
  CG_MAP_FORMAT: 'The column map or normalisation map is malformed. Fix the property named (see docs/adapters.md).',
} as const;

/** A documented error code. */
export type ErrorCode = keyof typeof ERRORS;

/** Where a problem is, as precisely as known. Lines and columns count from 1. */
export interface SourceLocation {
  file?: string;
  line?: number;
  column?: number;
  /** JSON pointer into the document, e.g. `/indicators/0/numerator/1/if`. */
  pointer?: string;
  /** The record id when the problem is in a record. */
  recordId?: string;
}

/** One problem found in an input: a code, what is wrong, where, and what to do. */
export interface Problem extends SourceLocation {
  code: ErrorCode;
  message: string;
}

/** `file:line:column` (as much as is known) followed by the message and the code. */
export function formatProblem(p: Problem): string {
  const where = [p.file, p.line, p.column].filter((x) => x !== undefined).join(':');
  const pointer = p.pointer ? ` (at ${p.pointer})` : '';
  return `${where ? where + ': ' : ''}${p.message}${pointer} [${p.code}]`;
}

/** The error Caregaps throws: a code, a message that says what to do, and the problems behind it. */
export class CaregapsError extends Error {
  override readonly name = 'CaregapsError';
  readonly code: ErrorCode;
  readonly problems: readonly Problem[];

  constructor(code: ErrorCode, message: string, problems: readonly Problem[] = []) {
    const detail = problems.length ? '\n' + problems.map((p) => '  ' + formatProblem(p)).join('\n') : '';
    super(`${message}${detail}\n  ${ERRORS[code]} [${code}]`);
    this.code = code;
    this.problems = problems;
  }
}
