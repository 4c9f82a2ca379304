import type { CodesetIndex } from '../codesets/index.js';
import { formatDay, parseDay } from '../dates.js';
import { CaregapsError } from '../errors.js';
import type { PatientStore } from '../records/store.js';
import type { IndicatorStatus } from '../rules/types.js';
import type { CascadeTrace, CompiledRegistry, RegistryOutcome } from './compile.js';
import { preparePatient, type PreparedPatient } from './patient.js';

/** One rule cascade's explanation with dates written as YYYY-MM-DD. */
export interface CascadeExplanation {
  /** The rule that decided, and what it decided. */
  decidedBy: { rule: number | string; action: string };
  steps: { rule: number | string; result: boolean; action: string }[];
  facts: Record<string, { value: string | number | boolean | null; records: string[] }>;
}

export interface IndicatorExplanation {
  status: IndicatorStatus;
  denominator: CascadeExplanation;
  numerator?: CascadeExplanation;
}

/** Why a patient has the statuses they have in one registry. */
export interface Explanation {
  register: CascadeExplanation;
  indicators: Record<string, IndicatorExplanation>;
}

/** One line of evaluation output (DESIGN §3.2): a patient on a register and their indicator statuses. */
export interface PatientResult {
  nhsNumber: string;
  registry: string;
  indicators: Record<string, IndicatorStatus>;
  explanation?: Explanation;
}

/** An achievement date as a day number, from YYYY-MM-DD or a day number. */
export function achievementDay(asOf: string | number): number {
  if (typeof asOf === 'number') return asOf;
  const day = parseDay(asOf);
  if (day === undefined) throw new CaregapsError('CG_USAGE', `The achievement date "${asOf}" is not a YYYY-MM-DD date`);
  return day;
}

function actionText(action: CascadeTrace['steps'][number]['action']): string {
  return typeof action === 'object' ? `reject (${action.reject})` : action;
}

function describeTrace(trace: CascadeTrace, registry: CompiledRegistry): CascadeExplanation {
  const last = trace.steps[trace.steps.length - 1]!;
  const facts: CascadeExplanation['facts'] = {};
  for (const [name, fact] of Object.entries(trace.facts)) {
    const dated = registry.registry.factTypes.get(name) === 'date' && typeof fact.value === 'number';
    facts[name] = { value: dated ? formatDay(fact.value as number) : fact.value, records: fact.records };
  }
  return {
    decidedBy: { rule: last.rule, action: actionText(last.action) },
    steps: trace.steps.map((s) => ({ rule: s.rule, result: s.result, action: actionText(s.action) })),
    facts,
  };
}

/** Turns an outcome evaluated with `explain` into a readable explanation. */
export function explainOutcome(outcome: RegistryOutcome, registry: CompiledRegistry): Explanation | undefined {
  const e = outcome.explanation;
  if (!e?.register) return undefined;
  const indicators: Record<string, IndicatorExplanation> = {};
  e.indicators.forEach((ind, i) => {
    const entry: IndicatorExplanation = { status: outcome.statuses[i]!, denominator: describeTrace(ind.denominator, registry) };
    if (ind.numerator) entry.numerator = describeTrace(ind.numerator, registry);
    indicators[registry.indicatorIds[i]!] = entry;
  });
  return { register: describeTrace(e.register, registry), indicators };
}

/** The output line for an outcome, or `undefined` when the patient is not on the register. */
export function resultOf(nhsNumber: string, registry: CompiledRegistry, outcome: RegistryOutcome): PatientResult | undefined {
  if (!outcome.onRegister) return undefined;
  const indicators: Record<string, IndicatorStatus> = {};
  registry.indicatorIds.forEach((id, i) => (indicators[id] = outcome.statuses[i]!));
  const result: PatientResult = { nhsNumber, registry: registry.id, indicators };
  const explanation = explainOutcome(outcome, registry);
  if (explanation) result.explanation = explanation;
  return result;
}

/**
 * Evaluates every patient against every registry on one achievement date (the batch evaluator, which defines
 * correctness). Yields one result per patient per register the patient is on.
 */
export function* evaluatePopulation(
  patients: Iterable<PreparedPatient>,
  registries: readonly CompiledRegistry[],
  asOf: string | number,
  options: { explain?: boolean } = {},
): Generator<PatientResult> {
  const day = achievementDay(asOf);
  const explain = options.explain === true;
  for (const patient of patients) {
    for (const registry of registries) {
      const result = resultOf(patient.nhsNumber, registry, registry.evaluate(patient, day, { explain }));
      if (result) yield result;
    }
  }
}

/** Prepares every patient of a store whose patient record has arrived (events waiting for their patient are kept). */
export function* preparedPatients(store: PatientStore, index: CodesetIndex): Generator<PreparedPatient> {
  for (const state of store.values()) {
    const prepared = preparePatient(state, index);
    if (prepared) yield prepared;
  }
}
