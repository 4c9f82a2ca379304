import { parseDateExpression } from '../rules/date-expression.js';
import type { Condition, FieldDefinition, RegistryDefinition } from '../rules/types.js';

/**
 * A requirement on a patient's records in conjunctive form: every clause, a list of cluster numbers, must hold at
 * least one record of the patient. The empty list requires nothing.
 */
export type ClusterClauses = readonly (readonly number[])[];

/** Beyond this many clauses a disjunction keeps only the first: dropping a clause weakens a requirement, soundly. */
const MAX_CLAUSES = 32;
const DATE_OPERATORS = new Set(['after', 'onOrAfter', 'before', 'onOrBefore', 'sameDay']);

/**
 * The register gate of a registry (DESIGN §4): clusters a patient must have records in, clause by clause, for any
 * route through the register cascade to select them, derived from the rules themselves. Every route to `select`
 * (the rules passed on `next`, then the rule that selects) is read as a requirement; the gate is their disjunction.
 * A fact read from records is Null (or 0 for count and exists) for a patient with no record in its clusters, so a
 * condition that cannot take the value the route needs without such a record requires one. A route that needs no
 * record (an age test alone, say) leaves the registry with no gate: the empty list.
 */
export function registerGate(definition: RegistryDefinition, clusterNumber: (name: string) => number | undefined): ClusterClauses {
  const requirement = new Requirements(definition.fields, clusterNumber);
  let gate: ClusterClauses | undefined;
  let passed: ClusterClauses = [];
  for (const rule of definition.register) {
    for (const [action, truth] of [[rule.then, true], [rule.else, false]] as const) {
      if (action !== 'select') continue;
      const route = and(passed, requirement.of(rule.if, truth));
      gate = gate === undefined ? route : or(gate, route);
    }
    if (rule.then === 'next' && rule.else === 'next') continue;
    if (rule.then === 'next') passed = and(passed, requirement.of(rule.if, true));
    else if (rule.else === 'next') passed = and(passed, requirement.of(rule.if, false));
    else break; // no route goes on past this rule
  }
  return gate ?? [];
}

class Requirements {
  constructor(
    private readonly fields: Readonly<Record<string, FieldDefinition>>,
    private readonly clusterNumber: (name: string) => number | undefined,
  ) {}

  /** What a patient's records must hold for condition `c` to be `truth`. */
  of(c: Condition, truth: boolean): ClusterClauses {
    // An empty all/any requires nothing either way (the schema refuses them; requiring nothing is always sound).
    if ('all' in c) return c.all.length === 0 ? [] : c.all.map((x) => this.of(x, truth)).reduce(truth ? and : or);
    if ('any' in c) return c.any.length === 0 ? [] : c.any.map((x) => this.of(x, truth)).reduce(truth ? or : and);
    if ('not' in c) return this.of(c.not, !truth);
    const clauses: number[][] = [];
    const left = this.clustersOf(c.fact);
    if (left) {
      const absent = this.absentValue(c.fact);
      const result = DATE_OPERATORS.has(c.operator) ? (Number.isNaN(absent) ? false : undefined) : holds(c.operator, c.value, absent);
      if (result !== undefined && result !== truth) clauses.push(left);
    }
    // A date compared with a Null field's date is false: true needs that field's records too.
    if (truth && DATE_OPERATORS.has(c.operator) && typeof c.value === 'string') {
      const term = parseDateExpression(c.value)?.term;
      const right = term && 'field' in term ? this.clustersOf(term.field) : undefined;
      if (right && Number.isNaN(this.absentValue((term as { field: string }).field))) clauses.push(right);
    }
    return clauses.map(normal);
  }

  /** The clusters a field's value comes from (`undefined`: not from records, e.g. a built-in fact or a fixed date). */
  private clustersOf(name: string): number[] | undefined {
    const field = this.fields[name];
    if (!field) return undefined;
    if (field.valueFrom !== undefined) return this.clustersOf(field.valueFrom);
    if (field.ageAt !== undefined) {
      const term = parseDateExpression(field.ageAt)?.term;
      return term && 'field' in term ? this.clustersOf(term.field) : undefined;
    }
    const list = field.latest ?? field.earliest ?? field.count ?? field.exists;
    if (list === undefined) return undefined;
    const numbers = (Array.isArray(list) ? list : [list]).map((n) => this.clusterNumber(n));
    return numbers.includes(undefined) ? undefined : (numbers as number[]);
  }

  /** A field's value for a patient with no record in its clusters. */
  private absentValue(name: string): number {
    const field = this.fields[name]!;
    return field.count !== undefined || field.exists !== undefined ? 0 : Number.NaN;
  }
}

/** Whether a non-date operator holds for a fact's value, as the compiler decides it (Null is NaN, true 1, false 0). */
function holds(operator: string, value: unknown, v: number): boolean | undefined {
  const want = value === null ? Number.NaN : value === true ? 1 : value === false ? 0 : value;
  switch (operator) {
    case 'equal': return typeof want === 'number' ? (Number.isNaN(want) ? Number.isNaN(v) : v === want) : undefined;
    case 'notEqual': return typeof want === 'number' ? !(Number.isNaN(want) ? Number.isNaN(v) : v === want) : undefined;
    case 'lessThan': return v < (want as number);
    case 'lessThanInclusive': return v <= (want as number);
    case 'greaterThan': return v > (want as number);
    case 'greaterThanInclusive': return v >= (want as number);
    case 'in': return Array.isArray(want) ? want.includes(v) : undefined;
    case 'notIn': return Array.isArray(want) ? !want.includes(v) : undefined;
    default: return undefined;
  }
}

function normal(clause: readonly number[]): number[] {
  return [...new Set(clause)].sort((a, b) => a - b);
}

/** Both requirements: every clause of each, without clauses another one already implies. */
function and(a: ClusterClauses, b: ClusterClauses): ClusterClauses {
  return simplified([...a, ...b]);
}

/** Either requirement: a record of each pair of clauses' union (a requirement of none requires nothing). */
function or(a: ClusterClauses, b: ClusterClauses): ClusterClauses {
  if (a.length === 0 || b.length === 0) return [];
  const out: number[][] = [];
  for (const x of a) for (const y of b) out.push(normal([...x, ...y]));
  return simplified(out).slice(0, MAX_CLAUSES);
}

/** Drops repeated clauses and clauses that contain another (a record in the smaller one satisfies both). */
function simplified(clauses: readonly (readonly number[])[]): ClusterClauses {
  const sorted = [...clauses].sort((x, y) => x.length - y.length);
  const kept: (readonly number[])[] = [];
  for (const c of sorted) if (!kept.some((k) => k.every((n) => c.includes(n)))) kept.push(c);
  return kept;
}
