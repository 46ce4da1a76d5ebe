// A topic's offsets, asked while its partitions may still be loading. A topic is listed as soon as
// the controller has it, before its leader serves it: asking then gets NOT_LEADER_FOR_PARTITION,
// UNKNOWN_TOPIC_OR_PARTITION or LEADER_NOT_AVAILABLE, and kafkajs's admin gives up on the first
// two at once. The same answers come for a while after a broker restart. These are waited out here,
// with fresh metadata before each new try; anything else fails at once.
import type { Admin } from 'kafkajs';
import { retry } from '../ops/retry.ts';

export interface PartitionOffsets {
  partition: number;
  /** The first offset still held. */
  low: string;
  /**
   * An admin of `kafka.admin()` asks READ_COMMITTED: the last stable offset (the first record of the
   * oldest transaction still open, or of one whose markers are still being written, else the high
   * watermark): where a read_committed consumer's end is. An admin of
   * `kafka.admin({ readUncommitted: true })` (kafkajs patch): the high watermark, one past the last
   * offset written.
   */
  high: string;
}

const LOADING = new Set(['NOT_LEADER_FOR_PARTITION', 'UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE']);

function isLoading(err: unknown): boolean {
  const type = (err as { type?: unknown } | null)?.type;
  return typeof type === 'string' && LOADING.has(type);
}

/**
 * `ask`, asked again while the topic's partitions are loading or moving (a leader election, a
 * broker starting): about 30 s at most, refreshing the admin's metadata before each new try (the
 * leader it knew may not be the one that serves now).
 */
function whileLoading<T>(admin: Admin, topic: string, ask: () => Promise<T>): Promise<T> {
  return retry(`reading the offsets of ${topic}`, ask, {
    attempts: 35,
    backoff: { minMs: 50, maxMs: 1000 },
    retryIf: isLoading,
    onRetry: () => void admin.fetchTopicMetadata({ topics: [topic] }).catch(() => undefined),
  });
}

export function topicOffsets(admin: Admin, topic: string): Promise<PartitionOffsets[]> {
  return whileLoading(admin, topic, async () =>
    (await admin.fetchTopicOffsets(topic)).map((o) => ({ partition: o.partition, low: o.low, high: o.high })),
  );
}

/** Per partition, the first offset whose record timestamp is at or after `at` (epoch ms); "-1" when none is. */
export function topicOffsetsAt(admin: Admin, topic: string, at: number): Promise<Map<number, string>> {
  return whileLoading(
    admin,
    topic,
    async () =>
      new Map((await admin.fetchTopicOffsetsByTimestamp(topic, at)).map((o) => [o.partition, o.offset])),
  );
}
