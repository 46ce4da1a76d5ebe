// The enricher's per-batch path (enrich/batch.ts) with its partition owners and senders as plain
// objects: what it commits, which offsets it resolves, and when it drops a partition and rejoins.
// The same path against a real broker is in test/integration/enricher.test.ts.
import type { KafkaMessage, TopicMessages } from 'kafkajs';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { PhoneNumbers } from '../../src/cdr/phone.ts';
import { enrichBatch, SLICE } from '../../src/enrich/batch.ts';
import { enricherMetrics } from '../../src/enrich/metrics.ts';
import { ErrorCodes } from '../../src/errors.ts';
import { afterCommitted, type BatchOwners } from '../../src/kafka/partition-owners.ts';
import type { Offsets } from '../../src/kafka/transactions.ts';

const log = pino({ level: 'silent' });

function messages(from: number, n: number): KafkaMessage[] {
  return Array.from({ length: n }, (_, i) => ({
    offset: String(from + i),
    key: Buffer.from(`k${from + i}`),
    value: Buffer.from(`v${from + i}`),
    timestamp: '0',
    attributes: 0,
    headers: {},
  })) as KafkaMessage[];
}

function harness(
  opts: { committed?: bigint; fail?: Error; stale?: boolean; acquire?: 'throws' | 'none' } = {},
) {
  const commits: Array<{ topicMessages: TopicMessages[]; offsets: Offsets | undefined }> = [];
  const sender = {
    async commit(topicMessages: TopicMessages[], offsets?: Offsets) {
      if (opts.fail) throw opts.fail;
      commits.push({ topicMessages, offsets });
    },
  };
  const dropped: number[] = [];
  const owners: BatchOwners = {
    async acquire() {
      if (opts.acquire === 'throws') throw new Error('COORDINATOR_NOT_AVAILABLE');
      return opts.acquire === 'none' ? undefined : { sender, committed: opts.committed };
    },
    isCurrent: () => !opts.stale,
    drop: (partition) => dropped.push(partition),
    refusal: undefined,
  };
  const metrics = enricherMetrics(new Registry());
  const deps = {
    owners,
    prepare: async () => {},
    slice: {
      decode: () => {
        throw new Error('not used: every record is spliced');
      },
      encode: () => Buffer.alloc(0),
      splice: (value: Buffer | null) => ({ category: 'mobile', value: value as Buffer }),
      routes: { mobile: 'out.mobile', unknown: 'out.unknown' },
      dlqTopic: 'out.dlq',
      phones: new PhoneNumbers(),
    },
    groupId: 'g',
    metrics,
    log,
  };
  const resolved: string[] = [];
  const payload = (msgs: KafkaMessage[]) => ({
    batch: { topic: 'cdr.raw', partition: 3, messages: msgs, offsetLag: () => '0' } as never,
    resolveOffset: (offset: string) => resolved.push(offset),
    heartbeat: async () => {},
    isRunning: () => true,
    isStale: () => false,
  });
  return { deps, payload, commits, resolved, dropped, metrics };
}

describe('the records of a batch after the offset the group committed', () => {
  it('skips those below it', () => {
    const all = messages(10, 5);
    expect(afterCommitted(all, undefined)).toEqual({ skipped: 0, rest: all });
    expect(afterCommitted(all, 12n).skipped).toBe(2);
    expect(afterCommitted(all, 12n).rest.map((m) => m.offset)).toEqual(['12', '13', '14']);
    expect(afterCommitted(all, 99n)).toEqual({ skipped: 5, rest: [] });
  });
});

describe('enrichBatch', () => {
  it('commits each slice with the offset after its last record, skipping what the previous owner committed', async () => {
    const h = harness({ committed: 12n });
    await enrichBatch(h.deps, h.payload(messages(10, 5)));
    expect(h.commits).toHaveLength(1);
    const [commit] = h.commits;
    expect(commit?.topicMessages.map((t) => [t.topic, t.messages.map((m) => String(m.value))])).toEqual([
      ['out.mobile', ['v12', 'v13', 'v14']],
    ]);
    expect(commit?.offsets).toEqual({
      consumerGroupId: 'g',
      topics: [{ topic: 'cdr.raw', partitions: [{ partition: 3, offset: '15' }] }],
    });
    // The skipped records' last offset, then the slice's.
    expect(h.resolved).toEqual(['11', '14']);
    expect((await h.metrics.skippedCommitted.get()).values[0]?.value).toBe(2);
  });

  it('a batch over SLICE records commits in several transactions, in order', async () => {
    const h = harness();
    await enrichBatch(h.deps, h.payload(messages(0, SLICE + 3)));
    expect(h.commits.map((c) => c.offsets?.topics[0]?.partitions[0]?.offset)).toEqual([
      String(SLICE),
      String(SLICE + 3),
    ]);
    expect(h.resolved).toEqual([String(SLICE - 1), String(SLICE + 2)]);
  });

  it('a failed transaction drops the partition and rejoins the group, resolving nothing', async () => {
    const h = harness({ fail: new Error('NOT_COORDINATOR') });
    const err = await enrichBatch(h.deps, h.payload(messages(0, 4))).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCodes.PARTITION_MOVED, type: 'REBALANCE_IN_PROGRESS' });
    expect(h.dropped).toEqual([3]);
    expect(h.resolved).toEqual([]);
  });

  it("a failed transaction of an earlier assignment's sender is void: no drop, no rejoin", async () => {
    const h = harness({ fail: new Error('PRODUCER_FENCED'), stale: true });
    await enrichBatch(h.deps, h.payload(messages(0, 4)));
    expect(h.dropped).toEqual([]);
    expect(h.resolved).toEqual([]);
  });

  it('a partition it cannot take, or that is not assigned to it, rejoins the group', async () => {
    for (const acquire of ['throws', 'none'] as const) {
      const h = harness({ acquire });
      const err = await enrichBatch(h.deps, h.payload(messages(0, 2))).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: ErrorCodes.PARTITION_MOVED, type: 'REBALANCE_IN_PROGRESS' });
      expect(h.commits).toEqual([]);
    }
  });
});
