// The bounded read hands over each offset once, even when kafkajs rejoins its group mid-read (a
// broker restart): a group that commits nothing would otherwise start over from the beginning.
import type { Kafka } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { down, up } from '../../scripts/stack/index.ts';
import { type BoundedReadOptions, endOffsets, readToEnd } from '../../src/kafka/bounded-read.ts';
import { cleanupAfterEach } from '../helpers/cleanups.ts';
import {
  newTopic,
  transactionalProducer as newTransactionalProducer,
  testKafka,
  uniqueName,
} from '../helpers/kafka.ts';

const cleanups = cleanupAfterEach();

const transactionalProducer = (kafka: Kafka, id: string) => newTransactionalProducer(kafka, id, cleanups);

/** The values of a bounded read of `topic`, and how long it took. */
async function readValues(
  kafka: Kafka,
  topic: string,
  extra: Partial<BoundedReadOptions> = {},
): Promise<{ seen: string[]; ms: number }> {
  const seen: string[] = [];
  const startedAt = Date.now();
  await readToEnd(
    kafka,
    [topic],
    ({ messages }) => {
      for (const m of messages) seen.push(m.value?.toString() ?? '');
    },
    { timeoutMs: 30_000, groupPrefix: uniqueName('read'), ...extra },
  );
  return { seen, ms: Date.now() - startedAt };
}

describe('bounded read', () => {
  it('skips aborted transactions whose abort markers come in another order than their first records', async () => {
    // Two producers' transactions interleave on one partition and end in the other order (a crash
    // and a restart aborting several at once do this): the broker lists aborted transactions in
    // the order of their markers, not of their first offsets. A committed one follows.
    const { kafka, topic } = await newTopic('aborted');
    const [a, b, c] = await Promise.all([
      transactionalProducer(kafka, 'a'),
      transactionalProducer(kafka, 'b'),
      transactionalProducer(kafka, 'c'),
    ]);
    const ta = await a.transaction();
    await ta.send({ topic, messages: [{ value: 'aborted-first' }] });
    const tb = await b.transaction();
    await tb.send({ topic, messages: [{ value: 'aborted-second' }] });
    await tb.send({ topic, messages: [{ value: 'aborted-second-again' }] });
    await tb.abort();
    await ta.send({ topic, messages: [{ value: 'aborted-first-again' }] });
    await ta.abort();
    const tc = await c.transaction();
    await tc.send({ topic, messages: [{ value: 'committed' }] });
    await tc.commit();

    expect((await readValues(kafka, topic)).seen).toEqual(['committed']);
  });

  it('waits a moment for transactions committing when it starts, and never for one that stays open', async () => {
    // A producer's transaction is open on the partition (the last stable offset stays at its first
    // record); another producer commits behind it. A read started then ends where the partition
    // was written when it started once the open transaction ends within SETTLE_MS (as the markers
    // of a transaction committed a moment ago are): it has the record committed behind it.
    const { kafka, topic } = await newTopic('behind-open');
    const pending = await (await transactionalProducer(kafka, 'open')).transaction();
    await pending.send({ topic, messages: [{ value: 'open-then-aborted' }] });
    const committed = await (await transactionalProducer(kafka, 'behind')).transaction();
    await committed.send({ topic, messages: [{ value: 'committed-behind' }] });
    await committed.commit();
    let settling: (topic: string) => void = () => {};
    const waiting = new Promise<string>((resolve) => {
      settling = resolve;
    });
    const first = readValues(kafka, topic, { onSettling: settling });
    // The read has captured the high watermark and waits for the open transaction: it ends now.
    expect(await waiting).toBe(topic);
    await pending.abort();
    expect((await first).seen).toEqual(['committed-behind']);

    // A transaction that stays open (a broker that lost its marker keeps it open for good): the
    // read ends at its first record after SETTLE_MS instead of waiting for it.
    const hanging = await (await transactionalProducer(kafka, 'hanging')).transaction();
    await hanging.send({ topic, messages: [{ value: 'left-open' }] });
    const second = await readValues(kafka, topic);
    expect(second.seen).toEqual(['committed-behind']);
    expect(second.ms).toBeLessThan(15_000);
  });

  it('delivers every record exactly once across a broker restart in the middle of the read', async () => {
    const { kafka, topic } = await newTopic('bounded', 3);
    const producer = kafka.producer();
    await producer.connect();
    const total = 30_000;
    for (let i = 0; i < total; i += 1000)
      await producer.send({
        topic,
        messages: Array.from({ length: 1000 }, (_, j) => ({ key: `k${(i + j) % 97}`, value: String(i + j) })),
      });
    await producer.disconnect();

    const seen: string[] = [];
    let restarted = false;
    cleanups.push(() => up(['kafka']));
    await readToEnd(
      kafka,
      [topic],
      async ({ messages }) => {
        for (const m of messages) seen.push(m.value?.toString() ?? '');
        // A third of the way in, the broker goes away and comes back while the read is under way.
        if (!restarted && seen.length > total / 3) {
          restarted = true;
          // The fault itself: a broker down for longer than the read's session timeout (its member
          // expires, and kafkajs rejoins after), not a wait for something to happen.
          await down(['kafka']);
          await new Promise((resolve) => setTimeout(resolve, 8000));
          await up(['kafka']);
        }
        // A slow reader, so that the restart falls in the middle of the read.
        await new Promise((resolve) => setTimeout(resolve, 20));
      },
      { timeoutMs: 170_000, sessionTimeoutMs: 6000 },
    );
    expect(restarted).toBe(true);
    expect(seen).toHaveLength(total);
    expect(new Set(seen).size).toBe(total);
  });

  it('reads the ends of topics another client is creating this very moment', async () => {
    // A topic is listed before its partitions are loaded on their leader: asking for its offsets
    // then gets NOT_LEADER_FOR_PARTITION or UNKNOWN_TOPIC_OR_PARTITION, which kafkajs's admin does
    // not wait out. A status or an export started right after the producer created its topics hits it.
    const kafka = testKafka();
    const creator = kafka.admin();
    const watcher = kafka.admin();
    await Promise.all([creator.connect(), watcher.connect()]);
    cleanups.push(
      () => creator.disconnect(),
      () => watcher.disconnect(),
    );
    for (let i = 0; i < 8; i++) {
      const topic = uniqueName('fresh');
      const created = creator.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: false });
      let ends: Awaited<ReturnType<typeof endOffsets>> | undefined;
      while (ends === undefined) {
        if ((await watcher.listTopics()).includes(topic)) ends = await endOffsets(kafka, [topic]);
      }
      await created;
      // A new topic holds nothing: nothing to read on any of its partitions.
      expect(ends.size).toBe(0);
    }
  });

  it('keeps partitions in step by record time when asked (paceMs), every record still once', async () => {
    // Partition 0 holds a record every millisecond, partition 1 one every 20: read as fast as each
    // comes, partition 1 runs ahead in time by a factor of 20; paced, it waits for partition 0.
    const { kafka, topic } = await newTopic('paced', 2);
    const producer = kafka.producer();
    await producer.connect();
    const t0 = Date.now() - 3_600_000;
    const value = 'x'.repeat(4000);
    for (const [partition, every] of [
      [0, 1],
      [1, 20],
    ] as const)
      for (let i = 0; i < 3000; i += 100)
        await producer.send({
          topic,
          messages: Array.from({ length: 100 }, (_, j) => ({
            partition,
            value,
            timestamp: String(t0 + (i + j) * every),
          })),
        });
    await producer.disconnect();

    const skewOf = async (paceMs?: number) => {
      const last = new Map<number, number>();
      const seen = new Set<string>();
      let skew = 0;
      await readToEnd(
        kafka,
        [topic],
        ({ partition, messages }) => {
          for (const m of messages) seen.add(`${partition}:${m.offset}`);
          last.set(partition, Number(messages[messages.length - 1]?.timestamp));
          // Only while both partitions still have records ahead (partition 0 ends at t0 + 3 s).
          const p0 = last.get(0);
          const p1 = last.get(1);
          if (p0 !== undefined && p1 !== undefined && p0 < t0 + 2999) skew = Math.max(skew, p1 - p0);
        },
        { timeoutMs: 60_000, ...(paceMs === undefined ? {} : { paceMs }) },
      );
      expect(seen.size).toBe(6000);
      return skew;
    };
    const paced = await skewOf(200);
    const unpaced = await skewOf();
    // A fetch of a partition is ~128 records (512 KB), 2.6 s of partition 1's time; one more may
    // be on its way when it is paused: 200 ms + 2 fetches at most. Unpaced, it is ~20 times ahead.
    expect(paced).toBeLessThan(200 + 2 * 2600);
    expect(unpaced).toBeGreaterThan(20_000);
  });
});
