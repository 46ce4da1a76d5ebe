// The partition of a keyed record, as kafkajs's default partitioner (Java's murmur2) chooses it,
// computed once per key: records that name their partition skip kafkajs's hashing (Long-based
// murmur2 in JavaScript, a few percent of a producer's CPU), and keys repeat (billing groups).
//
// kafkajs's default partitioner is loaded by itself (its module and murmur2, not the client): the
// producer's parse worker uses this without loading kafkajs whole.
import { createRequire } from 'node:module';
import type { DefaultPartitioner } from 'kafkajs';

const createPartitioner = createRequire(import.meta.url)(
  'kafkajs/src/producer/partitioners/default/index.js',
) as DefaultPartitioner;

export class KeyPartitions {
  private readonly partitioner = createPartitioner();
  private readonly counts: ReadonlyMap<string, number>;
  private readonly cache = new Map<string, Map<string, number>>();
  private readonly metadata = new Map<number, Array<{ partitionId: number; leader: number }>>();

  /** `counts`: the partitions of each topic, as read at start. */
  constructor(counts: ReadonlyMap<string, number>) {
    this.counts = counts;
  }

  /** The partition of `key` in `topic`; undefined for a topic not counted or a record without a key. */
  of(topic: string, key: Buffer | string | null | undefined): number | undefined {
    const n = this.counts.get(topic);
    if (n === undefined || key === null || key === undefined) return undefined;
    let byKey = this.cache.get(topic);
    if (byKey === undefined) {
      byKey = new Map();
      this.cache.set(topic, byKey);
    }
    const text = typeof key === 'string' ? key : key.toString('latin1');
    let p = byKey.get(text);
    if (p === undefined) {
      let partitionMetadata = this.metadata.get(n);
      if (partitionMetadata === undefined) {
        partitionMetadata = Array.from({ length: n }, (_, i) => ({ partitionId: i, leader: 0 }));
        this.metadata.set(n, partitionMetadata);
      }
      p = this.partitioner({
        topic,
        partitionMetadata: partitionMetadata as never,
        message: { key, value: null },
      });
      // Keys are few (billing groups); a feed of endless distinct keys would not be cached forever.
      if (byKey.size < 100_000) byKey.set(detached(text), p);
    }
    return p;
  }
}

/**
 * A copy of `s` that keeps no larger string alive: a key parsed from a response is a slice of the
 * response's text, which V8 keeps whole for it (with a thousand accounts, each keeping its last
 * response, that was most of the process's memory).
 */
function detached(s: string): string {
  return Buffer.from(s, 'utf8').toString('utf8');
}
