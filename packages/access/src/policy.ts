import { CaregapsError } from '@caregaps/core';
import type { ResultsSource } from './source.js';
import type { AccessRequest, DataCategory, Decision, Verdict } from './types.js';

/** What a policy plugin declares about itself, apart from its behaviour (checked at registration). */
export interface PolicyMeta {
  /** Unique name, e.g. `rbac`. Recorded in every audit event the policy decides. */
  name: string;
  /** The policy's own version (semver), recorded with its decisions. */
  version: string;
  /** One sentence: what the policy decides. */
  decides: string;
  /** The version of the data the policy decides from (e.g. the RBAC role data), recorded with its decisions. */
  dataVersion?: string;
  /**
   * `'by-opt-outs'` promises that, within one anonymised aggregate, the policy decides each patient's row from the
   * patient's opt-outs alone (two patients holding the same opt-outs are decided alike). When every policy promises
   * it, the access layer decides one member of each opt-out group and counts from maintained aggregates instead of
   * deciding every patient.
   */
  aggregates?: 'by-opt-outs';
}

/** The only patients a policy could allow on an identifiable list: every other patient it denies. */
export interface ListScope {
  /** Patients whose latest record names one of these practices. */
  practices: readonly string[];
  /** And these NHS numbers. */
  patients: readonly string[];
}

/** One item of a patient's record, as the item-level check sees it. */
export interface RecordItem {
  /** The organisation that sent the record (for registry statuses: the registered practice). */
  source: string;
  category: DataCategory;
}

/** What a policy may consult besides the request. */
export interface PolicyContext {
  source: ResultsSource;
}

/**
 * A policy plugin. `decide` answers whether a request may go ahead; `visible` (optional) answers whether one item
 * of a patient's record may be shown within an allowed request. Either may return a promise. A thrown error, a
 * timeout or an answer that is not a well-formed verdict counts as a denial.
 */
export interface AccessPolicy {
  readonly meta: PolicyMeta;
  decide(request: AccessRequest, context: PolicyContext): Verdict | Promise<Verdict>;
  visible?(request: AccessRequest, item: RecordItem, context: PolicyContext): Verdict | Promise<Verdict>;
  /**
   * For an identifiable list (gap list, export) as a whole: the patients outside which this policy denies every
   * row, or `undefined` for no limit. The access layer then decides only those patients (the rest are refused).
   */
  listScope?(request: AccessRequest): ListScope | undefined;
}

const SEMVER = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/;
const NAME = /^[a-z][a-z0-9-]*$/;

/** Checks a plugin's shape and meta; throws CG_ACCESS_POLICY naming what is wrong. */
export function checkPolicy(policy: unknown, taken: ReadonlySet<string>): AccessPolicy {
  const fail = (why: string): never => {
    throw new CaregapsError('CG_ACCESS_POLICY', `Policy plugin refused: ${why}`);
  };
  if (typeof policy !== 'object' || policy === null) return fail('it is not an object');
  const p = policy as Partial<AccessPolicy>;
  const meta = p.meta as Partial<PolicyMeta> | undefined;
  if (typeof meta !== 'object' || meta === null) return fail('it has no meta');
  if (typeof meta.name !== 'string' || !NAME.test(meta.name)) return fail('meta.name must be lower-case letters, digits and hyphens');
  if (taken.has(meta.name)) return fail(`a policy named ${meta.name} is already registered`);
  if (typeof meta.version !== 'string' || !SEMVER.test(meta.version)) return fail(`meta.version of ${meta.name} is not a semver version`);
  if (typeof meta.decides !== 'string' || meta.decides.trim() === '') return fail(`meta.decides of ${meta.name} must say what it decides`);
  if (typeof p.decide !== 'function') return fail(`${meta.name} has no decide function`);
  if (meta.dataVersion !== undefined && (typeof meta.dataVersion !== 'string' || meta.dataVersion === '')) return fail(`meta.dataVersion of ${meta.name} must be a non-empty string`);
  if (p.visible !== undefined && typeof p.visible !== 'function') return fail(`${meta.name}.visible is not a function`);
  if (p.listScope !== undefined && typeof p.listScope !== 'function') return fail(`${meta.name}.listScope is not a function`);
  if (meta.aggregates !== undefined && meta.aggregates !== 'by-opt-outs') return fail(`meta.aggregates of ${meta.name} must be 'by-opt-outs' or absent`);
  return p as AccessPolicy;
}

const DENY_TIMEOUT: Verdict = { decision: 'deny', rule: 'policy-timeout' };
const DENY_ERROR: Verdict = { decision: 'deny', rule: 'policy-error' };
const DENY_MALFORMED: Verdict = { decision: 'deny', rule: 'malformed-answer' };

function wellFormed(answer: unknown): Verdict {
  const v = answer as Partial<Verdict> | null | undefined;
  if (typeof v !== 'object' || v === null) return DENY_MALFORMED;
  if (v.decision !== 'allow' && v.decision !== 'deny' && v.decision !== 'not-applicable') return DENY_MALFORMED;
  if (typeof v.rule !== 'string' || v.rule === '') return DENY_MALFORMED;
  return { decision: v.decision, rule: v.rule };
}

/** Runs one policy call, turning a throw, a rejection, a timeout or a malformed answer into a denial. */
async function guarded(call: () => Verdict | Promise<Verdict>, timeoutMs: number): Promise<Verdict> {
  let answer: Verdict | Promise<Verdict>;
  try {
    answer = call();
  } catch {
    return DENY_ERROR;
  }
  if (!(answer instanceof Promise)) return wellFormed(answer);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Verdict>((resolve) => {
    timer = setTimeout(() => resolve(DENY_TIMEOUT), timeoutMs);
  });
  try {
    return wellFormed(await Promise.race([answer, timeout]));
  } catch {
    return DENY_ERROR;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Policies composed deny-by-default: a request is allowed only when no policy denies (or fails) and at least one
 * allows. An item is visible only when no policy with a `visible` check hides it.
 */
export class PolicySet {
  private readonly policies: AccessPolicy[] = [];
  private readonly names = new Set<string>();

  constructor(
    policies: readonly unknown[],
    private readonly timeoutMs = 1000,
  ) {
    for (const policy of policies) this.register(policy);
  }

  /** The registered policies, in order. */
  get list(): readonly AccessPolicy[] {
    return [...this.policies];
  }

  register(policy: unknown): void {
    const checked = checkPolicy(policy, this.names);
    this.names.add(checked.meta.name);
    this.policies.push(checked);
  }

  /** The registered policies' meta, in evaluation order. */
  get meta(): PolicyMeta[] {
    return this.policies.map((p) => ({ ...p.meta }));
  }

  /** Whether every policy decides an aggregate's rows from the patients' opt-outs alone (see `PolicyMeta.aggregates`). */
  get aggregatesByOptOuts(): boolean {
    return this.policies.length > 0 && this.policies.every((p) => p.meta.aggregates === 'by-opt-outs');
  }

  /**
   * The first scope a policy gives an identifiable list (any one will do: that policy denies everyone outside it), or
   * `undefined` when none limits it. A scope that throws or is malformed limits nothing.
   */
  listScope(request: AccessRequest): ListScope | undefined {
    for (const policy of this.policies) {
      let scope: ListScope | undefined;
      try {
        scope = policy.listScope?.(request);
      } catch {
        continue;
      }
      if (scope && Array.isArray(scope.practices) && Array.isArray(scope.patients)) return scope;
    }
    return undefined;
  }

  async decide(request: AccessRequest, context: PolicyContext): Promise<Omit<Decision, 'id'>> {
    const allowedBy: Decision['decidedBy'] = [];
    for (const policy of this.policies) {
      const verdict = await guarded(() => policy.decide(request, context), this.timeoutMs);
      const by = { policy: `${policy.meta.name}@${policy.meta.version}${policy.meta.dataVersion ? `[${policy.meta.dataVersion}]` : ''}`, rule: verdict.rule };
      if (verdict.decision === 'deny') return { allowed: false, decidedBy: [by] };
      if (verdict.decision === 'allow') allowedBy.push(by);
    }
    if (allowedBy.length === 0) return { allowed: false, decidedBy: [{ policy: 'default', rule: 'no-policy-allowed' }] };
    return { allowed: true, decidedBy: allowedBy };
  }

  async visible(request: AccessRequest, item: RecordItem, context: PolicyContext): Promise<boolean> {
    for (const policy of this.policies) {
      const check = policy.visible;
      if (!check) continue;
      const verdict = await guarded(() => check.call(policy, request, item, context), this.timeoutMs);
      if (verdict.decision === 'deny') return false;
    }
    return true;
  }
}
