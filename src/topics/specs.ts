// Every topic the pipeline creates, with its settings, in one place: whichever process creates a
// topic first (producer or enricher) creates it the same way.
//
// - min.insync.replicas: with acks=all, a write needs this many replicas; 2 of 3 survives one
//   broker down without losing an acknowledged CDR (configurable; by default 2 when
//   the replication factor is 3 or more, else 1).
// - The cursor topic is compacted, and rolls segments hourly with a low dirty ratio: compaction
//   only cleans closed segments, and a cursor written many times a second must not keep one
//   segment open (and growing) for the default week.
import type { TopicCreation } from '../config/service.ts';
import type { TopicSpec } from '../kafka/topics.ts';

export const CURSOR_TOPIC_CONFIG = {
  'segment.ms': String(60 * 60 * 1000),
  'min.cleanable.dirty.ratio': '0.1',
  'max.compaction.lag.ms': String(6 * 60 * 60 * 1000),
  'delete.retention.ms': String(24 * 60 * 60 * 1000),
} as const;

export function minInsyncReplicas(s: TopicCreation): number {
  return s.minInsyncReplicas ?? (s.replicationFactor >= 3 ? 2 : 1);
}

function spec(
  topic: string,
  numPartitions: number,
  cleanupPolicy: 'delete' | 'compact',
  s: TopicCreation,
  config: Record<string, string>,
): TopicSpec {
  return {
    topic,
    numPartitions,
    replicationFactor: s.replicationFactor,
    cleanupPolicy,
    config: { 'min.insync.replicas': String(minInsyncReplicas(s)), ...config },
  };
}

export const topicSpecs = {
  /** cdr.raw: the CDRs, kept for replay. */
  raw: (topic: string, partitions: number, retentionMs: number, s: TopicCreation) =>
    spec(topic, partitions, 'delete', s, { 'retention.ms': String(retentionMs) }),
  /** The per-account cursor: compacted, one partition (read whole at start). */
  cursor: (topic: string, s: TopicCreation) => spec(topic, 1, 'compact', s, { ...CURSOR_TOPIC_CONFIG }),
  /**
   * Control totals: a few records per committed batch, kept as long as the CDRs they count (they
   * are summed, never compacted). One partition, in commit order.
   */
  control: (topic: string, retentionMs: number, s: TopicCreation) =>
    spec(topic, 1, 'delete', s, { 'retention.ms': String(retentionMs) }),
  /** Running control totals: compacted like the cursor (the latest per account and period counts). */
  controlTotals: (topic: string, s: TopicCreation) =>
    spec(topic, 1, 'compact', s, { ...CURSOR_TOPIC_CONFIG }),
  /** Dead letters of the producer and the enrichers alike. */
  dlq: (topic: string, retentionMs: number, s: TopicCreation) =>
    spec(topic, 1, 'delete', s, { 'retention.ms': String(retentionMs) }),
  /** One enriched topic per category. */
  enriched: (topic: string, partitions: number, retentionMs: number, s: TopicCreation) =>
    spec(topic, partitions, 'delete', s, { 'retention.ms': String(retentionMs) }),
  /** References to the stored call recordings, kept as long as the CDRs they belong to. */
  recordings: (topic: string, partitions: number, retentionMs: number, s: TopicCreation) =>
    spec(topic, partitions, 'delete', s, { 'retention.ms': String(retentionMs) }),
};
