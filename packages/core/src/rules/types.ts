/** Types of a registry rule file as written (DESIGN §3.3, `schemas/registry.schema.json`). */

export type Operator =
  | 'equal' | 'notEqual' | 'lessThan' | 'lessThanInclusive' | 'greaterThan' | 'greaterThanInclusive' | 'in' | 'notIn'
  | 'after' | 'onOrAfter' | 'before' | 'onOrBefore' | 'sameDay';

/** A json-rules-engine condition over the registry's facts. */
export type Condition =
  | { all: Condition[] }
  | { any: Condition[] }
  | { not: Condition }
  | { fact: string; operator: Operator; value: number | boolean | null | string | number[]; path?: string };

export type Action = 'select' | 'reject' | 'next' | { reject: 'excepted' | 'not-applicable' };

export interface RuleDefinition {
  rule: number | string;
  description?: string;
  source?: string;
  if: Condition;
  then: Action;
  else: Action;
}

export interface ValueTest {
  present?: true;
  equal?: number;
  lessThan?: number;
  lessThanInclusive?: number;
  greaterThan?: number;
  greaterThanInclusive?: number;
}

export interface FieldDefinition {
  description?: string;
  source?: string;
  latest?: string | string[];
  earliest?: string | string[];
  count?: string | string[];
  exists?: string | string[];
  valueFrom?: string;
  /** Age in full years on the date a date expression gives (Null when it refers to a Null field). */
  ageAt?: string;
  component?: string;
  sameDay?: 'lowest' | 'highest';
  after?: string;
  onOrAfter?: string;
  before?: string;
  onOrBefore?: string;
  where?: Record<string, ValueTest>;
  /**
   * Same-date pairing: the records of one date form one reading, so `where` tests each component against any value
   * recorded on that date. A map names clusters whose records on that date supply a component (their named
   * component, else their value).
   */
  pairByDate?: true | Record<string, string | string[]>;
}

/** Why an indicator no longer counts, and who says so. */
export interface Retirement {
  reason: string;
  source: string;
}

export interface IndicatorDefinition {
  id: string;
  title: string;
  description?: string;
  source?: string;
  programme?: 'qof' | 'enhanced-service' | 'local';
  /** Words shown with the indicator's status; whether it is provisional is computed (DESIGN §3.4), never written. */
  caveat?: string;
  retired?: Retirement;
  denominator: RuleDefinition[];
  numerator: RuleDefinition[];
}

export interface RegistryDefinition {
  id: string;
  title: string;
  version: string;
  description?: string;
  source: { document: string; version: string; url?: string; notes?: string };
  /** The QOF indicator the register itself is (e.g. DM017), and whether it is retired. */
  registerIndicator?: { id: string; retired?: Retirement };
  fields: Record<string, FieldDefinition>;
  register: RuleDefinition[];
  indicators: IndicatorDefinition[];
}

/** Indicator status (DESIGN §3.2). */
export type IndicatorStatus = 'met' | 'gap' | 'excepted' | 'not-applicable';
