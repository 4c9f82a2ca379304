import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Ajv } from 'ajv';
import {
  CaregapsError,
  PatientStore,
  achievementDay,
  explainOutcome,
  parseSourceDocument,
  preparePatient,
  type CodesetIndex,
  type CompiledRegistry,
  type Explanation,
  type IndicatorStatus,
  type PatientRecord,
  type Problem,
  registryTestsSchema,
} from '@caregaps/core';

/** One test case as written in `tests.yaml`. */
export interface RegistryTestCase {
  name: string;
  only?: boolean;
  asOf?: string;
  patient?: Partial<Omit<PatientRecord, 'kind' | 'optOuts' | 'source'>>;
  events?: { id?: string; code: string; system?: string; date: string; value?: number; unit?: string; values?: Record<string, number> }[];
  retract?: string[];
  expect: {
    register: boolean;
    indicators?: Record<string, IndicatorStatus>;
    /** Which rule decided: `register` → a rule number; an indicator id → `"denominator N"` or `"numerator N"`. */
    decidedBy?: Record<string, string | number>;
  };
}

/** A registry's test file: defaults and cases. */
export interface RegistryTestFile {
  registry: string;
  asOf?: string;
  /** Codeset sources laid over the codesets for these cases (paths relative to the test file). */
  codesetsFrom?: string[];
  patient?: RegistryTestCase['patient'];
  cases: RegistryTestCase[];
}

/** What a case produced, beside what it expected. */
export interface CaseResult {
  name: string;
  passed: boolean;
  expected: RegistryTestCase['expect'];
  actual: { register: boolean; indicators: Record<string, IndicatorStatus> };
  /** Human-readable differences, each naming the rule that decided. */
  failures: string[];
  explanation: Explanation | undefined;
}

const ajv = new Ajv({ strict: true, allErrors: false });
const validate = ajv.compile<RegistryTestFile>(registryTestsSchema);

/** A valid NHS number from the test range, used when a case does not give one. */
const DEFAULT_NHS_NUMBER = '9990000018';
const DEFAULT_PATIENT = { birthDate: '1960-01-01', sex: 'female', practice: 'TEST01', registeredFrom: '2000-01-01' } as const;

/** Reads and checks a test file: schema, known indicators, unique names, no duplicate cases. */
export function parseTestFile(text: string, file: string | undefined, registry?: CompiledRegistry): RegistryTestFile {
  const doc = parseSourceDocument(text, file);
  const problem = (pointer: string, message: string, code: Problem['code'] = 'CG_TEST_CASE'): Problem => ({
    code,
    message,
    pointer,
    ...doc.locate(pointer),
    ...(file !== undefined ? { file } : {}),
  });
  if (!validate(doc.value)) {
    const e = validate.errors![0]!;
    const extra = e.keyword === 'additionalProperties' ? ` "${String(e.params['additionalProperty'])}"` : '';
    throw new CaregapsError('CG_TEST_CASE', `Test file ${file ?? ''} is invalid`, [problem(e.instancePath, `${e.message ?? 'invalid'}${extra}`)]);
  }
  const tests = doc.value;
  const problems: Problem[] = [];
  const names = new Set<string>();
  const bodies = new Map<string, string>();
  tests.cases.forEach((c, i) => {
    if (names.has(c.name)) problems.push(problem(`/cases/${i}/name`, `a case named "${c.name}" already exists`, 'CG_TEST_DUPLICATE'));
    names.add(c.name);
    const { name: _name, only: _only, ...body } = c;
    const key = JSON.stringify(body);
    if (bodies.has(key)) problems.push(problem(`/cases/${i}`, `same patient, date and expectation as "${bodies.get(key)}"`, 'CG_TEST_DUPLICATE'));
    bodies.set(key, c.name);
    if (!c.expect.register && c.expect.indicators) {
      problems.push(problem(`/cases/${i}/expect/indicators`, 'a patient not on the register has no indicator statuses'));
    }
    if (c.expect.register && !c.expect.indicators && registry && registry.indicatorIds.length > 0) {
      problems.push(problem(`/cases/${i}/expect`, 'say which indicator statuses to expect for a patient on the register'));
    }
    for (const id of [...Object.keys(c.expect.indicators ?? {}), ...Object.keys(c.expect.decidedBy ?? {}).filter((k) => k !== 'register')]) {
      if (registry && !registry.indicatorIds.includes(id)) {
        problems.push(problem(`/cases/${i}/expect/indicators/${id}`, `registry ${registry.id} has no indicator ${id} (it has ${registry.indicatorIds.join(', ')})`));
      }
    }
  });
  if (registry && tests.registry !== registry.id) {
    problems.push(problem('/registry', `this file tests "${tests.registry}" but is run against "${registry.id}"`));
  }
  if (problems.length) throw new CaregapsError(problems[0]!.code, `Test file ${file ?? ''} has ${problems.length} problem(s)`, problems);
  return tests;
}

export function readTestFile(file: string, registry?: CompiledRegistry): RegistryTestFile {
  return parseTestFile(readFileSync(file, 'utf8'), file, registry);
}

/**
 * The codeset sources a test file asks for (`codesetsFrom`), resolved against its folder: read before the registry is
 * loaded, because the registry must be compiled against the codesets with those sources laid over them.
 */
export function codesetSourcesOf(file: string): string[] {
  const value = parseSourceDocument(readFileSync(file, 'utf8'), file).value as { codesetsFrom?: unknown } | null;
  const list = value && Array.isArray(value.codesetsFrom) ? value.codesetsFrom.filter((p): p is string => typeof p === 'string') : [];
  return list.map((p) => resolve(dirname(file), p));
}

/** Runs one case through the compiled registry and compares it with what it expects. */
export function runCase(registry: CompiledRegistry, index: CodesetIndex, tests: RegistryTestFile, c: RegistryTestCase): CaseResult {
  const patient: PatientRecord = {
    kind: 'patient',
    nhsNumber: DEFAULT_NHS_NUMBER,
    ...DEFAULT_PATIENT,
    ...tests.patient,
    ...c.patient,
  } as PatientRecord;
  const store = new PatientStore();
  store.apply(patient);
  (c.events ?? []).forEach((e, n) => store.apply({ kind: 'event', nhsNumber: patient.nhsNumber, id: e.id ?? `case-event-${n}`, ...e }));
  for (const id of c.retract ?? []) store.apply({ kind: 'retract', id, nhsNumber: patient.nhsNumber });
  const prepared = preparePatient(store.get(patient.nhsNumber)!, index)!;
  const asOf = c.asOf ?? tests.asOf;
  if (!asOf) throw new CaregapsError('CG_TEST_CASE', `Case "${c.name}" has no asOf date and the file gives no default`);
  const outcome = registry.evaluate(prepared, achievementDay(asOf), { explain: true });
  const indicators: Record<string, IndicatorStatus> = {};
  if (outcome.onRegister) registry.indicatorIds.forEach((id, i) => (indicators[id] = outcome.statuses[i]!));
  const explanation = explainOutcome(outcome, registry);
  const failures: string[] = [];
  if (outcome.onRegister !== c.expect.register) {
    const decided = explanation?.register.decidedBy;
    const why = outcome.explanation?.registration === false ? 'not registered on the achievement date' : `register rule ${decided?.rule} decided ${decided?.action}`;
    failures.push(`register: expected ${c.expect.register ? 'on' : 'off'}, got ${outcome.onRegister ? 'on' : 'off'} (${why})`);
  }
  for (const [what, want] of Object.entries(c.expect.decidedBy ?? {})) {
    const got = decidedBy(explanation, what);
    if (got !== String(want)) failures.push(`${what}: expected to be decided by ${what === 'register' ? 'rule ' : ''}${want}, was decided by ${got ?? 'no rule'}`);
  }
  if (outcome.onRegister) {
    for (const [id, want] of Object.entries(c.expect.indicators ?? {})) {
      const got = indicators[id];
      if (got !== want) {
        const e = explanation?.indicators[id];
        const decided = e?.numerator ? `numerator rule ${e.numerator.decidedBy.rule}` : `denominator rule ${e?.denominator.decidedBy.rule}`;
        failures.push(`${id}: expected ${want}, got ${got} (decided by ${decided})`);
      }
    }
  }
  return { name: c.name, passed: failures.length === 0, expected: c.expect, actual: { register: outcome.onRegister, indicators }, failures, explanation };
}

/** "5" for the register, "denominator 5" or "numerator 1" for an indicator: the rule that decided. */
function decidedBy(explanation: Explanation | undefined, what: string): string | undefined {
  if (!explanation) return undefined;
  if (what === 'register') return String(explanation.register.decidedBy.rule);
  const e = explanation.indicators[what];
  if (!e) return undefined;
  return e.numerator ? `numerator ${e.numerator.decidedBy.rule}` : `denominator ${e.denominator.decidedBy.rule}`;
}

/** Runs every case of a file (only the `only` cases, if any are marked). */
export function runCases(registry: CompiledRegistry, index: CodesetIndex, tests: RegistryTestFile): CaseResult[] {
  const chosen = tests.cases.some((c) => c.only) ? tests.cases.filter((c) => c.only) : tests.cases;
  return chosen.map((c) => runCase(registry, index, tests, c));
}
