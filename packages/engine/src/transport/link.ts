import { CodesetIndex, CompiledRegistry, type Codeset, type Registry } from '@caregaps/core';
import type { LineBatch } from '../partition/lines.js';
import type { PartitionHost, RecordBatch, Release } from '../partition/host.js';
import type { PartitionQuery } from '../partition/partition.js';

/** Registries and codesets as plain data (compiled rules are closures, which cannot cross a thread or a broker). */
export interface RuleDefinitions {
  registries: Registry[];
  codesets: Codeset[];
}

/** Compiled registries and their index, or their definitions to compile where the partition runs. */
export type Rules = { compiled: readonly CompiledRegistry[]; index: CodesetIndex } | RuleDefinitions;

export function definitionsOf(compiled: readonly CompiledRegistry[], index: CodesetIndex): RuleDefinitions {
  return { registries: compiled.map((c) => c.registry), codesets: index.clusters.map((name) => index.codeset(name)!) };
}

export function compiledOf(rules: Rules): { compiled: readonly CompiledRegistry[]; index: CodesetIndex } {
  if ('compiled' in rules) return rules;
  const index = new CodesetIndex(rules.codesets);
  return { compiled: rules.registries.map((r) => new CompiledRegistry(r, index)), index };
}

/** One call to a partition: plain data (except `Rules` in the calling thread), so that it can cross a thread or a broker. */
export type PartitionCall =
  | { method: 'recovery'; args: [] }
  | { method: 'applyRecords'; args: [RecordBatch, boolean] }
  | { method: 'applyLines'; args: [LineBatch, boolean] }
  | { method: 'release'; args: [Release[]] }
  | { method: 'flush' | 'recompute' | 'memory' | 'counts' | 'quarantined' | 'close'; args: [] }
  | { method: 'advance'; args: [number] }
  | { method: 'rebuild'; args: [Rules | undefined] }
  | { method: 'patient'; args: [string, boolean] }
  | { method: 'record'; args: [string] }
  | { method: 'records'; args: [number, number] }
  | { method: 'results'; args: [boolean] }
  | { method: 'patients'; args: [PartitionQuery] };

/**
 * How the router reaches a partition. A call is sent with `send` and its answer taken with `take`, so the router
 * can send to every partition before taking any answer (the partitions work in parallel when they run elsewhere).
 * The partition code does not know which transport carries it.
 */
export interface PartitionLink {
  send(call: PartitionCall): void;
  take(): unknown;
  /** Ends the transport (after a `close` call has closed the partition). */
  end(): void;
}

/** Runs a call on a partition host (what every transport does at the partition's end). */
export function invoke(host: PartitionHost, call: PartitionCall): unknown {
  switch (call.method) {
    case 'recovery':
      return host.recovery;
    case 'applyRecords':
      return host.applyRecords(call.args[0], call.args[1]);
    case 'applyLines':
      return host.applyLines(call.args[0], call.args[1]);
    case 'release':
      return host.release(call.args[0]);
    case 'flush':
      return host.flush();
    case 'advance':
      return host.advance(call.args[0]);
    case 'recompute':
      return host.recompute();
    case 'rebuild': {
      const rules = call.args[0] && compiledOf(call.args[0]);
      return host.rebuild(rules?.compiled, rules?.index);
    }
    case 'patient':
      return host.patient(call.args[0], call.args[1]);
    case 'record':
      return host.record(call.args[0]);
    case 'records':
      return host.records(call.args[0], call.args[1]);
    case 'results':
      return host.results(call.args[0]);
    case 'patients':
      return host.patients(call.args[0]);
    case 'memory':
      return host.memory();
    case 'counts':
      return host.counts();
    case 'quarantined':
      return host.quarantined();
    case 'close':
      return host.close();
  }
}

/** A partition in the engine's own thread: the call runs when it is sent. */
export class InThreadLink implements PartitionLink {
  private answer: unknown;

  constructor(private readonly host: PartitionHost) {}

  send(call: PartitionCall): void {
    this.answer = invoke(this.host, call);
  }

  take(): unknown {
    const answer = this.answer;
    this.answer = undefined;
    return answer;
  }

  end(): void {}
}
