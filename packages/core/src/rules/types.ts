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
  component?: string;
  sameDay?: 'lowest' | 'highest';
  after?: string;
  onOrAfter?: string;
  before?: string;
  onOrBefore?: string;
  where?: Record<string, ValueTest>;
}

export interface IndicatorDefinition {
  id: string;
  title: string;
  description?: string;
  source?: string;
  programme?: 'qof' | 'enhanced-service' | 'local';
  /** Words shown with the indicator's status; whether it is provisional is computed (DESIGN §3.4), never written. */
  caveat?: string;
  denominator: RuleDefinition[];
  numerator: RuleDefinition[];
}

export interface RegistryDefinition {
  id: string;
  title: string;
  version: string;
  description?: string;
  source: { document: string; version: string; url?: string; notes?: string };
  fields: Record<string, FieldDefinition>;
  register: RuleDefinition[];
  indicators: IndicatorDefinition[];
}

/** Indicator status (DESIGN §3.2). */
export type IndicatorStatus = 'met' | 'gap' | 'excepted' | 'not-applicable';
