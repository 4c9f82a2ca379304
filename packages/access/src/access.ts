import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { CaregapsError, formatDay, type IndicatorStatus, type OptOut } from '@caregaps/core';
import { sha256, type AuditEvent, type AuditSink } from './audit.js';
import { minimisedReport, type AuditReportEntry } from './audit-report.js';
import { visibleExplanation } from './explanations.js';
import { DEFAULT_CATEGORIES, categoryOf, type RecordCategory } from './categories.js';
import { toCsv } from './csv.js';
import { LEVELS, type OrganisationHierarchy, type OrganisationLevel } from './organisations.js';
import { AgreementRegistry, agreementPolicy, type AgreementTerms, type SharingAgreement } from './policies/agreements.js';
import { optOutPolicy } from './policies/opt-outs.js';
import { OptOutRegister, type OptOutEntry } from './opt-out-register.js';
import { withRegisteredOptOuts } from './registered-opt-outs.js';
import { rbacPolicy, type RbacData } from './policies/rbac.js';
import { relationshipPolicy, type CareTeam } from './policies/relationship.js';
import { PolicySet, type AccessPolicy, type PolicyContext } from './policy.js';
import type { OrganisationCounts, RegistryInfo, RegistryStatus, ResultsSource } from './source.js';
import { buildSummary, type SummaryTable } from './summary.js';
import { nhsDigitalSuppression, type SuppressionPolicy } from './suppression.js';
import type { AccessPatient, AccessRequest, Activity, Decision, Principal, Purpose } from './types.js';

/** How to build the access layer. Only `source` and `audit` are required. */
export interface AccessOptions {
  source: ResultsSource;
  /** Where every access attempt is recorded. If a write fails, the access is refused. */
  audit: AuditSink;
  /** The policies, in order. Default: `builtInPolicies(...)` from the options below. */
  policies?: readonly unknown[];
  /** Role → activity data (default: the bundled data/rbac.json). */
  rbac?: RbacData;
  careTeams?: readonly CareTeam[];
  agreements?: AgreementRegistry;
  /** Opt-outs recorded by data controllers, added to those the patient records carry (default: an empty register). */
  optOutRegister?: OptOutRegister;
  /** Whether secondary-use opt-outs remove patients from anonymised aggregates too (default true). */
  applyOptOutsToAggregates?: boolean;
  /** Disclosure control for every anonymised output (default: NHS Digital's method). */
  suppression?: SuppressionPolicy;
  /** cluster → record category for the patient view (default: DEFAULT_CATEGORIES). */
  categories?: Readonly<Record<string, RecordCategory>>;
  /** Longest a policy may take to answer before it counts as a denial (default 1000 ms). */
  policyTimeoutMs?: number;
  /** Longest the audit sink may take to store an event before the access is refused (default 5000 ms). */
  auditTimeoutMs?: number;
  /**
   * Shortest time a refusal of a request naming a patient takes (default 2 ms), so the refusal time does not tell a
   * forbidden patient from an NHS number that names no one. 0 turns the floor off (tests that count refusals).
   */
  refusalFloorMs?: number;
  /** The clock (default: now). The access day decides which agreements and registrations are in force. */
  now?: () => Date;
}

/** The built-in policies: RBAC, legitimate relationship, sharing agreements and opt-outs. */
export function builtInPolicies(options: {
  rbac?: RbacData;
  careTeams?: readonly CareTeam[];
  agreements: AgreementRegistry;
  applyOptOutsToAggregates?: boolean;
}): AccessPolicy[] {
  return [
    rbacPolicy(options.rbac),
    relationshipPolicy(options.careTeams),
    agreementPolicy(options.agreements),
    optOutPolicy(options.applyOptOutsToAggregates === undefined ? {} : { applyToAggregates: options.applyOptOutsToAggregates }),
  ];
}

/** Which patients a gap list or export holds: one registry, optionally one indicator and status (default `gap`). */
export interface GapQuery {
  registry: string;
  indicator?: string;
  status?: IndicatorStatus;
}

/** One row of an identifiable gap list. */
export interface GapListRow {
  nhsNumber: string;
  practice: string;
  registry: string;
  indicator: string;
  status: IndicatorStatus;
}

/** One entry of a patient's record view, with the organisation it came from. */
export interface RecordEntry {
  id: string;
  date: string;
  code: string;
  system: string;
  term: string | null;
  clusters: readonly string[];
  value?: number;
  unit?: string;
  values?: Record<string, number>;
  source: string;
  sourceName: string;
}

/** One patient's record as the viewer may see it, grouped like the London Care Record. */
export interface PatientRecordView {
  nhsNumber: string;
  practice: string;
  asOf: string;
  categories: Record<RecordCategory, RecordEntry[]>;
  /** Registry statuses with explanations, when the viewer may see the registered practice's statuses. */
  registries: RegistryStatus[] | null;
}

/** How often an access is decided again when permissions keep changing under it, before it is refused. */
const MAX_ROUNDS = 3;

/** The error every refused access throws: the same for a forbidden and a non-existent patient. */
function denied(decisionId: string): CaregapsError {
  return new CaregapsError('CG_ACCESS_DENIED', `Access denied (decision ${decisionId})`);
}

interface Attempt {
  activity: Activity;
  resource: string;
  nhsNumber?: string;
  organisation?: string;
}

interface Outcome<T> {
  result: T;
  patients?: string[];
  rowCount?: number;
}

/**
 * The access layer: every read goes through `as(principal, purpose)`, is decided by the policies (deny by
 * default) and writes exactly one audit event, allowed or denied, before anything is returned.
 */
export class AccessLayer {
  readonly agreements: AgreementRegistry;
  readonly optOuts: OptOutRegister;
  readonly policies: PolicySet;
  readonly suppression: SuppressionPolicy;
  private readonly categories: Readonly<Record<string, RecordCategory>>;
  private readonly now: () => Date;
  private readonly context: PolicyContext;
  private readonly tables = new Map<string, SummaryTable>();
  /** The source, with the register's opt-outs added to every patient it gives. */
  private readonly results: ResultsSource;

  constructor(private readonly options: AccessOptions) {
    this.agreements = options.agreements ?? new AgreementRegistry();
    this.optOuts = options.optOutRegister ?? new OptOutRegister();
    this.results = withRegisteredOptOuts(options.source, this.optOuts);
    const policies =
      options.policies ??
      builtInPolicies({
        agreements: this.agreements,
        ...(options.rbac ? { rbac: options.rbac } : {}),
        ...(options.careTeams ? { careTeams: options.careTeams } : {}),
        ...(options.applyOptOutsToAggregates === undefined ? {} : { applyOptOutsToAggregates: options.applyOptOutsToAggregates }),
      });
    this.policies = new PolicySet(policies, options.policyTimeoutMs);
    this.suppression = options.suppression ?? nhsDigitalSuppression();
    this.categories = options.categories ?? DEFAULT_CATEGORIES;
    this.now = options.now ?? (() => new Date());
    this.context = { source: this.results };
  }

  /**
   * The same access layer — audit log, policies, agreements, opt-out register, suppression — over another source of
   * results, e.g. the same records evaluated on an earlier achievement date (trends).
   */
  withSource(source: ResultsSource): AccessLayer {
    return new AccessLayer({ ...this.options, source, agreements: this.agreements, optOutRegister: this.optOuts, policies: this.policies.list, suppression: this.suppression });
  }

  /** A view for one principal and purpose. Nothing is decided until a method is called. */
  as(principal: Principal, purpose: Purpose): AccessView {
    return new AccessView(this, principal, purpose);
  }

  /**
   * Tells the access layer that these patients' records changed (registration, practice, opt-outs), so that its
   * indexes follow: call it after applying patient records to the engine it reads. Without an index, nothing to do.
   */
  noteChanged(nhsNumbers: Iterable<string>): void {
    this.results.index?.note(nhsNumbers);
  }

  /** @internal A published table kept for its inputs (see `AccessView.summary`), as a copy the caller may change. */
  publishedTable(key: string): SummaryTable | undefined {
    const table = this.tables.get(key);
    return table && structuredClone(table);
  }

  /** @internal Keeps a copy of a published table (the last 64). */
  keepTable(key: string, table: SummaryTable): void {
    if (this.tables.size >= 64) this.tables.delete(this.tables.keys().next().value!);
    this.tables.set(key, structuredClone(table));
  }

  /** @internal The request policies see. */
  request(principal: Principal, purpose: Purpose, attempt: Attempt, patient?: AccessPatient): AccessRequest {
    const request: AccessRequest = {
      principal,
      purpose,
      activity: attempt.activity,
      resource: attempt.resource,
      today: formatDay(Math.floor(this.now().getTime() / 86_400_000)),
    };
    if (attempt.nhsNumber !== undefined) request.nhsNumber = attempt.nhsNumber;
    if (patient) request.patient = patient;
    if (attempt.organisation !== undefined) request.organisation = attempt.organisation;
    return request;
  }

  /**
   * @internal Decides, runs, audits. The audit event is written before the result is returned; a failed write
   * refuses the access. A denial throws CG_ACCESS_DENIED naming only the decision id.
   */
  async attempt<T>(principal: Principal, purpose: Purpose, attempt: Attempt, run: (request: AccessRequest) => Promise<Outcome<T>>): Promise<T> {
    const id = randomUUID();
    const started = performance.now();
    let decision: Omit<Decision, 'id'>;
    let outcome: Outcome<T> | undefined;
    let failure: unknown;
    // Policies and item checks await; if sharing agreements or the patient's registration and opt-outs change
    // meanwhile, the answer may mix permissions from before and after: decide and run again on the new state.
    for (let round = 1; ; round++) {
      const before = this.stateOf(attempt);
      const patient = attempt.nhsNumber === undefined ? undefined : this.results.patient(attempt.nhsNumber);
      const request = this.request(principal, purpose, attempt, patient);
      const malformed = principalProblem(principal);
      decision = malformed ? { allowed: false, decidedBy: [{ policy: 'access-layer', rule: malformed }] } : await this.policies.decide(request, this.context);
      outcome = undefined;
      failure = undefined;
      if (decision.allowed) {
        try {
          outcome = await run(request);
        } catch (error) {
          failure = error;
          const rule = error instanceof CaregapsError ? error.code : 'internal-error';
          decision = { allowed: false, decidedBy: [{ policy: 'access-layer', rule }] };
        }
      }
      // Managing agreements or opt-outs changes them: it is a write, done once, never re-run.
      if (attempt.activity === 'manage-sharing-agreements' || attempt.activity === 'manage-opt-outs' || this.stateOf(attempt) === before) break;
      if (round === MAX_ROUNDS) {
        decision = { allowed: false, decidedBy: [{ policy: 'access-layer', rule: 'permissions-changed-during-access' }] };
        outcome = undefined;
        failure = undefined;
        break;
      }
    }
    const event: AuditEvent = {
      id,
      time: this.now().toISOString(),
      user: String(principal?.user ?? ''),
      roles: Array.isArray(principal?.roles) ? principal.roles.map(String) : [],
      organisation: String(principal?.organisation ?? ''),
      purpose: String(purpose),
      activity: attempt.activity,
      resource: attempt.resource,
      decision: decision.allowed ? 'allow' : 'deny',
      policy: decision.decidedBy.map((d) => d.policy).join('+'),
      rule: decision.decidedBy.map((d) => d.rule).join('+'),
    };
    if (attempt.nhsNumber !== undefined) event.patient = attempt.nhsNumber;
    if (attempt.organisation !== undefined) event.subjectOrganisation = attempt.organisation;
    if (outcome?.patients) {
      event.patients = outcome.patients;
      event.listHash = sha256(outcome.patients.join('\n'));
    }
    if (outcome?.rowCount !== undefined) event.rowCount = outcome.rowCount;
    try {
      await this.store(event);
    } catch (error) {
      throw new CaregapsError('CG_AUDIT_WRITE', `The access was refused because its audit event could not be written (decision ${id}): ${(error as Error)?.message ?? String(error)}`);
    }
    // A refusal raised while running (e.g. not a party) reads exactly like any other denial.
    if (failure !== undefined && !(failure instanceof CaregapsError && failure.code === 'CG_ACCESS_DENIED')) throw failure;
    if (!decision.allowed || !outcome) {
      const floor = attempt.nhsNumber === undefined ? 0 : (this.options.refusalFloorMs ?? 2) - (performance.now() - started);
      if (floor > 0) await sleep(Math.ceil(floor));
      throw denied(id);
    }
    return outcome.result;
  }

  /** What an access's answer depends on besides the records: agreements, and the patient's registration and opt-outs. */
  private stateOf(attempt: Attempt): string {
    const patient = attempt.nhsNumber === undefined ? undefined : this.results.patient(attempt.nhsNumber);
    return `${this.agreements.revision}|${this.optOuts.revision}|${patient ? JSON.stringify(patient) : ''}`;
  }

  /** Appends to the audit sink, giving up (and telling the sink, which must then not write) after auditTimeoutMs. */
  private async store(event: AuditEvent): Promise<void> {
    const timeoutMs = this.options.auditTimeoutMs ?? 5000;
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new Error(`the audit sink did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
    });
    try {
      await Promise.race([Promise.resolve().then(() => this.options.audit.append(event, { signal: controller.signal })), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** @internal Row-level decision for a patient within an allowed list or aggregate (not audited on its own). */
  async allowsPatient(principal: Principal, purpose: Purpose, attempt: Attempt, patient: AccessPatient): Promise<boolean> {
    const request = this.request(principal, purpose, { ...attempt, nhsNumber: patient.nhsNumber }, patient);
    return (await this.policies.decide(request, this.context)).allowed;
  }

  /** @internal The source as policies see it: with the register's opt-outs. */
  get source(): ResultsSource {
    return this.results;
  }

  /** @internal The access day (YYYY-MM-DD) and time now. */
  get clock(): Date {
    return this.now();
  }

  /** @internal */
  get auditSink(): AuditSink {
    return this.options.audit;
  }

  /** @internal */
  get policyContext(): PolicyContext {
    return this.context;
  }

  /** @internal */
  categoryOf(clusters: readonly string[]): RecordCategory {
    return categoryOf(clusters, this.categories);
  }
}

function principalProblem(principal: Principal): string | undefined {
  if (typeof principal !== 'object' || principal === null) return 'malformed-principal';
  if (typeof principal.user !== 'string' || principal.user === '') return 'malformed-principal';
  if (typeof principal.organisation !== 'string' || principal.organisation === '') return 'malformed-principal';
  if (!Array.isArray(principal.roles)) return 'malformed-principal';
  return undefined;
}

/** Practice counts summed to the organisations of a level (one pass over the patients for every level). */
function rollUp(byPractice: readonly OrganisationCounts[], organisations: OrganisationHierarchy, level: OrganisationLevel): OrganisationCounts[] {
  if (level === 'practice') return [...byPractice];
  const table = new Map<string, OrganisationCounts>();
  for (const row of byPractice) {
    const organisation = organisations.ancestor(row.organisation, level);
    const key = `${organisation}\u0000${row.registry}`;
    let sum = table.get(key);
    if (!sum) {
      sum = { organisation, registry: row.registry, registered: 0, onRegister: 0, indicators: {} };
      for (const id of Object.keys(row.indicators)) sum.indicators[id] = { met: 0, gap: 0, excepted: 0, 'not-applicable': 0 };
      table.set(key, sum);
    }
    sum.registered += row.registered;
    sum.onRegister += row.onRegister;
    for (const [id, counts] of Object.entries(row.indicators)) {
      for (const status of ['met', 'gap', 'excepted', 'not-applicable'] as const) sum.indicators[id]![status] += counts[status];
    }
  }
  return [...table.values()];
}

const RECORD_CATEGORIES: readonly RecordCategory[] = ['problems', 'medications', 'results', 'procedures', 'immunisations', 'allergies', 'encounters', 'other'];

/** What one principal may read for one purpose. Every method is one audited access attempt. */
export class AccessView {
  constructor(
    private readonly layer: AccessLayer,
    readonly principal: Principal,
    readonly purpose: Purpose,
  ) {}

  /**
   * Anonymised counts and rates by organisation at one level, per registry, indicator and status, with
   * disclosure control applied. Patients a policy refuses (for secondary use: opted-out patients) are not counted.
   */
  summary(query: { level: OrganisationLevel; registry?: string }): Promise<SummaryTable> {
    const source = this.layer.source;
    const attempt: Attempt = { activity: 'view-aggregate', resource: `summary:${query.level}${query.registry ? ':' + query.registry : ''}` };
    return this.layer.attempt(this.principal, this.purpose, attempt, async () => {
      if (!LEVELS.includes(query.level)) throw new CaregapsError('CG_USAGE', `The level must be one of ${LEVELS.join(', ')}`);
      const registries = source.registries().filter((r) => query.registry === undefined || r.id === query.registry);
      if (query.registry !== undefined && registries.length === 0) throw new CaregapsError('CG_USAGE', `No registry named ${query.registry}`);
      const admitted = await this.admitted(attempt, query.registry);
      // Equal inputs publish equal tables: one is kept per level, registry, purpose and the index's state (its
      // revision and the groups refused), so dashboards read again before anything changed cost no recount.
      const key = admitted.version === undefined ? undefined : JSON.stringify([admitted.version, source.asOf, query.level, query.registry ?? null, this.purpose]);
      const kept = key === undefined ? undefined : this.layer.publishedTable(key);
      if (kept) return { result: kept, rowCount: kept.rows.length };
      const { byPractice, practices, excluded } = admitted.counts();
      const organisations = source.organisations;
      const countsByLevel = new Map<OrganisationLevel, OrganisationCounts[]>(LEVELS.map((level) => [level, rollUp(byPractice, organisations, level)]));
      const rows = buildSummary(countsByLevel, registries, organisations, practices, this.layer.suppression, query.level);
      const table: SummaryTable = {
        asOf: source.asOf,
        level: query.level,
        purpose: this.purpose,
        suppression: `${this.layer.suppression.meta.name}@${this.layer.suppression.meta.version}`,
        rows,
        excludedPatients: this.layer.suppression.publish({ cells: new Map([['excluded', excluded]]), groups: [] }).get('excluded')!,
        unmappedPractices: [...practices].filter((p) => !organisations.knows(p)).sort(),
      };
      if (key !== undefined) this.layer.keepTable(key, table);
      return { result: table, rowCount: rows.length };
    });
  }

  /**
   * Practice counts over the patients the policies let into an aggregate, the practices of those patients, and how
   * many were left out. When every policy decides rows by opt-outs alone and the source keeps a population index,
   * one member of each opt-out group is decided and the counts come from the index; otherwise every patient is.
   */
  private async admitted(attempt: Attempt, registry: string | undefined): Promise<{ version?: string; counts: () => { byPractice: OrganisationCounts[]; practices: Set<string>; excluded: number } }> {
    const source = this.layer.source;
    const index = source.index;
    if (index && this.layer.policies.aggregatesByOptOuts) {
      const refused = new Set<string>();
      for (const group of index.optOutGroups()) {
        if (!(await this.layer.allowsPatient(this.principal, this.purpose, attempt, group.member))) refused.add(group.key);
      }
      // Read after the last await, with the counts: the version names exactly the state they are taken from.
      const version = `${index.revision}|${[...refused].sort().join(';')}`;
      return {
        version,
        counts: () => {
          const { counts, practices, excluded } = index.countsWithout(refused, registry);
          return { byPractice: counts, practices, excluded };
        },
      };
    }
    const excluded = new Set<string>();
    const practices = new Set<string>();
    for (const patient of source.patients()) {
      if (!(await this.layer.allowsPatient(this.principal, this.purpose, attempt, patient))) excluded.add(patient.nhsNumber);
      else practices.add(patient.practice);
    }
    const include = (p: AccessPatient) => !excluded.has(p.nhsNumber);
    const byPractice = source.counts({ level: 'practice', include, ...(registry ? { registry } : {}) });
    return { counts: () => ({ byPractice, practices, excluded: excluded.size }) };
  }

  /**
   * The patients a list may hold, each with the indicators it matches. With a population index and a policy that
   * limits the list to a scope (a practice, care teams), only the scope is read, and `outside` says whether a
   * matching patient outside it exists (so was refused); otherwise every patient is read.
   */
  private candidates(registry: RegistryInfo, wanted: IndicatorStatus, indicator: string | undefined, attempt: Attempt): { rows: Iterable<[AccessPatient, [string, IndicatorStatus][]]>; outside: boolean } {
    const source = this.layer.source;
    const index = source.index;
    const matching = (status: RegistryStatus | undefined): [string, IndicatorStatus][] => {
      if (!status?.onRegister) return [];
      return Object.entries(status.indicators).filter(([id, s]) => s === wanted && (indicator === undefined || id === indicator));
    };
    const scope = index ? this.layer.policies.listScope(this.layer.request(this.principal, this.purpose, attempt)) : undefined;
    if (!index || !scope) {
      const all = function* (): Generator<[AccessPatient, [string, IndicatorStatus][]]> {
        for (const patient of source.patients()) {
          const matches = matching(source.statuses(patient.nhsNumber).find((s) => s.registry === registry.id));
          if (matches.length) yield [patient, matches];
        }
      };
      return { rows: all(), outside: false };
    }
    // Read at one instant, before any decision awaits: the population's totals and the scope's own statuses.
    const totals = index.totals(registry.id);
    const inScope = new Set<string>(scope.patients);
    for (const practice of scope.practices) for (const nhs of index.atPractice(practice)) inScope.add(nhs);
    const rows: [AccessPatient, [string, IndicatorStatus][]][] = [];
    const counted = new Map<string, number>();
    for (const nhs of inScope) {
      const matches = matching(index.status(nhs, registry.id));
      const patient = matches.length === 0 ? undefined : source.patient(nhs);
      if (!patient) continue;
      rows.push([patient, matches]);
      for (const [id] of matches) counted.set(id, (counted.get(id) ?? 0) + 1);
    }
    const outside = registry.indicators.some((id) => (indicator === undefined || id === indicator) && (totals[id]?.[wanted] ?? 0) > (counted.get(id) ?? 0));
    return { rows, outside };
  }

  private async gapRows(query: GapQuery, attempt: Attempt): Promise<GapListRow[]> {
    const source = this.layer.source;
    const registry = source.registries().find((r) => r.id === query.registry);
    if (!registry) throw new CaregapsError('CG_USAGE', `No registry named ${query.registry}`);
    if (query.indicator !== undefined && !registry.indicators.includes(query.indicator)) {
      throw new CaregapsError('CG_USAGE', `Registry ${query.registry} has no indicator ${query.indicator}`);
    }
    const wanted = query.status ?? 'gap';
    const rows: GapListRow[] = [];
    let refused = 0;
    const candidates = this.candidates(registry, wanted, query.indicator, attempt);
    for (const [patient, matches] of candidates.rows) {
      if (!(await this.layer.allowsPatient(this.principal, this.purpose, attempt, patient))) {
        refused++;
        continue;
      }
      for (const [indicator, s] of matches) rows.push({ nhsNumber: patient.nhsNumber, practice: patient.practice, registry: registry.id, indicator, status: s });
    }
    // An empty list must mean "no one", never "no one you may see": when policy refused every patient on it, deny.
    if (rows.length === 0 && (refused > 0 || candidates.outside)) {
      throw new CaregapsError('CG_ACCESS_DENIED', 'No patient on this list may be shown to you: each was refused by policy (care relationship, sharing agreement or opt-out). Use summary() for anonymised counts.');
    }
    rows.sort((a, b) => (a.practice < b.practice ? -1 : a.practice > b.practice ? 1 : a.nhsNumber < b.nhsNumber ? -1 : a.nhsNumber > b.nhsNumber ? 1 : a.indicator < b.indicator ? -1 : 1));
    return rows;
  }

  /** An identifiable gap list for drill-down: only patients this principal may see for this purpose. */
  patients(query: GapQuery): Promise<GapListRow[]> {
    const attempt: Attempt = { activity: 'view-patient-list', resource: `gap-list:${query.registry}/${query.indicator ?? '*'}/${query.status ?? 'gap'}` };
    return this.layer.attempt(this.principal, this.purpose, attempt, async () => {
      const rows = await this.gapRows(query, attempt);
      return { result: rows, patients: [...new Set(rows.map((r) => r.nhsNumber))], rowCount: rows.length };
    });
  }

  /** The gap list as CSV for a practice to act on, through the same checks, with formula injection neutralised. */
  exportGapList(query: GapQuery): Promise<{ csv: string; rowCount: number }> {
    const attempt: Attempt = { activity: 'export-patient-list', resource: `gap-list-csv:${query.registry}/${query.indicator ?? '*'}/${query.status ?? 'gap'}` };
    return this.layer.attempt(this.principal, this.purpose, attempt, async () => {
      const rows = await this.gapRows(query, attempt);
      const names = this.layer.source.organisations;
      const csv = toCsv(
        ['nhs_number', 'practice', 'practice_name', 'registry', 'indicator', 'status'],
        rows.map((r) => [r.nhsNumber, r.practice, names.name(r.practice), r.registry, r.indicator, r.status]),
      );
      return { result: { csv, rowCount: rows.length }, patients: [...new Set(rows.map((r) => r.nhsNumber))], rowCount: rows.length };
    });
  }

  /**
   * One patient's record: entries grouped by category, each with its source organisation, filtered item by item
   * (sharing agreements, shared-record opt-out), and registry statuses with explanations. A patient that does not
   * exist is refused exactly as a forbidden one.
   */
  patient(nhsNumber: string): Promise<PatientRecordView> {
    const attempt: Attempt = { activity: 'view-patient-record', resource: 'patient-record', nhsNumber: String(nhsNumber) };
    return this.layer.attempt(this.principal, this.purpose, attempt, async (request) => {
      const source = this.layer.source;
      const patient = request.patient;
      if (!patient) throw new CaregapsError('CG_ACCESS_DENIED', 'no such patient');
      const categories = Object.fromEntries(RECORD_CATEGORIES.map((c) => [c, [] as RecordEntry[]])) as Record<RecordCategory, RecordEntry[]>;
      const organisations = source.organisations;
      // One consistent snapshot of the record and its statuses, taken before any await: a write during the item
      // checks below cannot pair new results with old statuses (a torn read).
      const events = source.events(patient.nhsNumber);
      const statuses = source.statuses(patient.nhsNumber, { explain: true });
      let shown = 0;
      const hidden = new Set<string>();
      for (const event of events) {
        const clusters = source.clustersOf(event.code);
        const category = this.layer.categoryOf(clusters);
        // A record without a source is taken to come from the registered practice (GP extracts carry none).
        const from = event.source ?? patient.practice;
        if (!(await this.layer.policies.visible(request, { source: from, category }, this.layer.policyContext))) {
          hidden.add(event.id);
          continue;
        }
        const entry: RecordEntry = {
          id: event.id,
          date: event.date,
          code: event.code,
          system: event.system ?? 'snomed',
          term: source.termOf(event.code) ?? null,
          clusters,
          source: from,
          sourceName: organisations.name(from),
        };
        if (event.value !== undefined) entry.value = event.value;
        if (event.unit !== undefined) entry.unit = event.unit;
        if (event.values !== undefined) entry.values = { ...event.values };
        categories[category].push(entry);
        shown++;
      }
      const statusesVisible = await this.layer.policies.visible(request, { source: patient.practice, category: 'registry-statuses' }, this.layer.policyContext);
      // Explanations pass the same filter as the records: no fact built from a hidden record is shown.
      const registries = statusesVisible
        ? statuses.map((s) => (s.explanation ? { ...s, explanation: visibleExplanation(s.explanation, hidden) } : s))
        : null;
      const view: PatientRecordView = { nhsNumber: patient.nhsNumber, practice: patient.practice, asOf: source.asOf, categories, registries };
      return { result: view, rowCount: shown + (registries?.length ?? 0) };
    });
  }

  /**
   * Who accessed what, minimised (DESIGN §5): for a patient, the accesses to their record (their access report,
   * for the registered practice to give); for a data controller, the accesses its users made and the accesses to
   * its registered patients. Each entry names only the patients the report is about: other patients' NHS numbers
   * (in lists and single accesses by the controller's users) are removed, and the activity on them is not shown.
   */
  auditReport(subject: { patient: string } | { organisation: string }): Promise<AuditReportEntry[]> {
    const attempt: Attempt =
      'patient' in subject
        ? { activity: 'view-audit-report', resource: 'audit-report:patient', nhsNumber: String(subject.patient) }
        : { activity: 'view-audit-report', resource: 'audit-report:organisation', organisation: String(subject.organisation) };
    return this.layer.attempt(this.principal, this.purpose, attempt, async () => {
      const entries = await this.layer.auditSink.entries();
      const source = this.layer.source;
      const subjectOf =
        'patient' in subject
          ? { patient: String(subject.patient) }
          : { organisation: String(subject.organisation), registeredAt: (nhs: string) => source.patient(nhs)?.practice };
      const result = minimisedReport(entries, subjectOf);
      return { result, rowCount: result.length };
    });
  }

  /** Sharing agreements, managed through the same checks: the principal's organisation must be a party. */
  get agreements(): AgreementActions {
    return new AgreementActions(this.layer, this.principal, this.purpose);
  }

  /** The opt-out register, managed through the same checks: the patient must be registered at the principal's organisation. */
  get optOuts(): OptOutActions {
    return new OptOutActions(this.layer, this.principal, this.purpose);
  }
}

/**
 * Record, remove and list opt-outs in the register (activity `manage-opt-outs`). Each call is one audited attempt;
 * a change names the patient, so it needs a legitimate relationship (registered at the principal's organisation).
 * The change holds for every later decision at once.
 */
export class OptOutActions {
  constructor(
    private readonly layer: AccessLayer,
    private readonly principal: Principal,
    private readonly purpose: Purpose,
  ) {}

  /** Records an opt-out; `date` (YYYY-MM-DD) is the day the resident opted out (default: today). */
  add(change: { nhsNumber: string; type: OptOut; date?: string }): Promise<OptOutEntry> {
    const attempt: Attempt = { activity: 'manage-opt-outs', resource: `opt-out:${String(change.type)}:add`, nhsNumber: String(change.nhsNumber) };
    return this.layer.attempt(this.principal, this.purpose, attempt, async (request) => {
      const entry = this.layer.optOuts.add({ nhsNumber: change.nhsNumber, type: change.type, date: change.date ?? request.today }, this.principal, this.layer.clock);
      return { result: entry, patients: [entry.nhsNumber], rowCount: 1 };
    });
  }

  /** Removes the patient's opt-out of this type (its entry is kept, marked removed). */
  remove(change: { nhsNumber: string; type: OptOut }): Promise<OptOutEntry> {
    const attempt: Attempt = { activity: 'manage-opt-outs', resource: `opt-out:${String(change.type)}:remove`, nhsNumber: String(change.nhsNumber) };
    return this.layer.attempt(this.principal, this.purpose, attempt, async () => {
      const entry = this.layer.optOuts.remove(change, this.principal, this.layer.clock);
      return { result: entry, patients: [entry.nhsNumber], rowCount: 1 };
    });
  }

  /**
   * The register's entries about the data controller's own patients (registered at the principal's organisation
   * now), removed ones included, oldest first.
   */
  list(): Promise<OptOutEntry[]> {
    const organisation = this.principal.organisation;
    const attempt: Attempt = { activity: 'manage-opt-outs', resource: 'opt-out-register', organisation: String(organisation) };
    return this.layer.attempt(this.principal, this.purpose, attempt, async () => {
      const entries = this.layer.optOuts.entries((e) => this.layer.source.patient(e.nhsNumber)?.practice === organisation);
      return { result: entries, patients: [...new Set(entries.map((e) => e.nhsNumber))], rowCount: entries.length };
    });
  }
}

/** Create, sign, amend and withdraw sharing agreements; each call is an audited attempt. */
export class AgreementActions {
  constructor(
    private readonly layer: AccessLayer,
    private readonly principal: Principal,
    private readonly purpose: Purpose,
  ) {}

  /** One audited change; a refusal by the agreement's lifecycle reads like any other denial. */
  private act(id: string, action: 'sign' | 'amend' | 'withdraw', change: (party: string) => SharingAgreement): Promise<SharingAgreement> {
    const attempt: Attempt = { activity: 'manage-sharing-agreements', resource: `agreement:${id}` };
    return this.layer.attempt(this.principal, this.purpose, attempt, async () => {
      // An organisation named in no version learns nothing about the agreement; a party is told what the lifecycle allows.
      if (!this.layer.agreements.involves(id, this.principal.organisation)) throw new CaregapsError('CG_ACCESS_DENIED', `Only a party may ${action} an agreement`);
      return { result: change(this.principal.organisation) };
    });
  }

  create(terms: AgreementTerms): Promise<SharingAgreement> {
    const attempt: Attempt = { activity: 'manage-sharing-agreements', resource: 'agreement:new' };
    return this.layer.attempt(this.principal, this.purpose, attempt, async () => {
      if (!(terms.parties ?? []).includes(this.principal.organisation)) throw new CaregapsError('CG_ACCESS_DENIED', 'Only a party to an agreement may create it');
      return { result: this.layer.agreements.create(terms) };
    });
  }

  /** Signs the latest draft on behalf of the principal's organisation. */
  sign(id: string): Promise<SharingAgreement> {
    return this.act(id, 'sign', (party) => this.layer.agreements.sign(id, party, this.principal.user));
  }

  /** Drafts a new version; only a party to the version in force may. */
  amend(id: string, changes: Partial<AgreementTerms>): Promise<SharingAgreement> {
    return this.act(id, 'amend', (party) => this.layer.agreements.amend(id, changes, party));
  }

  /** Withdraws the agreement; only a signatory of the version in force may. */
  withdraw(id: string): Promise<SharingAgreement> {
    return this.act(id, 'withdraw', (party) => this.layer.agreements.withdraw(id, party));
  }
}

/** Builds the access layer. */
export function createAccess(options: AccessOptions): AccessLayer {
  return new AccessLayer(options);
}
