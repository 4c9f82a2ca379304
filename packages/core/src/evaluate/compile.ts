import type { CodesetIndex } from '../codesets/index.js';
import { ageInYears, dayOfAge } from '../dates.js';
import { applyOffset, parseDateExpression, type DateExpression } from '../rules/date-expression.js';
import { pairedClusters, type Registry } from '../rules/load.js';
import { provisionalOf, type RegistryProvisional } from '../rules/provisional.js';
import type { Action, Condition, FieldDefinition, IndicatorStatus, RuleDefinition, ValueTest } from '../rules/types.js';
import { registerGate, type ClusterClauses } from './gate.js';
import { MovingDate, anchorDates, anchoredFunction, type AnchorDates } from './horizon.js';
import type { PatientView, SeriesView } from './patient.js';

/** Which rule of which cascade decided, and the facts it read (DESIGN §3.2 `--explain`). */
export interface CascadeTrace {
  /** Rules evaluated in order, with the truth of each condition. */
  steps: { rule: number | string; result: boolean; action: Action }[];
  /** Facts read while deciding, with their values (dates as YYYY-MM-DD later) and the records they came from. */
  facts: Record<string, { value: number | boolean | null; records: string[] }>;
}

/** The outcome for one patient in one registry on one achievement date. */
export interface RegistryOutcome {
  onRegister: boolean;
  /** Status per indicator, in the order of the registry file (empty when not on the register). */
  statuses: readonly IndicatorStatus[];
  /** The earliest achievement date on which this outcome could change with no new record (Infinity if never). */
  horizon: number;
  explanation?: {
    registration: boolean;
    register?: CascadeTrace;
    indicators: { denominator: CascadeTrace; numerator?: CascadeTrace }[];
  };
}

type Value = (ctx: Context) => number;

/** The statuses of every patient not on a register: shared, so evaluating the many who are not allocates less. */
const NO_STATUSES: readonly IndicatorStatus[] = Object.freeze([]);
type Test = (ctx: Context) => boolean;

interface CompiledField {
  name: string;
  compute: Value;
  /** Record ids behind the value, for explanations. */
  records(ctx: Context): string[];
}

interface CompiledRule {
  rule: number | string;
  test: Test;
  then: Action;
  else: Action;
}

/** Per-evaluation state: memoised field values, anchors, horizon and (when explaining) what was read. */
class Context {
  patient!: PatientView;
  /** Kept between evaluations on the same achievement date: computing PPED, QSSD and their offsets allocates. */
  anchors: AnchorDates = anchorDates(0);
  /** Values of the registry's anchored date expressions ("PPED - 12 months") on `anchors.ACHV_DAT`. */
  anchored: Float64Array = new Float64Array(0);
  horizon = Infinity;
  track = false;
  reads: Set<string> | undefined;
  readonly values: Float64Array;
  readonly stamps: Int32Array;
  /** For latest/earliest fields: the series and position of the chosen record. */
  readonly chosenSeries: (SeriesView | undefined)[];
  readonly chosenAt: Int32Array;
  generation = 0;

  constructor(private readonly fields: readonly CompiledField[]) {
    this.values = new Float64Array(fields.length);
    this.stamps = new Int32Array(fields.length);
    this.chosenSeries = new Array<SeriesView | undefined>(fields.length);
    this.chosenAt = new Int32Array(fields.length);
  }

  field(i: number): number {
    if (this.reads) this.reads.add(this.fields[i]!.name);
    if (this.stamps[i] === this.generation) return this.values[i]!;
    const v = this.fields[i]!.compute(this);
    this.values[i] = v;
    this.stamps[i] = this.generation;
    return v;
  }

  /** Notes a date on which the outcome could change by itself. */
  until(day: number): void {
    if (day < this.horizon) this.horizon = day;
  }
}

/**
 * A patient's age in full years on a day, and their next birthday after it, kept for the last patient and day asked:
 * the registries evaluated one after another for one patient all ask the same (calendar arithmetic each time).
 */
class AgeMemo {
  private birthDay = Number.NaN;
  private day = Number.NaN;
  private age = 0;
  private next = Number.NaN;

  ageOn(birthDay: number, day: number): number {
    if (birthDay !== this.birthDay || day !== this.day) {
      this.birthDay = birthDay;
      this.day = day;
      this.age = ageInYears(birthDay, day);
      this.next = Number.NaN;
    }
    return this.age;
  }

  /** The first day of the next year of age (after `ageOn`). */
  nextBirthday(): number {
    if (Number.isNaN(this.next)) this.next = dayOfAge(this.birthDay, this.age + 1);
    return this.next;
  }
}

const PATIENT_AGE = new AgeMemo();

const BUILT_INS: Record<string, (ctx: Context) => number> = {
  ACHV_DAT: (ctx) => ctx.anchors.ACHV_DAT,
  PPED: (ctx) => ctx.anchors.PPED,
  QSSD: (ctx) => ctx.anchors.QSSD,
  REG_DAT: (ctx) => ctx.patient.registeredFrom,
  PAT_AGE: (ctx) => {
    const age = PATIENT_AGE.ageOn(ctx.patient.birthDay, ctx.anchors.ACHV_DAT);
    if (ctx.track) ctx.until(PATIENT_AGE.nextBirthday());
    return age;
  },
};

/** A date expression compiled: its value now, and (when anchored) how it moves with the achievement date. */
interface CompiledDate {
  value: Value;
  moving: MovingDate | undefined;
}

/** A registry compiled to closures over day numbers and cluster numbers. */
export class CompiledRegistry {
  readonly id: string;
  readonly indicatorIds: readonly string[];
  /** Cluster numbers this registry reads: an event in any other cluster cannot change its outcome. */
  readonly clusters: ReadonlySet<number>;
  /** The register and indicators that read a missing, partial or substitute cluster, and which (DESIGN §3.4). */
  readonly provisional: RegistryProvisional;
  private readonly fields: CompiledField[] = [];
  private readonly fieldNumber = new Map<string, number>();
  private readonly register: CompiledRule[];
  private readonly indicators: { denominator: CompiledRule[]; numerator: CompiledRule[] }[];
  private readonly context: Context;
  /** The outcome a `scratch` evaluation fills. */
  private readonly scratch: RegistryOutcome = { onRegister: false, statuses: NO_STATUSES, horizon: Infinity };
  private readonly scratchStatuses: IndicatorStatus[] = [];
  /**
   * The register gate (`registerGate`): clauses of clusters, each of which must hold a record of the patient for any
   * route onto the register; empty when a route needs none. Lets the many patients with no relevant record skip the
   * cascade, here and in the engine's partitions.
   */
  readonly gate: ClusterClauses;
  /** Anchored date expressions, each computed once per achievement date into `Context.anchored`. */
  private readonly anchoredExpressions: ((achv: number) => number)[] = [];

  constructor(
    readonly registry: Registry,
    private readonly index: CodesetIndex,
  ) {
    const def = registry.definition;
    this.id = def.id;
    this.indicatorIds = def.indicators.map((i) => i.id);
    const clusters = new Set<number>();
    for (const name of registry.fieldOrder) this.fieldNumber.set(name, this.fieldNumber.size);
    for (const name of registry.fieldOrder) this.fields.push(this.compileField(name, def.fields[name]!, clusters));
    this.clusters = clusters;
    this.register = def.register.map((r) => this.compileRule(r));
    this.gate = registerGate(def, (name) => index.clusterNumber(name));
    this.indicators = def.indicators.map((i) => ({
      denominator: i.denominator.map((r) => this.compileRule(r)),
      numerator: i.numerator.map((r) => this.compileRule(r)),
    }));
    this.context = new Context(this.fields);
    this.provisional = provisionalOf(registry, index);
  }

  /**
   * Evaluates one patient on one achievement date (a day number). Registration is checked first: only patients
   * registered on the achievement date (and alive) can be on a register. With `scratch`, the outcome (and its
   * statuses) is this registry's own object, overwritten by its next scratch evaluation: for a caller that reads it
   * at once, such as the engine evaluating a whole population, so that no object is built per evaluation.
   */
  evaluate(patient: PatientView, achievementDay: number, options: { horizon?: boolean; explain?: boolean; scratch?: boolean } = {}): RegistryOutcome {
    const ctx = this.context;
    ctx.patient = patient;
    if (ctx.anchors.ACHV_DAT !== achievementDay || ctx.anchored.length !== this.anchoredExpressions.length) {
      ctx.anchors = anchorDates(achievementDay);
      ctx.anchored = Float64Array.from(this.anchoredExpressions, (f) => f(achievementDay));
    }
    ctx.generation++;
    ctx.horizon = Infinity;
    ctx.track = options.horizon === true;
    ctx.reads = undefined;
    const explain = options.explain === true;
    const registered = patient.registeredFrom <= achievementDay && patient.registrationEnd > achievementDay;
    if (ctx.track) {
      if (patient.registeredFrom > achievementDay) ctx.until(patient.registeredFrom);
      if (patient.registrationEnd > achievementDay) ctx.until(patient.registrationEnd);
    }
    const scratch = options.scratch === true && !explain;
    const outcome: RegistryOutcome = scratch ? this.scratch : { onRegister: false, statuses: NO_STATUSES, horizon: Infinity };
    if (scratch) {
      outcome.onRegister = false;
      outcome.statuses = NO_STATUSES;
    }
    if (explain) outcome.explanation = { registration: registered, indicators: [] };
    if (!registered) {
      outcome.horizon = ctx.horizon;
      return outcome;
    }
    if (!explain && !this.passesGate(patient)) {
      outcome.horizon = ctx.horizon;
      return outcome;
    }
    const registerTrace = explain ? this.trace(ctx) : undefined;
    const on = this.runCascade(this.register, ctx, registerTrace) === 'select';
    if (outcome.explanation && registerTrace) outcome.explanation.register = this.finishTrace(ctx, registerTrace);
    outcome.onRegister = on;
    if (on) {
      const statuses: IndicatorStatus[] = scratch ? this.scratchStatuses : [];
      statuses.length = 0;
      outcome.statuses = statuses;
      for (const indicator of this.indicators) {
        const denTrace = explain ? this.trace(ctx) : undefined;
        const den = this.runCascade(indicator.denominator, ctx, denTrace);
        // Finished before the numerator's trace starts collecting the facts it reads.
        const denominatorTrace = denTrace ? this.finishTrace(ctx, denTrace) : undefined;
        let status: IndicatorStatus;
        let numTrace: CascadeTrace | undefined;
        if (den === 'select') {
          numTrace = explain ? this.trace(ctx) : undefined;
          status = this.runCascade(indicator.numerator, ctx, numTrace) === 'select' ? 'met' : 'gap';
          if (numTrace) numTrace = this.finishTrace(ctx, numTrace);
        } else {
          status = typeof den === 'object' ? den.reject : 'not-applicable';
        }
        statuses.push(status);
        if (outcome.explanation) {
          const entry: { denominator: CascadeTrace; numerator?: CascadeTrace } = { denominator: denominatorTrace! };
          if (numTrace) entry.numerator = numTrace;
          outcome.explanation.indicators.push(entry);
        }
      }
    }
    outcome.horizon = ctx.horizon;
    return outcome;
  }

  private passesGate(patient: PatientView): boolean {
    for (const clause of this.gate) {
      let found = false;
      for (const c of clause) if (patient.hasCluster(c)) found = true;
      if (!found) return false;
    }
    return true;
  }

  private trace(ctx: Context): CascadeTrace {
    ctx.reads = new Set();
    return { steps: [], facts: {} };
  }

  private finishTrace(ctx: Context, trace: CascadeTrace): CascadeTrace {
    for (const name of ctx.reads ?? []) {
      const n = this.fieldNumber.get(name);
      if (n === undefined) continue;
      const field = this.fields[n]!;
      const raw = ctx.values[n]!;
      const type = this.registry.factTypes.get(name);
      trace.facts[name] = {
        value: Number.isNaN(raw) ? null : type === 'boolean' ? raw === 1 : raw,
        records: field.records(ctx),
      };
    }
    ctx.reads = undefined;
    return trace;
  }

  private runCascade(rules: CompiledRule[], ctx: Context, trace: CascadeTrace | undefined): Action {
    for (const rule of rules) {
      const result = rule.test(ctx);
      const action = result ? rule.then : rule.else;
      if (trace) trace.steps.push({ rule: rule.rule, result, action });
      if (action !== 'next') return action;
    }
    return 'reject'; // unreachable: the loader refuses cascades that can end on "next"
  }

  // ---- compilation -------------------------------------------------------------------------------------------

  private compileDate(text: string): CompiledDate {
    const expr = parseDateExpression(text)!;
    const term = expr.term;
    if ('day' in term) {
      const day = applyOffset(expr, term.day);
      return { value: () => day, moving: undefined };
    }
    if ('anchor' in term) {
      const moving = anchoredFunction(expr as DateExpression & { term: { anchor: typeof term.anchor } });
      const slot = this.anchoredExpressions.push(moving) - 1;
      return { value: (ctx) => ctx.anchored[slot]!, moving: new MovingDate(moving) };
    }
    const n = this.fieldNumber.get(term.field);
    if (n !== undefined) {
      return { value: expr.offset ? (ctx) => applyOffset(expr, ctx.field(n)) : (ctx) => ctx.field(n), moving: undefined };
    }
    const builtIn = BUILT_INS[term.field]!; // REG_DAT: fixed for the patient
    return { value: (ctx) => applyOffset(expr, builtIn(ctx)), moving: undefined };
  }

  private compileField(name: string, field: FieldDefinition, used: Set<number>): CompiledField {
    if (field.valueFrom !== undefined) return this.compileValueOf(name, field);
    if (field.ageAt !== undefined) return this.compileAgeAt(name, field.ageAt);
    const list = field.latest ?? field.earliest ?? field.count ?? field.exists!;
    const clusters = this.clusterNumbers(Array.isArray(list) ? list : [list], used);
    if (field.pairByDate !== undefined) return this.compilePaired(name, field, clusters, used);
    const where = compileWhere(field.where);
    const { lowers, uppers } = this.windowOf(field);
    const mode = field.latest !== undefined ? 'latest' : field.earliest !== undefined ? 'earliest' : field.count !== undefined ? 'count' : 'exists';
    const self = this.fieldNumber.get(name)!;

    const scan = (ctx: Context, collect: string[] | undefined): number => {
      let lo = -Infinity;
      let hi = Infinity;
      for (const b of lowers) lo = Math.max(lo, b.value(ctx));
      for (const b of uppers) hi = Math.min(hi, b.value(ctx));
      // A bound taken from a Null field (NaN) admits no record.
      const empty = Number.isNaN(lo) || Number.isNaN(hi);
      let best = Number.NaN;
      let bestSeries: SeriesView | undefined;
      let bestAt = -1;
      let count = 0;
      for (const c of clusters) {
        const s = ctx.patient.seriesOf(c);
        if (!s) continue;
        const days = s.days;
        if (ctx.track && !empty) this.trackSeries(ctx, s, lo, hi, lowers, uppers, mode, where);
        if (empty) continue;
        if (mode === 'latest') {
          for (let i = s.length - 1; i >= 0; i--) {
            const d = days[i]!;
            if (d > hi) continue;
            if (d < lo || d < best) break;
            if (where(s, i)) {
              if (!(d <= best)) {
                best = d;
                bestSeries = s;
                bestAt = i;
              }
              break;
            }
          }
        } else if (mode === 'earliest') {
          for (let i = 0; i < s.length; i++) {
            const d = days[i]!;
            if (d < lo) continue;
            if (d > hi || d > best) break;
            if (where(s, i)) {
              if (!(d >= best)) {
                best = d;
                bestSeries = s;
                bestAt = i;
              }
              break;
            }
          }
        } else {
          for (let i = 0; i < s.length; i++) {
            const d = days[i]!;
            if (d < lo) continue;
            if (d > hi) break;
            if (where(s, i) && (clusters.length === 1 || !collect?.includes(s.id(i)))) {
              count++;
              collect?.push(s.id(i));
            }
          }
        }
      }
      if (mode === 'latest' || mode === 'earliest') {
        ctx.chosenSeries[self] = bestSeries;
        ctx.chosenAt[self] = bestAt;
        if (collect && bestSeries) collect.push(bestSeries.id(bestAt));
        return best;
      }
      return mode === 'count' ? count : count > 0 ? 1 : 0;
    };
    // Several clusters can hold the same record: count it once.
    const compute: Value = mode === 'count' && clusters.length > 1 ? (ctx) => scan(ctx, []) : (ctx) => scan(ctx, undefined);
    return {
      name,
      compute,
      records: (ctx) => {
        const ids: string[] = [];
        const saved = ctx.track;
        ctx.track = false;
        scan(ctx, ids);
        ctx.track = saved;
        return ids;
      },
    };
  }

  private clusterNumbers(names: readonly string[], used: Set<number>): number[] {
    return names.map((c) => {
      const n = this.index.clusterNumber(c);
      if (n === undefined) throw new Error(`cluster ${c} is not loaded (load the registry with its codesets)`);
      used.add(n);
      return n;
    });
  }

  /** A field's window: records count when every lower bound ≤ day ≤ every upper bound (ACHV_DAT is always one). */
  private windowOf(field: FieldDefinition): { lowers: CompiledDate[]; uppers: CompiledDate[] } {
    const lowers: CompiledDate[] = [];
    const uppers: CompiledDate[] = [{ value: (ctx) => ctx.anchors.ACHV_DAT, moving: new MovingDate((a) => a) }];
    const bound = (text: string, shift: number): CompiledDate => {
      const d = this.compileDate(text);
      const moving = d.moving;
      return {
        value: shift === 0 ? d.value : (ctx: Context) => d.value(ctx) + shift,
        moving: moving && shift !== 0 ? new MovingDate((a) => moving.at(a) + shift) : moving,
      };
    };
    if (field.after !== undefined) lowers.push(bound(field.after, 1));
    if (field.onOrAfter !== undefined) lowers.push(bound(field.onOrAfter, 0));
    if (field.before !== undefined) uppers.push(bound(field.before, -1));
    if (field.onOrBefore !== undefined) uppers.push(bound(field.onOrBefore, 0));
    return { lowers, uppers };
  }

  /** `ageAt`: the patient's age in full years on a date; when the date moves with ACHV_DAT, so does the age. */
  private compileAgeAt(name: string, text: string): CompiledField {
    const date = this.compileDate(text);
    const moving = date.moving;
    return {
      name,
      compute: (ctx) => {
        const day = date.value(ctx);
        if (Number.isNaN(day)) return Number.NaN;
        const age = ageInYears(ctx.patient.birthDay, day);
        if (ctx.track && moving) ctx.until(moving.firstDayReaching(ctx.anchors.ACHV_DAT, dayOfAge(ctx.patient.birthDay, age + 1), false));
        return age;
      },
      records: () => [],
    };
  }

  /**
   * `pairByDate`: a latest/earliest field whose records of one date form one reading. A date qualifies when it holds
   * a record of the field's clusters and, for each component `where` tests, some value recorded on that date passes:
   * a record's named component, or the component or value of a record of the cluster the pairing names for it.
   */
  private compilePaired(name: string, field: FieldDefinition, clusters: number[], used: Set<number>): CompiledField {
    const reading = this.compileReading(field, used);
    const tests = Object.keys(field.where ?? {});
    const { lowers, uppers } = this.windowOf(field);
    const latest = field.latest !== undefined;
    const self = this.fieldNumber.get(name)!;
    // The candidate dates, gathered into an array the field keeps (no array per evaluation).
    let days = new Float64Array(16);
    const choose = (ctx: Context): number => {
      let lo = -Infinity;
      let hi = Infinity;
      for (const b of lowers) lo = Math.max(lo, b.value(ctx));
      for (const b of uppers) hi = Math.min(hi, b.value(ctx));
      ctx.chosenSeries[self] = undefined;
      if (Number.isNaN(lo) || Number.isNaN(hi)) return Number.NaN;
      let n = 0;
      for (const c of clusters) {
        const s = ctx.patient.seriesOf(c);
        if (!s) continue;
        for (let i = 0; i < s.length; i++) {
          const d = s.days[i]!;
          if (d < lo || d > hi) continue;
          if (n === days.length) {
            const grown = new Float64Array(n * 2);
            grown.set(days);
            days = grown;
          }
          days[n++] = latest ? -d : d; // sorted ascending below: latest first when negated
        }
        if (ctx.track) this.trackEntering(ctx, s, hi, uppers);
      }
      if (ctx.track) for (const c of reading.pairClusters) { const s = ctx.patient.seriesOf(c); if (s) this.trackEntering(ctx, s, hi, uppers); }
      sortPrefix(days, n);
      for (let i = 0; i < n; i++) {
        if (i > 0 && days[i] === days[i - 1]) continue;
        const d = latest ? -days[i]! : days[i]!;
        let ok = true;
        for (const component of tests) if (!reading.some(ctx, d, component)) { ok = false; break; }
        if (ok) {
          if (ctx.track) for (const l of lowers) if (l.moving) ctx.until(l.moving.firstDayReaching(ctx.anchors.ACHV_DAT, d, true));
          return d;
        }
      }
      return Number.NaN;
    };
    return {
      name,
      compute: choose,
      records: (ctx) => {
        const saved = ctx.track;
        ctx.track = false;
        const day = choose(ctx);
        ctx.track = saved;
        return Number.isNaN(day) ? [] : reading.ids(ctx, day);
      },
    };
  }

  /**
   * The values of one date's reading for a `pairByDate` field: per component, the named component of the field's own
   * records on that date and the component (else the value) of the paired clusters' records on it, each passing that
   * component's `where` tests.
   */
  private compileReading(field: FieldDefinition, used: Set<number>): Reading {
    const list = field.latest ?? field.earliest!;
    const own = (Array.isArray(list) ? list : [list]).map((c) => this.index.clusterNumber(c)!);
    const paired = new Map(pairedClusters(field).map(([component, names]) => [component, this.clusterNumbers(names, used)] as const));
    const tests = new Map(Object.entries(field.where ?? {}).map(([component, test]) => [component, valueCheck(test)] as const));
    const onDay = (ctx: Context, day: number, cluster: number, visit: (s: SeriesView, i: number) => boolean): boolean => {
      const s = ctx.patient.seriesOf(cluster);
      if (!s) return false;
      for (let i = firstOnOrAfter(s.days, s.length, day); i < s.length && s.days[i] === day; i++) if (visit(s, i)) return true;
      return false;
    };
    const none: number[] = [];
    /** The first (`pick` 0), highest (1) or lowest (-1) value of a component on one date that passes its tests. */
    const value = (ctx: Context, day: number, component: string, pick: number): number => {
      const check = tests.get(component);
      let best = Number.NaN;
      for (const c of own) {
        const s = ctx.patient.seriesOf(c);
        if (s) best = bestOnDay(s, day, component, false, check, pick, best);
        if (pick === 0 && !Number.isNaN(best)) return best;
      }
      for (const c of paired.get(component) ?? none) {
        const s = ctx.patient.seriesOf(c);
        if (s) best = bestOnDay(s, day, component, true, check, pick, best);
        if (pick === 0 && !Number.isNaN(best)) return best;
      }
      return best;
    };
    return {
      pairClusters: [...new Set([...paired.values()].flat())],
      some: (ctx, day, component) => !Number.isNaN(value(ctx, day, component, 0)),
      best: (ctx, day, component, highest) => value(ctx, day, component, highest ? 1 : -1),
      ids: (ctx, day) => {
        const ids = new Set<string>();
        for (const c of [...own, ...[...paired.values()].flat()]) onDay(ctx, day, c, (s, i) => (ids.add(s.id(i)), false));
        return [...ids];
      },
    };
  }

  /** The first record beyond the upper bound enters when a moving upper bound reaches it. */
  private trackEntering(ctx: Context, s: SeriesView, hi: number, uppers: CompiledDate[]): void {
    const at = firstOnOrAfter(s.days, s.length, hi + 1);
    if (at < s.length) for (const u of uppers) if (u.moving) ctx.until(u.moving.firstDayReaching(ctx.anchors.ACHV_DAT, s.days[at]!, false));
  }

  /** Records the dates on which records of a series enter or leave a moving window. */
  private trackSeries(
    ctx: Context,
    s: SeriesView,
    lo: number,
    hi: number,
    lowers: CompiledDate[],
    uppers: CompiledDate[],
    mode: 'latest' | 'earliest' | 'count' | 'exists',
    where: (s: SeriesView, i: number) => boolean,
  ): void {
    const achv = ctx.anchors.ACHV_DAT;
    const days = s.days;
    // The first record beyond the upper bound enters when a moving upper bound reaches it.
    let firstAbove = 0;
    for (let top = s.length; firstAbove < top; ) {
      const mid = (firstAbove + top) >>> 1;
      if (days[mid]! > hi) top = mid;
      else firstAbove = mid + 1;
    }
    if (firstAbove < s.length) {
      for (const u of uppers) if (u.moving) ctx.until(u.moving.firstDayReaching(achv, days[firstAbove]!, false));
    }
    // A record inside the window leaves when a moving lower bound passes it: for latest only the chosen one matters.
    let leaving = -1;
    if (mode === 'latest') {
      for (let i = s.length - 1; i >= 0; i--) {
        const d = days[i]!;
        if (d > hi) continue;
        if (d < lo) break;
        if (where(s, i)) { leaving = i; break; }
      }
    } else {
      for (let i = 0; i < s.length; i++) {
        const d = days[i]!;
        if (d < lo) continue;
        if (d > hi) break;
        if (where(s, i)) { leaving = i; break; }
      }
    }
    if (leaving >= 0) {
      for (const l of lowers) if (l.moving) ctx.until(l.moving.firstDayReaching(achv, days[leaving]!, true));
    }
  }

  private compileValueOf(name: string, field: FieldDefinition): CompiledField {
    const owner = this.fieldNumber.get(field.valueFrom!)!;
    const ownerDef = this.registry.definition.fields[field.valueFrom!]!;
    const component = field.component ?? 'value';
    const highest = field.sameDay === 'highest';
    if (ownerDef.pairByDate !== undefined) {
      const reading = this.compileReading(ownerDef, new Set());
      return {
        name,
        compute: (ctx) => {
          const day = ctx.field(owner);
          return Number.isNaN(day) ? Number.NaN : reading.best(ctx, day, component, highest);
        },
        records: (ctx) => {
          const day = ctx.field(owner);
          return Number.isNaN(day) ? [] : reading.ids(ctx, day);
        },
      };
    }
    const where = compileWhere(ownerDef.where);
    const list = ownerDef.latest ?? ownerDef.earliest!;
    const clusters = (Array.isArray(list) ? list : [list]).map((c) => this.index.clusterNumber(c)!);
    const sameDay = (ctx: Context, visit: (s: SeriesView, i: number) => void): void => {
      const day = ctx.field(owner);
      if (Number.isNaN(day)) return;
      for (const cluster of clusters) {
        const s = ctx.patient.seriesOf(cluster);
        if (!s) continue;
        const days = s.days;
        for (let i = firstOnOrAfter(days, s.length, day); i < s.length && days[i] === day; i++) if (where(s, i)) visit(s, i);
      }
    };
    return {
      name,
      compute: (ctx) => {
        const day = ctx.field(owner);
        let best = Number.NaN;
        if (Number.isNaN(day)) return best;
        for (const cluster of clusters) {
          const s = ctx.patient.seriesOf(cluster);
          if (!s) continue;
          for (let i = firstOnOrAfter(s.days, s.length, day); i < s.length && s.days[i] === day; i++) {
            if (!where(s, i)) continue;
            const v = s.component(component, i);
            if (!Number.isNaN(v) && (Number.isNaN(best) || (highest ? v > best : v < best))) best = v;
          }
        }
        return best;
      },
      records: (ctx) => {
        const ids: string[] = [];
        sameDay(ctx, (s, i) => ids.push(s.id(i)));
        return ids;
      },
    };
  }

  private compileRule(rule: RuleDefinition): CompiledRule {
    return { rule: rule.rule, test: this.compileCondition(rule.if), then: rule.then, else: rule.else };
  }

  private fact(name: string): Value {
    const n = this.fieldNumber.get(name);
    if (n !== undefined) return (ctx) => ctx.field(n);
    return BUILT_INS[name]!;
  }

  private compileCondition(c: Condition): Test {
    if ('all' in c) {
      const parts = c.all.map((x) => this.compileCondition(x));
      return (ctx) => {
        for (const p of parts) if (!p(ctx)) return false;
        return true;
      };
    }
    if ('any' in c) {
      const parts = c.any.map((x) => this.compileCondition(x));
      return (ctx) => {
        for (const p of parts) if (p(ctx)) return true;
        return false;
      };
    }
    if ('not' in c) {
      const inner = this.compileCondition(c.not);
      return (ctx) => !inner(ctx);
    }
    const fact = this.fact(c.fact);
    const { operator, value } = c;
    switch (operator) {
      case 'equal':
      case 'notEqual': {
        const want = value === null ? Number.NaN : value === true ? 1 : value === false ? 0 : (value as number);
        const eq: Test = Number.isNaN(want) ? (ctx) => Number.isNaN(fact(ctx)) : (ctx) => fact(ctx) === want;
        return operator === 'equal' ? eq : (ctx) => !eq(ctx);
      }
      case 'lessThan': { const v = value as number; return (ctx) => fact(ctx) < v; }
      case 'lessThanInclusive': { const v = value as number; return (ctx) => fact(ctx) <= v; }
      case 'greaterThan': { const v = value as number; return (ctx) => fact(ctx) > v; }
      case 'greaterThanInclusive': { const v = value as number; return (ctx) => fact(ctx) >= v; }
      case 'in': case 'notIn': {
        const set = new Set(value as number[]);
        return operator === 'in' ? (ctx) => set.has(fact(ctx)) : (ctx) => !set.has(fact(ctx));
      }
      default:
        return this.compileDateComparison(c.fact, operator, value as string);
    }
  }

  private compileDateComparison(factName: string, operator: 'after' | 'onOrAfter' | 'before' | 'onOrBefore' | 'sameDay', text: string): Test {
    const left: CompiledDate = { value: this.fact(factName), moving: factName in BUILT_INS ? this.compileDate(factName).moving : undefined };
    const right = this.compileDate(text);
    const compare = COMPARE[operator];
    if (!left.moving && !right.moving) return (ctx) => compare(left.value(ctx), right.value(ctx));
    return (ctx) => {
      const a = left.value(ctx);
      const b = right.value(ctx);
      const result = compare(a, b);
      if (ctx.track) ctx.until(flipDay(operator, result, a, b, left.moving, right.moving, ctx.anchors.ACHV_DAT));
      return result;
    };
  }
}

type DateOperator = 'after' | 'onOrAfter' | 'before' | 'onOrBefore' | 'sameDay';

const COMPARE: Record<DateOperator, (a: number, b: number) => boolean> = {
  after: (a, b) => a > b,
  onOrAfter: (a, b) => a >= b,
  before: (a, b) => a < b,
  onOrBefore: (a, b) => a <= b,
  sameDay: (a, b) => a === b,
};

const MIRROR: Record<DateOperator, DateOperator> = {
  after: 'before',
  before: 'after',
  onOrAfter: 'onOrBefore',
  onOrBefore: 'onOrAfter',
  sameDay: 'sameDay',
};

/**
 * When a date comparison whose right side moves forward with the achievement date changes its result.
 * Null (NaN) sides never compare true, and only change when a field changes (tracked by the field itself).
 */
function flipDay(
  op: DateOperator,
  result: boolean,
  a: number,
  b: number,
  leftMoving: MovingDate | undefined,
  rightMoving: MovingDate | undefined,
  achv: number,
): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Infinity;
  if (leftMoving && rightMoving) return achv + 1;
  if (leftMoving) return flipDay(MIRROR[op], result, b, a, undefined, leftMoving, achv);
  const move = rightMoving!;
  // Right side r rises over time; left side a is fixed.
  switch (op) {
    case 'after': return result ? move.firstDayReaching(achv, a, false) : Infinity; // a > r until r ≥ a
    case 'onOrAfter': return result ? move.firstDayReaching(achv, a, true) : Infinity; // a ≥ r until r > a
    case 'before': return result ? Infinity : move.firstDayReaching(achv, a, true); // a < r once r > a
    case 'onOrBefore': return result ? Infinity : move.firstDayReaching(achv, a, false); // a ≤ r once r ≥ a
    case 'sameDay': return result ? move.firstDayReaching(achv, a, true) : b < a ? move.firstDayReaching(achv, a, false) : Infinity;
  }
}

/** The values of one date's reading for a `pairByDate` field (see `compileReading`). */
interface Reading {
  /** Clusters that supply components, besides the field's own. */
  pairClusters: number[];
  some(ctx: Context, day: number, component: string): boolean;
  /** The highest (or lowest) value of a component on one date that passes its tests (NaN when none). */
  best(ctx: Context, day: number, component: string, highest: boolean): number;
  ids(ctx: Context, day: number): string[];
}

/**
 * Over a series' records on one date, the first (`pick` 0), highest (1) or lowest (-1) value of a component passing
 * `check`, starting from `best` (NaN: none yet). With `orValue`, a record without the component gives its value.
 */
function bestOnDay(s: SeriesView, day: number, component: string, orValue: boolean, check: ((v: number) => boolean) | undefined, pick: number, best: number): number {
  for (let i = firstOnOrAfter(s.days, s.length, day); i < s.length && s.days[i] === day; i++) {
    let v = s.component(component, i);
    if (orValue && Number.isNaN(v)) v = s.component('value', i);
    if (Number.isNaN(v) || (check && !check(v))) continue;
    if (pick === 0) return v;
    if (Number.isNaN(best) || (pick > 0 ? v > best : v < best)) best = v;
  }
  return best;
}

/** Sorts the first `n` numbers of an array in place, ascending (an insertion sort: a patient's dates are few). */
function sortPrefix(a: Float64Array, n: number): void {
  for (let i = 1; i < n; i++) {
    const v = a[i]!;
    let j = i - 1;
    while (j >= 0 && a[j]! > v) {
      a[j + 1] = a[j]!;
      j--;
    }
    a[j + 1] = v;
  }
}

/** Position of the first day ≥ `day` among the first `length` of a sorted list (`length` when there is none). */
function firstOnOrAfter(days: ArrayLike<number>, length: number, day: number): number {
  let lo = 0;
  let hi = length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (days[mid]! < day) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function valueChecks(test: ValueTest): ((v: number) => boolean)[] {
  const checks: ((v: number) => boolean)[] = [];
  if (test.present) checks.push((v) => !Number.isNaN(v));
  if (test.equal !== undefined) { const t = test.equal; checks.push((v) => v === t); }
  if (test.lessThan !== undefined) { const t = test.lessThan; checks.push((v) => v < t); }
  if (test.lessThanInclusive !== undefined) { const t = test.lessThanInclusive; checks.push((v) => v <= t); }
  if (test.greaterThan !== undefined) { const t = test.greaterThan; checks.push((v) => v > t); }
  if (test.greaterThanInclusive !== undefined) { const t = test.greaterThanInclusive; checks.push((v) => v >= t); }
  return checks;
}

/** One component's value tests as one check (a missing value, NaN, fails every test but none). */
function valueCheck(test: ValueTest): (v: number) => boolean {
  const checks = valueChecks(test);
  return (v) => {
    for (const c of checks) if (!c(v)) return false;
    return true;
  };
}

function compileWhere(where: Record<string, ValueTest> | undefined): (s: SeriesView, i: number) => boolean {
  if (!where) return () => true;
  const tests = Object.entries(where).flatMap(([component, test]) =>
    valueChecks(test).map((check) => (s: SeriesView, i: number) => check(s.component(component, i))),
  );
  return (s, i) => {
    for (const t of tests) if (!t(s, i)) return false;
    return true;
  };
}
