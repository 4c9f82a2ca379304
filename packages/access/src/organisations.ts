import type { OrganisationRecord } from '@caregaps/core';

/** Levels of the hierarchy below national, from the smallest unit up. */
export type OrganisationLevel = 'practice' | 'pcn' | 'borough' | 'icb';

export const LEVELS: readonly OrganisationLevel[] = ['practice', 'pcn', 'borough', 'icb'];

/** Code used for the ancestor of a practice that the organisation file does not place at a level. */
export const UNMAPPED = '(unmapped)';

/** A problem found in the organisation records: which record and why it was not used as given. */
export interface OrganisationProblem {
  code: string;
  reason: string;
}

/**
 * The organisation hierarchy used for aggregation: practice → PCN → borough → ICB, from `organisation` records.
 * A record whose parent is unknown or of the wrong level, or that closes a cycle, is kept as a node without that
 * parent and reported in `problems` (never dropped silently).
 */
export class OrganisationHierarchy {
  private readonly nodes = new Map<string, OrganisationRecord>();
  private readonly parentOf = new Map<string, string>();
  readonly problems: OrganisationProblem[] = [];

  constructor(records: Iterable<OrganisationRecord>) {
    for (const record of records) {
      if (this.nodes.has(record.code)) this.problems.push({ code: record.code, reason: 'duplicate organisation record; the later one is used' });
      this.nodes.set(record.code, record);
    }
    for (const record of this.nodes.values()) {
      if (!record.parent) continue;
      const parent = this.nodes.get(record.parent);
      if (!parent) {
        this.problems.push({ code: record.code, reason: `parent ${record.parent} is not in the organisation records` });
      } else if (LEVELS.indexOf(parent.type) <= LEVELS.indexOf(record.type)) {
        this.problems.push({ code: record.code, reason: `parent ${record.parent} is a ${parent.type}, not a level above ${record.type}` });
      } else {
        this.parentOf.set(record.code, record.parent);
      }
    }
  }

  get(code: string): OrganisationRecord | undefined {
    return this.nodes.get(code);
  }

  name(code: string): string {
    return this.nodes.get(code)?.name ?? code;
  }

  /** The organisation at `level` that `practice` belongs to (the practice itself at practice level). */
  ancestor(practice: string, level: OrganisationLevel): string {
    if (level === 'practice') return practice;
    let code: string | undefined = practice;
    while (code !== undefined) {
      if (this.nodes.get(code)?.type === level) return code;
      code = this.parentOf.get(code);
    }
    return UNMAPPED;
  }

  /** Whether a practice is in the organisation records as a practice. */
  knows(practice: string): boolean {
    return this.nodes.get(practice)?.type === 'practice';
  }

  /** Every organisation of a level, in code order. */
  atLevel(level: OrganisationLevel): string[] {
    return [...this.nodes.values()].filter((n) => n.type === level).map((n) => n.code).sort();
  }
}
