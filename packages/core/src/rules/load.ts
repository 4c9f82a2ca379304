import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import registrySchema from '../../schemas/registry.schema.json' with { type: 'json' };
import type { CodesetIndex } from '../codesets/index.js';
import { CaregapsError, type ErrorCode, type Problem } from '../errors.js';
import { ANCHORS, parseDateExpression, type DateExpression } from './date-expression.js';
import { parseSourceDocument, type ParseLimits, type SourceDocument } from './parse-document.js';
import type { Action, Condition, FieldDefinition, RegistryDefinition, RuleDefinition } from './types.js';

/** The type of a fact, which decides the operators it may be compared with. */
export type FactType = 'date' | 'number' | 'boolean';

/** Facts every registry has besides its fields. */
export const BUILT_IN_FACTS: Readonly<Record<string, FactType>> = {
  ACHV_DAT: 'date',
  PPED: 'date',
  QSSD: 'date',
  /** Age in full years on the achievement date. */
  PAT_AGE: 'number',
  /** Start of the current registration (`registeredFrom`). */
  REG_DAT: 'date',
};

/** A registry file that passed every check, ready to compile. */
export interface Registry {
  definition: RegistryDefinition;
  file: string | undefined;
  factTypes: ReadonlyMap<string, FactType>;
  /** Fields in an order where every field comes after the fields it depends on. */
  fieldOrder: readonly string[];
}

export interface LoadOptions extends ParseLimits {
  /** Codesets to check cluster names against; without it cluster names are not checked. */
  codesets?: CodesetIndex;
}

const ajv = new Ajv({ strict: true, allErrors: false });
const validateSchema = ajv.compile<RegistryDefinition>(registrySchema);

const PLAIN_PATH = /^\$(\.[A-Za-z_][A-Za-z0-9_]*)+$/;
const SELECTORS = ['latest', 'earliest', 'count', 'exists', 'valueFrom', 'ageAt'] as const;
const WINDOW_KEYS = ['after', 'onOrAfter', 'before', 'onOrBefore'] as const;
const DATE_OPERATORS = new Set(['after', 'onOrAfter', 'before', 'onOrBefore', 'sameDay']);
const ORDER_OPERATORS = new Set(['lessThan', 'lessThanInclusive', 'greaterThan', 'greaterThanInclusive']);

function schemaMessage(error: ErrorObject): { message: string; key?: string; code: ErrorCode } {
  const params = error.params as Record<string, unknown>;
  if (error.instancePath.endsWith('/path') && error.keyword !== 'type') {
    return { code: 'CG_RULE_UNSAFE_PATH', message: 'path must be a plain property path like $.a.b' };
  }
  switch (error.keyword) {
    case 'additionalProperties':
      if (params['additionalProperty'] === 'provisional') {
        return {
          code: 'CG_RULE_SCHEMA',
          message: 'remove "provisional": it is computed from the clusters the indicator reads (docs/codesets.md); write words as "caveat"',
          key: 'provisional',
        };
      }
      return {
        code: 'CG_RULE_SCHEMA',
        message: `unknown property "${String(params['additionalProperty'])}"; see docs/rule-authoring.md for the properties allowed here`,
        key: String(params['additionalProperty']),
      };
    case 'required':
      return { code: 'CG_RULE_SCHEMA', message: `missing required property "${String(params['missingProperty'])}"` };
    case 'enum':
      return {
        code: 'CG_RULE_SCHEMA',
        message: `must be one of: ${(params['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`,
      };
    case 'pattern':
      return {
        code: 'CG_RULE_SCHEMA',
        message: `"${error.instancePath.split('/').pop()}" does not match ${String(params['pattern'])} (names are UPPER_SNAKE_CASE; ids kebab-case)`,
      };
    case 'anyOf':
      return { code: 'CG_RULE_SCHEMA', message: 'value is not one of the allowed forms (a number, true/false, null, a date expression, or a list of numbers)' };
    default:
      return { code: 'CG_RULE_SCHEMA', message: `${error.instancePath || 'document'} ${error.message ?? 'is invalid'}` };
  }
}

/** Collects problems with their positions in the source document. */
class Problems {
  readonly list: Problem[] = [];
  constructor(private readonly doc: SourceDocument) {}
  add(code: ErrorCode, pointer: string, message: string, key?: string): void {
    const { line, column } = this.doc.locate(pointer, key);
    this.list.push({ code, message, pointer, line, column, ...(this.doc.file !== undefined ? { file: this.doc.file } : {}) });
  }
}

function selectorOf(field: FieldDefinition): (typeof SELECTORS)[number][] {
  return SELECTORS.filter((s) => field[s] !== undefined);
}

function clustersOf(field: FieldDefinition): string[] {
  const c = field.latest ?? field.earliest ?? field.count ?? field.exists;
  return c === undefined ? [] : Array.isArray(c) ? c : [c];
}

/** The clusters a same-date pairing reads for each component it supplies. */
export function pairedClusters(field: FieldDefinition): [component: string, clusters: string[]][] {
  const pair = field.pairByDate;
  if (pair === undefined || pair === true) return [];
  return Object.entries(pair).map(([component, c]) => [component, Array.isArray(c) ? c : [c]]);
}

/** The fact type a field yields. */
function fieldType(field: FieldDefinition): FactType {
  if (field.latest !== undefined || field.earliest !== undefined) return 'date';
  if (field.exists !== undefined) return 'boolean';
  return 'number'; // count, valueFrom, ageAt
}

/**
 * Loads and checks a registry rule file (YAML or JSON text): limits, syntax, schema, then meaning — unknown facts,
 * clusters and operators, types, date expressions, cycles and cascades. Every problem names file:line:column.
 */
export function parseRegistry(text: string, file?: string, options: LoadOptions = {}): Registry {
  const doc = parseSourceDocument(text, file, options);
  const problems = new Problems(doc);
  if (!validateSchema(doc.value)) {
    const error = validateSchema.errors![0]!;
    const { message, key, code } = schemaMessage(error);
    problems.add(code, error.instancePath, message, key);
    throw new CaregapsError(code, `Registry file ${file ?? ''} is invalid`, problems.list);
  }
  const definition = doc.value;
  const factTypes = new Map<string, FactType>(Object.entries(BUILT_IN_FACTS));
  const fieldNames = Object.keys(definition.fields);

  for (const name of fieldNames) {
    const pointer = `/fields/${name}`;
    if (name in BUILT_IN_FACTS) problems.add('CG_RULE_DUPLICATE', pointer, `${name} is a built-in fact; choose another field name`);
    const field = definition.fields[name]!;
    const selectors = selectorOf(field);
    if (selectors.length !== 1) {
      problems.add('CG_RULE_SCHEMA', pointer, `a field has exactly one of ${SELECTORS.join(', ')} (found ${selectors.join(', ') || 'none'})`);
      continue;
    }
    factTypes.set(name, fieldType(field));
  }
  const dependencies = new Map<string, string[]>();
  for (const name of fieldNames) {
    const field = definition.fields[name]!;
    const pointer = `/fields/${name}`;
    const deps: string[] = [];
    if (field.valueFrom !== undefined) {
      const target = definition.fields[field.valueFrom];
      if (!target || (target.latest === undefined && target.earliest === undefined)) {
        problems.add('CG_RULE_UNKNOWN_FACT', `${pointer}/valueFrom`, `valueFrom must name a latest or earliest field of this registry, not "${field.valueFrom}"`);
      } else deps.push(field.valueFrom);
      for (const k of [...WINDOW_KEYS, 'where'] as const) {
        if (field[k] !== undefined) problems.add('CG_RULE_SCHEMA', `${pointer}/${k}`, `"${k}" belongs on the field that selects the record (${field.valueFrom})`);
      }
    } else {
      for (const k of ['component', 'sameDay'] as const) {
        if (field[k] !== undefined) problems.add('CG_RULE_SCHEMA', `${pointer}/${k}`, `"${k}" is only for valueFrom fields`);
      }
    }
    if (field.pairByDate !== undefined && field.latest === undefined && field.earliest === undefined) {
      problems.add('CG_RULE_SCHEMA', `${pointer}/pairByDate`, '"pairByDate" pairs the records of one date for a latest or earliest field');
    }
    if (field.ageAt !== undefined) {
      for (const k of [...WINDOW_KEYS, 'where'] as const) {
        if (field[k] !== undefined) problems.add('CG_RULE_SCHEMA', `${pointer}/${k}`, `"${k}" does not apply to an ageAt field (it reads no records)`);
      }
      const expr = checkDateExpression(field.ageAt, `${pointer}/ageAt`, factTypes, problems);
      if (expr && 'field' in expr.term) deps.push(expr.term.field);
    }
    for (const [component, list] of pairedClusters(field)) {
      list.forEach((cluster, n) => {
        if (options.codesets && options.codesets.clusterNumber(cluster) === undefined) {
          const at = Array.isArray((field.pairByDate as Record<string, unknown>)[component]) ? `${pointer}/pairByDate/${component}/${n}` : `${pointer}/pairByDate/${component}`;
          problems.add('CG_RULE_UNKNOWN_CLUSTER', at, `no codeset for cluster ${cluster} (expected codesets/${cluster}.csv)`);
        }
      });
    }
    const selector = selectorOf(field)[0];
    if (selector && selector !== 'valueFrom' && selector !== 'ageAt') {
      const list = field[selector];
      clustersOf(field).forEach((cluster, n) => {
        if (options.codesets && options.codesets.clusterNumber(cluster) === undefined) {
          const at = Array.isArray(list) ? `${pointer}/${selector}/${n}` : `${pointer}/${selector}`;
          problems.add('CG_RULE_UNKNOWN_CLUSTER', at, `no codeset for cluster ${cluster} (expected codesets/${cluster}.csv)`);
        }
      });
    }
    for (const k of WINDOW_KEYS) {
      const text = field[k];
      if (text === undefined) continue;
      const expr = checkDateExpression(text, `${pointer}/${k}`, factTypes, problems);
      if (expr && 'field' in expr.term) deps.push(expr.term.field);
    }
    dependencies.set(name, deps);
  }
  const fieldOrder = orderFields(fieldNames, dependencies, problems);

  checkCascade(definition.register, '/register', 'register', factTypes, problems);
  const seen = new Set<string>();
  definition.indicators.forEach((indicator, i) => {
    if (seen.has(indicator.id)) problems.add('CG_RULE_DUPLICATE', `/indicators/${i}/id`, `indicator ${indicator.id} is defined twice`);
    seen.add(indicator.id);
    checkCascade(indicator.denominator, `/indicators/${i}/denominator`, 'denominator', factTypes, problems);
    checkCascade(indicator.numerator, `/indicators/${i}/numerator`, 'numerator', factTypes, problems);
  });

  if (problems.list.length) {
    throw new CaregapsError(problems.list[0]!.code, `Registry file ${file ?? ''} has ${problems.list.length} problem(s)`, problems.list);
  }
  return { definition, file, factTypes, fieldOrder };
}

/** Reads and checks a registry file from disk. */
export function loadRegistry(path: string, options: LoadOptions = {}): Registry {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new CaregapsError('CG_INPUT', `Cannot read ${path}: ${(error as Error).message}`);
  }
  return parseRegistry(text, path, options);
}

function checkDateExpression(
  text: string,
  pointer: string,
  factTypes: ReadonlyMap<string, FactType>,
  problems: Problems,
): DateExpression | undefined {
  const expr = parseDateExpression(text);
  if (!expr) {
    problems.add('CG_RULE_DATE_EXPRESSION', pointer, `"${text}" is not a date expression (e.g. "PPED - 12 months", "DM_DAT + 279 days")`);
    return undefined;
  }
  if ('field' in expr.term) {
    const type = factTypes.get(expr.term.field);
    if (type === undefined) {
      problems.add('CG_RULE_UNKNOWN_FACT', pointer, `"${expr.term.field}" is not a field or one of ${ANCHORS.join(', ')}`);
      return undefined;
    }
    if (type !== 'date') {
      problems.add('CG_RULE_TYPE', pointer, `"${expr.term.field}" is a ${type}, not a date`);
      return undefined;
    }
  }
  return expr;
}

function orderFields(names: string[], dependencies: Map<string, string[]>, problems: Problems): string[] {
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, trail: string[]): void => {
    const s = state.get(name);
    if (s === 'done') return;
    if (s === 'visiting') {
      problems.add('CG_RULE_FIELD_CYCLE', `/fields/${name}`, `fields depend on each other in a cycle: ${[...trail, name].join(' → ')}`);
      return;
    }
    state.set(name, 'visiting');
    for (const dep of dependencies.get(name) ?? []) if (dependencies.has(dep)) visit(dep, [...trail, name]);
    state.set(name, 'done');
    order.push(name);
  };
  for (const name of names) visit(name, []);
  return order;
}

type CascadeKind = 'register' | 'denominator' | 'numerator';

function checkCascade(
  rules: RuleDefinition[],
  pointer: string,
  kind: CascadeKind,
  factTypes: ReadonlyMap<string, FactType>,
  problems: Problems,
): void {
  const numbers = new Set<string>();
  rules.forEach((rule, i) => {
    const at = `${pointer}/${i}`;
    if (numbers.has(String(rule.rule))) problems.add('CG_RULE_DUPLICATE', `${at}/rule`, `rule ${rule.rule} appears twice in this cascade`);
    numbers.add(String(rule.rule));
    checkCondition(rule.if, `${at}/if`, factTypes, problems);
    for (const branch of ['then', 'else'] as const) {
      const action: Action = rule[branch];
      const where = `${at}/${branch}`;
      if (action === 'next' && i === rules.length - 1) {
        problems.add('CG_RULE_CASCADE', where, 'the last rule of a cascade must select or reject, not pass to a next rule');
      }
      if (kind === 'denominator' && action === 'reject') {
        problems.add('CG_RULE_SCHEMA', where, 'a denominator reject names its outcome: { reject: excepted } or { reject: not-applicable }');
      }
      if (kind !== 'denominator' && typeof action === 'object') {
        problems.add('CG_RULE_SCHEMA', where, `a ${kind} rule rejects with plain "reject"; outcomes belong to denominators`);
      }
    }
  });
}

function checkCondition(
  condition: Condition,
  pointer: string,
  factTypes: ReadonlyMap<string, FactType>,
  problems: Problems,
): void {
  const keys = Object.keys(condition);
  const shape = ['all', 'any', 'not', 'fact'].filter((k) => k in condition);
  if (shape.length !== 1) {
    problems.add('CG_RULE_SCHEMA', pointer, 'a condition is exactly one of: all, any, not, or fact + operator + value');
    return;
  }
  if ('all' in condition || 'any' in condition) {
    const key = 'all' in condition ? 'all' : 'any';
    if (keys.length !== 1) problems.add('CG_RULE_SCHEMA', pointer, `"${key}" stands alone in its condition`);
    const list = (condition as Record<string, Condition[]>)[key]!;
    list.forEach((c, i) => checkCondition(c, `${pointer}/${key}/${i}`, factTypes, problems));
    return;
  }
  if ('not' in condition) {
    if (keys.length !== 1) problems.add('CG_RULE_SCHEMA', pointer, '"not" stands alone in its condition');
    checkCondition(condition.not, `${pointer}/not`, factTypes, problems);
    return;
  }
  const c = condition as Extract<Condition, { fact: string }>;
  for (const k of ['operator', 'value'] as const) {
    if (!(k in c)) problems.add('CG_RULE_SCHEMA', pointer, `missing "${k}" (write value: null to test for Null)`);
  }
  if (!('operator' in c) || !('value' in c)) return;
  const type = factTypes.get(c.fact);
  if (type === undefined) {
    problems.add('CG_RULE_UNKNOWN_FACT', `${pointer}/fact`, `"${c.fact}" is not a field of this registry or a built-in fact (${Object.keys(BUILT_IN_FACTS).join(', ')})`);
    return;
  }
  if (c.path !== undefined) {
    if (!PLAIN_PATH.test(c.path) || /\.(__proto__|constructor|prototype)(\.|$)/.test(c.path)) problems.add('CG_RULE_UNSAFE_PATH', `${pointer}/path`, 'path must be a plain property path like $.a.b');
    else problems.add('CG_RULE_TYPE', `${pointer}/path`, `${c.fact} is a ${type}; facts have no properties to select with a path`);
  }
  const bad = (message: string) => problems.add('CG_RULE_TYPE', `${pointer}/value`, message);
  const { operator, value } = c;
  if (DATE_OPERATORS.has(operator)) {
    if (type !== 'date') problems.add('CG_RULE_TYPE', `${pointer}/operator`, `"${operator}" compares dates but ${c.fact} is a ${type}`);
    if (typeof value !== 'string') bad(`"${operator}" needs a date expression such as "PPED - 12 months"`);
    else checkDateExpression(value, `${pointer}/value`, factTypes, problems);
  } else if (operator === 'equal' || operator === 'notEqual') {
    if (value === null) {
      if (type === 'boolean') bad(`${c.fact} is true or false, never Null`);
    } else if (typeof value === 'boolean') {
      if (type !== 'boolean') bad(`${c.fact} is a ${type}; compare it with a number or null`);
    } else if (typeof value === 'number') {
      if (type !== 'number') bad(`${c.fact} is a ${type}; ${type === 'date' ? 'use a date operator' : 'compare it with true or false'}`);
    } else bad(`"${operator}" takes a number, true/false or null`);
  } else if (ORDER_OPERATORS.has(operator)) {
    if (type !== 'number') problems.add('CG_RULE_TYPE', `${pointer}/operator`, `"${operator}" compares numbers but ${c.fact} is a ${type}${type === 'date' ? ' (use after/before)' : ''}`);
    if (typeof value !== 'number') bad(`"${operator}" needs a number`);
  } else {
    if (type !== 'number') problems.add('CG_RULE_TYPE', `${pointer}/operator`, `"${operator}" compares numbers but ${c.fact} is a ${type}`);
    if (!Array.isArray(value)) bad(`"${operator}" needs a list of numbers`);
  }
}
