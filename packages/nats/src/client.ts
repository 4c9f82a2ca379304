import { CaregapsError, type CompiledRegistry, type IndicatorStatus, type OrganisationRecord } from '@caregaps/core';
import {
  Aggregates,
  CounterLayout,
  partitionOf,
  type Change,
  type OrganisationNode,
  type PartitionQuery,
  type PatientStatus,
  type PopulationQuery,
  type RegistryCounts,
} from '@caregaps/engine';
import { Subject, type Observable } from 'rxjs';
import type { Subscription } from '@nats-io/transport-node';
import { Cluster, type ClusterOptions } from './cluster.js';
import { TOKEN_HEADER } from './owned-partition.js';
import { layoutOf, type PartitionState, type QueryAnswer, type QueryRequest } from './protocol.js';
import type { WorkerInfo } from './worker.js';

export interface ClusterClientOptions extends ClusterOptions {
  /**
   * The registries the workers run, needed for `counts`, `patients` and `organisations` (counts are laid out by
   * them; a mismatch is refused with `CG_CLUSTER_CONFIG`). `patient`, `status` and `changes$` work without.
   */
  compiled?: readonly CompiledRegistry[];
  /** How long to wait for a partition's owner to answer (default 5 s). */
  queryTimeoutMs?: number;
}

/** One partition as `status` sees it. */
export interface PartitionStatus {
  partition: number;
  /** The worker holding its lease (absent: nobody, e.g. its owner died and the lease has not expired yet). */
  owner?: string;
  /** The owner's fencing token (once it has written the partition's state). */
  token?: number;
  /** The last stream sequence the owner has committed (0: nothing yet). */
  applied: number;
  /** The stream sequence of the partition's newest record (0: none yet); the partition is caught up when `applied` reaches it. */
  last: number;
  /** Messages of the partition not yet delivered to or not yet acknowledged by its owner (absent when unowned). */
  lag?: number;
  patients: number;
}

export interface ClusterStatus {
  cluster: string;
  partitions: number;
  asOf: string;
  workers: WorkerInfo[];
  partitionStatus: PartitionStatus[];
  /** Records held in the stream. */
  records: number;
  /** Sum of `lag` over owned partitions. */
  lag: number;
  /** Partitions no worker owns right now. */
  unowned: number;
  /** Every partition is owned and has committed every record the stream holds for it. */
  caughtUp: boolean;
}

const STATUS_CODE: Record<IndicatorStatus, number> = { met: 1, gap: 2, excepted: 3, 'not-applicable': 4 };

/**
 * A host's view of a cluster, with the in-process engine's query surface: a patient's statuses (asked of the
 * partition's owner, request/reply), population lists (asked of every partition), counts by organisation (each
 * partition's counts by practice, from the partitions bucket, summed on read and rolled up the organisation
 * hierarchy), `changes$` (every partition's changes, a stale owner's dropped by fencing token), and `status`.
 */
export class ClusterClient {
  /** Changes of register membership and indicator status, from every partition, as workers publish them. */
  readonly changes$: Observable<Change>;
  private readonly changes = new Subject<Change>();
  private readonly subscription: Subscription;
  private readonly tokens = new Map<number, number>();

  private constructor(
    private readonly cluster: Cluster,
    private readonly options: ClusterClientOptions,
  ) {
    this.changes$ = this.changes.asObservable();
    this.subscription = cluster.nc.subscribe(cluster.names.allChanges, {
      callback: (error, msg) => {
        if (error) return;
        const partition = Number(msg.subject.slice(msg.subject.lastIndexOf('.') + 1));
        const token = Number(msg.headers?.get(TOKEN_HEADER) ?? 0);
        // A change from an owner older than one already heard from is a stale owner's: dropped.
        if (token < (this.tokens.get(partition) ?? 0)) return;
        this.tokens.set(partition, token);
        for (const change of msg.json<Change[]>()) this.changes.next(change);
      },
    });
  }

  static async connect(options: ClusterClientOptions): Promise<ClusterClient> {
    return new ClusterClient(await Cluster.connect(options), options);
  }

  /** A patient's registration and statuses in every registry, from the owner of their partition. */
  async patient(nhsNumber: string, options: { explain?: boolean } = {}): Promise<PatientStatus | undefined> {
    const partition = partitionOf(nhsNumber, this.cluster.settings.partitions);
    return ((await this.ask(partition, { method: 'patient', nhsNumber, explain: options.explain !== false })) as PatientStatus | null) ?? undefined;
  }

  /** NHS numbers of the patients on a register, or in one status of one of its indicators, from every partition. */
  async patients(query: PopulationQuery): Promise<string[]> {
    const r = this.registryNumber(query.registry);
    const registry = this.compiled()[r]!;
    let position = 0;
    let want = 1;
    if (query.indicator !== undefined) {
      const i = registry.indicatorIds.indexOf(query.indicator);
      if (i < 0) throw new CaregapsError('CG_USAGE', `Registry ${registry.id} has no indicator ${query.indicator}`);
      position = 1 + i;
      want = query.status ? STATUS_CODE[query.status] : -1;
    }
    const practices = query.organisation === undefined ? undefined : practicesUnder(await this.organisations(), query.organisation);
    const asked: PartitionQuery = { registry: r, position, want, ...(practices ? { practices } : {}) };
    const partitions = Array.from({ length: this.cluster.settings.partitions }, (_, p) => p);
    const answers = await Promise.all(partitions.map((p) => this.ask(p, { method: 'patients', query: asked }) as Promise<string[]>));
    return answers.flat();
  }

  /** Counts of one registry at an organisation (and everything under it), or over the whole population. */
  async counts(registry: string, organisation?: string): Promise<RegistryCounts | undefined> {
    const r = this.registryNumber(registry);
    const aggregates = await this.aggregates();
    return organisation === undefined ? aggregates.totals(r) : aggregates.counts(organisation, r);
  }

  /** Every organisation known: organisation records published, and practices that only patients name. */
  async organisations(): Promise<OrganisationNode[]> {
    return (await this.aggregates()).organisations();
  }

  /** Workers, partitions (owner, applied position, lag) and totals. */
  async status(): Promise<ClusterStatus> {
    const { cluster } = this;
    const settings = await cluster.currentSettings();
    const workers = (await cluster.liveEntries('workers')).map((entry) => entry.json() as WorkerInfo);
    workers.sort((a, b) => a.id.localeCompare(b.id));
    const states = await this.states();
    const partitionStatus = await Promise.all(
      states.map(async (state, partition): Promise<PartitionStatus> => {
        const lease = await cluster.leases.get(cluster.names.partitionKey(partition));
        const owner = lease?.operation === 'PUT' ? (lease.json() as { worker: string }).worker : undefined;
        const last = await cluster.jsm.streams.getMessage(cluster.names.stream, { last_by_subj: cluster.names.records(partition) }).then(
          (m) => m?.seq ?? 0,
          () => 0,
        );
        const out: PartitionStatus = { partition, applied: state?.applied ?? 0, last, patients: state?.patients ?? 0 };
        if (owner === undefined) return out;
        out.owner = owner;
        if (state?.worker === owner) out.token = state.token;
        try {
          const info = await cluster.jsm.consumers.info(cluster.names.stream, cluster.names.consumer(partition, owner));
          out.lag = info.num_pending + info.num_ack_pending;
        } catch {
          // the owner is still creating its consumer
        }
        return out;
      }),
    );
    const stream = await cluster.jsm.streams.info(cluster.names.stream);
    return {
      cluster: cluster.names.cluster,
      partitions: settings.partitions,
      asOf: settings.asOf,
      workers,
      partitionStatus,
      records: stream.state.messages,
      lag: partitionStatus.reduce((sum, p) => sum + (p.lag ?? 0), 0),
      unowned: partitionStatus.filter((p) => p.owner === undefined).length,
      caughtUp: partitionStatus.every((p) => p.owner !== undefined && p.applied >= p.last),
    };
  }

  /** Resolves once every partition is owned and caught up (see `status`); rejects with `CG_CLUSTER_QUERY` after the timeout. */
  async caughtUp(options: { timeoutMs?: number; pollMs?: number } = {}): Promise<ClusterStatus> {
    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    for (;;) {
      const status = await this.status();
      if (status.caughtUp) return status;
      if (Date.now() > deadline) {
        const behind = status.partitionStatus.filter((p) => p.owner === undefined || p.applied < p.last).map((p) => p.partition);
        throw new CaregapsError('CG_CLUSTER_QUERY', `the cluster did not catch up within ${options.timeoutMs ?? 60_000} ms: partitions ${behind.join(', ')} are unowned or behind`);
      }
      await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 200));
    }
  }

  /** Each partition's hot state, from its owner: bytes of typed arrays, patients and relevant events held. */
  async memory(): Promise<{ partition: number; bytes: number; patients: number; events: number }[]> {
    const partitions = Array.from({ length: this.cluster.settings.partitions }, (_, p) => p);
    return Promise.all(partitions.map(async (partition) => ({ partition, ...((await this.ask(partition, { method: 'memory' })) as { bytes: number; patients: number; events: number }) })));
  }

  /** Moves the cluster's achievement date (every worker advances its partitions). */
  advanceTo(asOf: string): Promise<void> {
    return this.cluster.advanceTo(asOf);
  }

  async close(): Promise<void> {
    this.subscription.unsubscribe();
    this.changes.complete();
    await this.cluster.close();
  }

  private async ask(partition: number, request: QueryRequest): Promise<unknown> {
    const timeout = this.options.queryTimeoutMs ?? 5000;
    const deadline = Date.now() + timeout;
    let last = 'no worker owns the partition';
    // During a hand-over nobody answers for a moment: ask again until the deadline.
    while (Date.now() < deadline) {
      try {
        const reply = await this.cluster.nc.request(this.cluster.names.query(partition), JSON.stringify(request), { timeout: Math.max(100, deadline - Date.now()) });
        const answer = reply.json<QueryAnswer>();
        if (answer.ok) return answer.result;
        last = answer.error;
      } catch (error) {
        last = (error as Error).message;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new CaregapsError('CG_CLUSTER_QUERY', `partition ${partition} did not answer within ${timeout} ms: ${last}`);
  }

  private async states(): Promise<(PartitionState | undefined)[]> {
    const { cluster } = this;
    return Promise.all(
      Array.from({ length: cluster.settings.partitions }, async (_, p) => {
        const entry = await cluster.partitionState.get(cluster.names.partitionKey(p));
        return entry?.operation === 'PUT' ? (entry.json() as PartitionState) : undefined;
      }),
    );
  }

  /** The organisation hierarchy with every partition's counts added in. */
  private async aggregates(): Promise<Aggregates> {
    const aggregates = new Aggregates(new CounterLayout(this.compiled()));
    for await (const code of await this.cluster.organisations.keys()) {
      const entry = await this.cluster.organisations.get(code);
      if (entry?.operation === 'PUT') aggregates.setOrganisation(entry.json() as OrganisationRecord);
    }
    const layout = layoutOf(this.compiled()).join(',');
    for (const [p, state] of (await this.states()).entries()) {
      if (!state) continue;
      if (state.layout.join(',') !== layout) {
        throw new CaregapsError('CG_CLUSTER_CONFIG', `partition ${p} was counted by worker ${state.worker} with other registries (${state.layout.filter((x) => !x.includes('/')).join(', ')}) than this client's: use the same registries everywhere`);
      }
      for (const [practice, vector] of Object.entries(state.counts)) aggregates.addDelta(practice, Int32Array.from(vector));
    }
    return aggregates;
  }

  private compiled(): readonly CompiledRegistry[] {
    if (!this.options.compiled) throw new CaregapsError('CG_USAGE', 'counts and population lists need the registries the workers run: give ClusterClient.connect `compiled`');
    return this.options.compiled;
  }

  private registryNumber(id: string): number {
    const compiled = this.compiled();
    const r = compiled.findIndex((x) => x.id === id);
    if (r < 0) throw new CaregapsError('CG_USAGE', `No registry ${id} in this client (${compiled.map((x) => x.id).join(', ')})`);
    return r;
  }
}

/** The practices at or under an organisation. */
function practicesUnder(nodes: readonly OrganisationNode[], code: string): string[] {
  const byCode = new Map(nodes.map((n) => [n.code, n]));
  const under = (n: OrganisationNode): boolean => {
    for (let x: OrganisationNode | undefined = n, guard = 0; x && guard < 16; x = x.parent ? byCode.get(x.parent) : undefined, guard++) {
      if (x.code === code) return true;
    }
    return false;
  };
  return nodes.filter(under).map((n) => n.code);
}
