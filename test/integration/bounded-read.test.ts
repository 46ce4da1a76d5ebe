// The bounded read hands over each offset once, even when kafkajs rejoins its group mid-read (a
// broker restart): a group that commits nothing would otherwise start over from the beginning.
import { describe, expect, it } from 'vitest';
import { down, up } from '../../scripts/stack/index.ts';
import { readToEnd } from '../../src/kafka/bounded-read.ts';
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
});
