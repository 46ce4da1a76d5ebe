// The bounded read hands over each offset once, even when kafkajs rejoins its group mid-read (a
// broker restart): a group that commits nothing would otherwise start over from the beginning.
import { describe, expect, it } from 'vitest';
import { down, up } from '../../scripts/stack/index.ts';
import { endOffsets, readToEnd } from '../../src/kafka/bounded-read.ts';
import { cleanupAfterEach } from '../helpers/cleanups.ts';
import { createTopics, testKafka, uniqueName } from '../helpers/kafka.ts';

const cleanups = cleanupAfterEach();

describe('bounded read', () => {
  it('delivers every record exactly once across a broker restart in the middle of the read', async () => {
    const kafka = testKafka();
    const topic = uniqueName('bounded');
    const admin = kafka.admin();
    await admin.connect();
    cleanups.push(() => admin.disconnect());
    await createTopics(admin, [{ topic, numPartitions: 3 }]);
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
          // Down past the read's session timeout: its member expires, and kafkajs rejoins after.
          await down(['kafka']);
          await new Promise((resolve) => setTimeout(resolve, 8000));
          await up(['kafka']);
        }
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
});
