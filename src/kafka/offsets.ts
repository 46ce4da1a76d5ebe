// A topic's offsets, asked while its partitions may still be loading. A topic is listed as soon as
// the controller has it, before its leader serves it: asking then gets NOT_LEADER_FOR_PARTITION,
// UNKNOWN_TOPIC_OR_PARTITION or LEADER_NOT_AVAILABLE, and kafkajs's admin gives up on the first
// two at once. The same answers come for a while after a broker restart. These are waited out here,
// with fresh metadata before each new try; anything else fails at once.
import type { Admin } from 'kafkajs';
import { backoffDelay } from '../ops/retry.ts';

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

/** How long a partition may stay in loading before the question fails. */
const PATIENCE_MS = 30_000;

function isLoading(err: unknown): boolean {
  const type = (err as { type?: unknown } | null)?.type;
  return typeof type === 'string' && LOADING.has(type);
}

async function patiently<T>(admin: Admin, topic: string, ask: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + PATIENCE_MS;
  for (let attempt = 0; ; attempt++) {
    try {
      return await ask();
    } catch (err) {
      if (!isLoading(err) || Date.now() >= deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, backoffDelay(attempt, { minMs: 50, maxMs: 1000 })));
      // Refreshes the admin's metadata: the leader it knew may not be the one that serves now.
      await admin.fetchTopicMetadata({ topics: [topic] }).catch(() => undefined);
    }
  }
}

export function topicOffsets(admin: Admin, topic: string): Promise<PartitionOffsets[]> {
  return patiently(admin, topic, async () =>
    (await admin.fetchTopicOffsets(topic)).map((o) => ({ partition: o.partition, low: o.low, high: o.high })),
  );
}

/** Per partition, the first offset whose record timestamp is at or after `at` (epoch ms); "-1" when none is. */
export function topicOffsetsAt(admin: Admin, topic: string, at: number): Promise<Map<number, string>> {
  return patiently(
    admin,
    topic,
    async () =>
      new Map((await admin.fetchTopicOffsetsByTimestamp(topic, at)).map((o) => [o.partition, o.offset])),
  );
}
