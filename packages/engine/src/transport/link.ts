import type { Partition } from '../partition/partition.js';

/**
 * What the router calls on a partition. The partition itself is one (partitions in the engine's own thread); a
 * transport that carries the calls to a worker thread or a JetStream worker implements the same methods.
 */
export type PartitionLink = Pick<
  Partition,
  'apply' | 'flush' | 'advance' | 'recompute' | 'patient' | 'results' | 'patients' | 'memory' | 'patientCount' | 'queuedCount'
>;
