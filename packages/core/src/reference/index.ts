/**
 * The reference interpreter: runs a registry file's conditions through json-rules-engine itself, over facts
 * extracted by a deliberately plain implementation. It defines what the compiler must reproduce (differential
 * tests) and is the benchmark baseline. Slow by design; not for production use.
 * @module
 */
import { Engine, Rule, type RuleResult } from 'json-rules-engine';
import type { Codeset } from '../codesets/index.js';
import { addMonths, ageInYears, paymentPeriodEnd, parseDay, qualityServiceStart } from '../dates.js';
import type { PatientState } from '../records/store.js';
import type { EventRecord } from '../records/types.js';
import { parseDateExpression } from '../rules/date-expression.js';
import type { Registry } from '../rules/load.js';
import type { Action, Condition, FieldDefinition, IndicatorStatus, RuleDefinition, ValueTest } from '../rules/types.js';
import { resolvePlainPath } from './path.js';

export { resolvePlainPath } from './path.js';

/** What the reference decides for one patient in one registry. */
export interface ReferenceOutcome {
  onRegister: boolean;
  statuses: IndicatorStatus[];
}

type Fact = number | boolean | null;
interface Almanac {
  factValue(id: string): Promise<unknown>;
}

const DATE_OPERATORS: Record<string, (a: number, b: number) => boolean> = {
  after: (a, b) => a > b,
  onOrAfter: (a, b) => a >= b,
  before: (a, b) => a < b,
  onOrBefore: (a, b) => a <= b,
  sameDay: (a, b) => a === b,
};

function dateOf(text: string, facts: Record<string, number | null>): number | null {
  const expr = parseDateExpression(text)!;
  const term = expr.term;
  const base = 'day' in term ? term.day : 'anchor' in term ? facts[term.anchor]! : facts[term.field] ?? null;
  if (base === null) return null;
  if (!expr.offset) return base;
  return expr.offset.unit === 'days' ? base + expr.offset.amount : addMonths(base, expr.offset.amount);
}

function passes(test: ValueTest, v: number | undefined): boolean {
  if (test.present && v === undefined) return false;
  if (v === undefined) return test.equal === undefined && test.lessThan === undefined && test.lessThanInclusive === undefined && test.greaterThan === undefined && test.greaterThanInclusive === undefined;
  if (test.equal !== undefined && !(v === test.equal)) return false;
  if (test.lessThan !== undefined && !(v < test.lessThan)) return false;
  if (test.lessThanInclusive !== undefined && !(v <= test.lessThanInclusive)) return false;
  if (test.greaterThan !== undefined && !(v > test.greaterThan)) return false;
  if (test.greaterThanInclusive !== undefined && !(v >= test.greaterThanInclusive)) return false;
  return true;
}

/** The value or an own named component: never a member inherited from Object.prototype (`toString`, `constructor`). */
function componentOf(event: EventRecord, name: string): number | undefined {
  if (name === 'value') return event.value;
  return event.values !== undefined && Object.hasOwn(event.values, name) ? event.values[name] : undefined;
}

/** Rewrites date-expression values into json-rules-engine fact references, so the engine resolves them. */
function toEngineCondition(c: Condition, dateFacts: Set<string>): Record<string, unknown> {
  if ('all' in c) return { all: c.all.map((x) => toEngineCondition(x, dateFacts)) };
  if ('any' in c) return { any: c.any.map((x) => toEngineCondition(x, dateFacts)) };
  if ('not' in c) return { not: toEngineCondition(c.not, dateFacts) };
  const out: Record<string, unknown> = { fact: c.fact, operator: c.operator, value: c.value };
  if (c.path !== undefined) out['path'] = c.path;
  if (c.operator in DATE_OPERATORS) {
    dateFacts.add(c.value as string);
    out['value'] = { fact: `@${c.value as string}` };
  }
  return out;
}

/** A registry ready to run through json-rules-engine. */
export class ReferenceRegistry {
  private readonly codes = new Map<string, Set<string>>();
  private readonly registerEngine: Engine;
  private readonly indicatorEngine: Engine;

  constructor(
    readonly registry: Registry,
    codesets: readonly Codeset[],
  ) {
    for (const c of codesets) this.codes.set(c.cluster, new Set(c.codes.keys()));
    const def = registry.definition;
    this.registerEngine = this.engine(def.register.map((r, i) => [`register/${i}`, r]));
    this.indicatorEngine = this.engine(
      def.indicators.flatMap((ind, n) => [
        ...ind.denominator.map((r, i) => [`${n}/denominator/${i}`, r] as const),
        ...ind.numerator.map((r, i) => [`${n}/numerator/${i}`, r] as const),
      ]),
    );
  }

  private engine(rules: (readonly [string, RuleDefinition])[]): Engine {
    const engine = new Engine([], { allowUndefinedFacts: false, pathResolver: resolvePlainPath });
    for (const [name, op] of Object.entries(DATE_OPERATORS)) {
      engine.addOperator(name, (a: unknown, b: unknown) => typeof a === 'number' && typeof b === 'number' && op(a, b));
    }
    const dateFacts = new Set<string>();
    for (const [name, rule] of rules) {
      engine.addRule(new Rule({ name, conditions: toEngineCondition({ all: [rule.if] }, dateFacts) as never, event: { type: name } }));
    }
    const def = this.registry.definition;
    for (const [name, field] of Object.entries(def.fields)) {
      engine.addFact(name, (_params: unknown, almanac: Almanac) => this.field(name, field, almanac));
    }
    engine.addFact('PAT_AGE', async (_p: unknown, almanac: Almanac) => {
      const patient = (await almanac.factValue('patient')) as PatientState;
      return ageInYears(parseDay(patient.patient!.birthDate)!, (await almanac.factValue('ACHV_DAT')) as number);
    });
    engine.addFact('REG_DAT', async (_p: unknown, almanac: Almanac) => {
      const patient = (await almanac.factValue('patient')) as PatientState;
      return parseDay(patient.patient!.registeredFrom)!;
    });
    for (const text of dateFacts) {
      engine.addFact(`@${text}`, (_p: unknown, almanac: Almanac) => this.date(text, almanac));
    }
    return engine;
  }

  private async date(text: string, almanac: Almanac): Promise<number | null> {
    const expr = parseDateExpression(text)!;
    const facts: Record<string, number | null> = {};
    const name = 'day' in expr.term ? undefined : 'anchor' in expr.term ? expr.term.anchor : expr.term.field;
    if (name) facts[name] = (await almanac.factValue(name)) as number | null;
    return dateOf(text, facts);
  }

  /** Plain extraction: filter the patient's events by cluster, window and value tests; then pick. */
  private async field(name: string, field: FieldDefinition, almanac: Almanac): Promise<Fact> {
    const state = (await almanac.factValue('patient')) as PatientState;
    const achv = (await almanac.factValue('ACHV_DAT')) as number;
    if (field.ageAt !== undefined) {
      const expr = parseDateExpression(field.ageAt)!;
      const name = 'day' in expr.term ? undefined : 'anchor' in expr.term ? expr.term.anchor : expr.term.field;
      const facts: Record<string, number | null> = {};
      if (name) facts[name] = (await almanac.factValue(name)) as number | null;
      const day = dateOf(field.ageAt, facts);
      return day === null ? null : ageInYears(parseDay(state.patient!.birthDate)!, day);
    }
    if (field.valueFrom !== undefined) {
      const ownerDef = this.registry.definition.fields[field.valueFrom]!;
      const day = (await almanac.factValue(field.valueFrom)) as number | null;
      if (day === null) return null;
      const component = field.component ?? 'value';
      const values =
        ownerDef.pairByDate !== undefined
          ? this.readingValues(state, ownerDef, day, component)
          : this.matching(state, ownerDef)
              .filter((e) => parseDay(e.date) === day)
              .map((e) => componentOf(e, component))
              .filter((v): v is number => v !== undefined);
      if (values.length === 0) return null;
      return field.sameDay === 'highest' ? Math.max(...values) : Math.min(...values);
    }
    const anchors: Record<string, number | null> = {
      ACHV_DAT: achv,
      PPED: (await almanac.factValue('PPED')) as number,
      QSSD: (await almanac.factValue('QSSD')) as number,
      REG_DAT: parseDay(state.patient!.registeredFrom)!,
    };
    for (const key of ['after', 'onOrAfter', 'before', 'onOrBefore'] as const) {
      const text = field[key];
      const expr = text === undefined ? undefined : parseDateExpression(text);
      if (expr && 'field' in expr.term && !(expr.term.field in anchors)) {
        anchors[expr.term.field] = (await almanac.factValue(expr.term.field)) as number | null;
      }
    }
    const bound = (key: 'after' | 'onOrAfter' | 'before' | 'onOrBefore') => (field[key] === undefined ? undefined : dateOf(field[key]!, anchors));
    const after = bound('after');
    const onOrAfter = bound('onOrAfter');
    const before = bound('before');
    const onOrBefore = bound('onOrBefore');
    const anyNull = [after, onOrAfter, before, onOrBefore].some((b) => b === null);
    const candidates = field.pairByDate === undefined ? this.matching(state, field) : this.inClusters(state, field);
    const days = anyNull
      ? []
      : candidates
          .map((e) => parseDay(e.date)!)
          .filter(
            (d) =>
              d <= achv &&
              (after === undefined || d > after!) &&
              (onOrAfter === undefined || d >= onOrAfter!) &&
              (before === undefined || d < before!) &&
              (onOrBefore === undefined || d <= onOrBefore!),
          )
          // A paired field's date must make a reading: each tested component has a passing value on that date.
          .filter((d) => field.pairByDate === undefined || Object.keys(field.where ?? {}).every((c) => this.readingValues(state, field, d, c).length > 0));
    if (field.latest !== undefined) return days.length ? Math.max(...days) : null;
    if (field.earliest !== undefined) return days.length ? Math.min(...days) : null;
    if (field.count !== undefined) return days.length;
    return days.length > 0;
  }

  /** The patient's events in the field's clusters that pass its value tests (each event once). */
  private matching(state: PatientState, field: FieldDefinition): EventRecord[] {
    return this.inClusters(state, field).filter((e) =>
      Object.entries(field.where ?? {}).every(([component, test]) => passes(test, componentOf(e, component))),
    );
  }

  /** The patient's events in any of the clusters (the field's own by default), each event once. */
  private inClusters(state: PatientState, field: FieldDefinition, names?: readonly string[]): EventRecord[] {
    const list = names ?? field.latest ?? field.earliest ?? field.count ?? field.exists!;
    const clusters = (typeof list === 'string' ? [list] : list).map((c) => this.codes.get(c) ?? new Set<string>());
    return [...state.events.values()].filter((e) => (e.system ?? 'snomed') === 'snomed' && clusters.some((codes) => codes.has(e.code)));
  }

  /**
   * Same-date pairing, read plainly: the values of one component on one day — the component of the field's own
   * records, and the component (else the value) of the records of the clusters the pairing names for it — that pass
   * the field's tests for that component.
   */
  private readingValues(state: PatientState, field: FieldDefinition, day: number, component: string): number[] {
    const pair = field.pairByDate === true || field.pairByDate === undefined ? undefined : field.pairByDate[component];
    const onDay = (events: EventRecord[]) => events.filter((e) => parseDay(e.date) === day);
    const values = [
      ...onDay(this.inClusters(state, field)).map((e) => componentOf(e, component)),
      ...(pair === undefined ? [] : onDay(this.inClusters(state, field, typeof pair === 'string' ? [pair] : pair)).map((e) => componentOf(e, component) ?? e.value)),
    ];
    const test = field.where?.[component];
    return values.filter((v): v is number => v !== undefined && (test === undefined || passes(test, v)));
  }

  /** Evaluates one stored patient (whose patient record has arrived) on an achievement date. */
  async evaluate(state: PatientState, achievementDay: number): Promise<ReferenceOutcome> {
    const patient = state.patient!;
    const registeredFrom = parseDay(patient.registeredFrom)!;
    const ends = [patient.registeredTo, patient.deathDate].filter((d): d is string => !!d).map((d) => parseDay(d)!);
    const registered = registeredFrom <= achievementDay && ends.every((end) => end > achievementDay);
    if (!registered) return { onRegister: false, statuses: [] };
    const facts = { patient: state, ACHV_DAT: achievementDay, PPED: paymentPeriodEnd(achievementDay), QSSD: qualityServiceStart(achievementDay) };
    const def = this.registry.definition;
    const register = await this.truths(this.registerEngine, facts);
    if (walk(def.register, (i) => register.get(`register/${i}`)!) !== 'select') return { onRegister: false, statuses: [] };
    const truths = await this.truths(this.indicatorEngine, facts);
    const statuses = def.indicators.map((ind, n): IndicatorStatus => {
      const den = walk(ind.denominator, (i) => truths.get(`${n}/denominator/${i}`)!);
      if (den !== 'select') return typeof den === 'object' ? den.reject : 'not-applicable';
      return walk(ind.numerator, (i) => truths.get(`${n}/numerator/${i}`)!) === 'select' ? 'met' : 'gap';
    });
    return { onRegister: true, statuses };
  }

  private async truths(engine: Engine, facts: Record<string, unknown>): Promise<Map<string, boolean>> {
    if ((engine as unknown as { rules: unknown[] }).rules.length === 0) return new Map();
    const { results, failureResults } = await engine.run(facts);
    const truths = new Map<string, boolean>();
    for (const r of [...results, ...failureResults] as RuleResult[]) truths.set(r.name as string, r.result === true);
    return truths;
  }
}

function walk(rules: RuleDefinition[], truth: (i: number) => boolean): Action {
  for (let i = 0; i < rules.length; i++) {
    const action = truth(i) ? rules[i]!.then : rules[i]!.else;
    if (action !== 'next') return action;
  }
  return 'reject';
}
