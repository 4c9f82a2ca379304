import type { CompiledRegistry, IndicatorStatus, OrganisationRecord } from '@caregaps/core';

/** Indicator statuses in the order of their status codes (code = position + 1; 0 means "not on the register"). */
export const STATUSES: readonly IndicatorStatus[] = ['met', 'gap', 'excepted', 'not-applicable'];

export type OrganisationType = OrganisationRecord['type'];

/** One node of the organisation hierarchy. */
export interface OrganisationNode {
  code: string;
  name: string | undefined;
  /** `undefined` until the organisation's own record arrives (a practice seen only on patients, or a parent named before its record). */
  type: OrganisationType | undefined;
  parent: string | undefined;
}

/** Counts and rates of one registry at one organisation (the organisation and everything under it). */
export interface RegistryCounts {
  registry: string;
  /** Registered patients on the achievement date (the list size). */
  registered: number;
  /** Patients on the register. */
  register: number;
  /** Register size over list size (0 when the list is empty). */
  prevalence: number;
  indicators: Record<string, IndicatorCounts>;
}

export interface IndicatorCounts {
  met: number;
  gap: number;
  excepted: number;
  'not-applicable': number;
  /** met + gap: the patients the indicator is assessed on. */
  denominator: number;
  /** met / (met + gap), or `null` when the denominator is empty. */
  achievement: number | null;
  /** met / (met + gap + excepted), or `null` when that is empty. */
  grossAchievement: number | null;
}

/**
 * Where each count lives in a counter vector: position 0 counts registered patients; each registry has a register
 * count followed by four status counts per indicator.
 */
export class CounterLayout {
  readonly width: number;
  /** Start of each registry's block in the counter vector. */
  readonly base: readonly number[];
  /** Start of each registry's block in a patient's status vector (register flag, then one status per indicator). */
  readonly slot: readonly number[];
  readonly slots: number;

  constructor(readonly registries: readonly CompiledRegistry[]) {
    const base: number[] = [];
    const slot: number[] = [];
    let width = 1;
    let slots = 0;
    for (const r of registries) {
      base.push(width);
      slot.push(slots);
      width += 1 + STATUSES.length * r.indicatorIds.length;
      slots += 1 + r.indicatorIds.length;
    }
    this.width = width;
    this.base = base;
    this.slot = slot;
    this.slots = slots;
  }

  /** Counter position of registry `r`, indicator `i`, status code `code` (1–4). */
  statusCounter(r: number, i: number, code: number): number {
    return this.base[r]! + 1 + STATUSES.length * i + (code - 1);
  }
}

/**
 * The organisation hierarchy (practice → PCN → borough → ICB) with a counter vector per node. A count change at
 * a practice is added to the practice and each ancestor: at most four additions, whatever the population size.
 */
export class Aggregates {
  private readonly index = new Map<string, number>();
  private readonly nodes: OrganisationNode[] = [];
  private readonly parentOf: number[] = [];
  private readonly counters: Int32Array[] = [];

  constructor(public layout: CounterLayout) {}

  /** Forgets every count and organisation and starts over with a (new) layout: a rebuild. */
  reset(layout: CounterLayout): void {
    this.layout = layout;
    this.index.clear();
    this.nodes.length = 0;
    this.parentOf.length = 0;
    this.counters.length = 0;
  }

  /** The node number of an organisation code, creating a placeholder node on first sight. */
  node(code: string): number {
    let n = this.index.get(code);
    if (n === undefined) {
      n = this.nodes.length;
      this.index.set(code, n);
      this.nodes.push({ code, name: undefined, type: undefined, parent: undefined });
      this.parentOf.push(-1);
      this.counters.push(new Int32Array(this.layout.width));
    }
    return n;
  }

  /**
   * Applies an organisation record. Returns a reason when it is refused (its parent chain would loop back to it);
   * counts already gathered under the node move with it to its new parent.
   */
  setOrganisation(record: OrganisationRecord): string | undefined {
    const n = this.node(record.code);
    const parent = record.parent ? this.node(record.parent) : -1;
    for (let p = parent; p >= 0; p = this.parentOf[p]!) {
      if (p === n) return `organisation ${record.code} would be its own ancestor through ${record.parent}`;
    }
    const node = this.nodes[n]!;
    node.name = record.name;
    node.type = record.type;
    node.parent = record.parent ?? undefined;
    if (this.parentOf[n] !== parent) {
      const totals = this.counters[n]!;
      this.addVector(this.parentOf[n]!, totals, -1);
      this.parentOf[n] = parent;
      this.addVector(parent, totals, 1);
    }
    return undefined;
  }

  private addVector(from: number, vector: Int32Array, sign: number): void {
    for (let p = from; p >= 0; p = this.parentOf[p]!) {
      const c = this.counters[p]!;
      for (let k = 0; k < vector.length; k++) c[k]! += sign * vector[k]!;
    }
  }

  /** Adds a partition's count deltas at a practice to the practice and every ancestor. */
  addDelta(practice: string, delta: Int32Array): void {
    this.addVector(this.node(practice), delta, 1);
  }

  /** Adds `delta` to counter `k` at a node and every ancestor. */
  add(node: number, k: number, delta: number): void {
    for (let p = node; p >= 0; p = this.parentOf[p]!) this.counters[p]![k]! += delta;
  }

  /** Every organisation seen, with its place in the hierarchy. */
  organisations(): OrganisationNode[] {
    return this.nodes.map((n) => ({ ...n }));
  }

  /** The organisation records applied so far (for snapshots). */
  organisationRecords(): OrganisationRecord[] {
    return this.nodes
      .filter((n) => n.type !== undefined)
      .map((n) => ({ kind: 'organisation', code: n.code, name: n.name ?? n.code, type: n.type!, parent: n.parent ?? null }));
  }

  has(code: string): boolean {
    return this.index.has(code);
  }

  /** Counts of one registry at an organisation (everything under it), or `undefined` for an unknown code. */
  counts(code: string, registryNumber: number): RegistryCounts | undefined {
    const n = this.index.get(code);
    if (n === undefined) return undefined;
    return this.countsOfVector(this.counters[n]!, registryNumber);
  }

  /** Registered patients over the whole population. */
  registered(): number {
    let sum = 0;
    this.parentOf.forEach((p, n) => {
      if (p < 0) sum += this.counters[n]![0]!;
    });
    return sum;
  }

  /** Counts summed over every top-level organisation (the whole population). */
  totals(registryNumber: number): RegistryCounts {
    const sum = new Int32Array(this.layout.width);
    this.parentOf.forEach((p, n) => {
      if (p >= 0) return;
      const c = this.counters[n]!;
      for (let k = 0; k < sum.length; k++) sum[k]! += c[k]!;
    });
    return this.countsOfVector(sum, registryNumber);
  }

  private countsOfVector(c: Int32Array, r: number): RegistryCounts {
    const registry = this.layout.registries[r]!;
    const registered = c[0]!;
    const register = c[this.layout.base[r]!]!;
    const indicators: Record<string, IndicatorCounts> = {};
    registry.indicatorIds.forEach((id, i) => {
      const [met, gap, excepted, notApplicable] = [1, 2, 3, 4].map((code) => c[this.layout.statusCounter(r, i, code)]!) as [number, number, number, number];
      const denominator = met + gap;
      indicators[id] = {
        met,
        gap,
        excepted,
        'not-applicable': notApplicable,
        denominator,
        achievement: denominator ? met / denominator : null,
        grossAchievement: denominator + excepted ? met / (denominator + excepted) : null,
      };
    });
    return { registry: registry.id, registered, register, prevalence: registered ? register / registered : 0, indicators };
  }
}
