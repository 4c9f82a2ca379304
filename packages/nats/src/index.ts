/**
 * Caregaps scale-out on NATS JetStream (DESIGN §7): records published to a stream with one subject per partition,
 * workers that own partitions by fenced leases and apply them with the engine's partition code and their own LMDB
 * record stores, and a client with the in-process engine's query surface across the cluster.
 * @packageDocumentation
 */
export { meta, type TransportMeta } from './meta.js';
export type { ClusterOptions, ClusterSettings } from './cluster.js';
export { ClusterNames, DEFAULT_PARTITIONS } from './names.js';
export { Publisher, messageId, type PublisherOptions, type PublishSummary } from './publisher.js';
export { ClusterWorker, type WorkerOptions, type WorkerEvent, type WorkerInfo } from './worker.js';
export { ClusterClient, type ClusterClientOptions, type ClusterStatus, type PartitionStatus } from './client.js';
export type { PartitionState } from './protocol.js';
