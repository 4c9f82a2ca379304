/** What a transport is, apart from what it does (DESIGN §7: one engine, several transports). */
export interface TransportMeta {
  /** Lower-case name, `a-z`, `0-9` and `-`. */
  name: string;
  /** The transport's own version, `x.y.z`. */
  version: string;
  /** The versions of `@caregaps/engine` whose partition code it carries, as a semver range. */
  engine: string;
  /** The broker and the server versions it is tested against. */
  broker: string;
  description: string;
}

/** This package as a transport of the engine's partitions. */
export const meta: TransportMeta = {
  name: 'nats-jetstream',
  version: '0.1.0',
  engine: '^0.1.0',
  broker: 'NATS JetStream (nats-server 2.9.10 and later)',
  description: 'Records partitioned on a JetStream stream; workers own partitions by leases in a KV bucket, fenced by revision, and apply them with the engine partition code and their own LMDB stores.',
};
