import type { CodesetIndex } from '../codesets/index.js';
import { parseDateExpression } from './date-expression.js';
import type { Registry } from './load.js';
import type { RuleDefinition } from './types.js';

/** A cluster a rule reads whose content is not the complete published cluster. */
export interface ProvisionalCluster {
  cluster: string;
  status: 'missing' | 'partial' | 'substitute';
  /** Codes held, and the member count its release gives when known. */
  count: number;
  expected?: number;
  /** Read by the register's rules (so every indicator over the register is affected), not the indicator's own. */
  register?: true;
}

/**
 * Why a registry's register and indicators are provisional, computed from the clusters their rules read (DESIGN
 * §3.4). An empty list means not provisional. An indicator is provisional when its own rules or its register's rules
 * read a missing, partial or substitute cluster.
 */
export interface RegistryProvisional {
  register: readonly ProvisionalCluster[];
  indicators: Readonly<Record<string, readonly ProvisionalCluster[]>>;
}

/** Words and notes that describe, never name a field or cluster. */
const PROSE = new Set(['description', 'source', 'title', 'caveat']);

/** Every string inside a rule-file value, keys included, except prose. */
function strings(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const v of value) strings(v, out);
  else if (value && typeof value === 'object') {
    for (const [key, v] of Object.entries(value)) {
      if (PROSE.has(key)) continue;
      out.push(key);
      strings(v, out);
    }
  }
  return out;
}

/**
 * The clusters a set of rules reads: the fields their conditions name (as facts or in date expressions), the fields
 * those depend on, and the clusters all of them select. Read off the rule file generically, so new rule-language
 * keys that name fields or clusters are followed without a list here.
 */
function clustersRead(rules: readonly RuleDefinition[], registry: Registry, index: CodesetIndex): Set<string> {
  const fields = registry.definition.fields;
  const referenced = (texts: string[]) =>
    texts.flatMap((text) => {
      if (Object.hasOwn(fields, text)) return [text];
      const expr = parseDateExpression(text);
      return expr && 'field' in expr.term && Object.hasOwn(fields, expr.term.field) ? [expr.term.field] : [];
    });
  const seen = new Set<string>();
  const clusters = new Set<string>();
  const queue = referenced(strings(rules.map((r) => r.if)));
  while (queue.length) {
    const name = queue.pop()!;
    if (seen.has(name)) continue;
    seen.add(name);
    const texts = strings(fields[name]);
    for (const text of texts) if (index.clusterNumber(text) !== undefined) clusters.add(text);
    queue.push(...referenced(texts));
  }
  return clusters;
}

/** The clusters among `names` that are not complete, in name order. */
function incomplete(names: Iterable<string>, index: CodesetIndex, register?: true): ProvisionalCluster[] {
  const out: ProvisionalCluster[] = [];
  for (const cluster of [...names].sort()) {
    const codeset = index.codeset(cluster);
    if (!codeset || codeset.status === 'complete') continue;
    const entry: ProvisionalCluster = { cluster, status: codeset.status, count: codeset.codes.size };
    if (codeset.expected) entry.expected = codeset.expected.count;
    if (register) entry.register = true;
    out.push(entry);
  }
  return out;
}

/** Computes which parts of a registry are provisional against the codesets it is compiled with. */
export function provisionalOf(registry: Registry, index: CodesetIndex): RegistryProvisional {
  const definition = registry.definition;
  const registerClusters = clustersRead(definition.register, registry, index);
  const register = incomplete(registerClusters, index, true);
  const indicators: Record<string, ProvisionalCluster[]> = {};
  for (const indicator of definition.indicators) {
    const own = clustersRead([...indicator.denominator, ...indicator.numerator], registry, index);
    for (const cluster of registerClusters) own.delete(cluster);
    indicators[indicator.id] = [...incomplete(own, index), ...register];
  }
  return { register, indicators };
}

/** One line saying why: `reads FRC_COD (missing), BP_COD (partial: 97 of 161); register reads LIT_COD (substitute)`. */
export function provisionalReason(clusters: readonly ProvisionalCluster[]): string {
  const describe = (c: ProvisionalCluster) =>
    `${c.cluster} (${c.status}${c.status === 'partial' ? `: ${c.count}${c.expected !== undefined ? ` of ${c.expected}` : ''} code${(c.expected ?? c.count) === 1 ? '' : 's'}` : ''})`;
  const own = clusters.filter((c) => !c.register).map(describe);
  const register = clusters.filter((c) => c.register).map(describe);
  return [own.length ? `reads ${own.join(', ')}` : '', register.length ? `register reads ${register.join(', ')}` : ''].filter(Boolean).join('; ');
}
