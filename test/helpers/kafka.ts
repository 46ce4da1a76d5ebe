// Real clients for integration tests, on the stack the global setup started. Every test names its
// own topics and groups with a random suffix, and closes what it opens.
import { randomUUID } from 'node:crypto';
import { type Admin, type Consumer, Kafka, type KafkaMessage, logLevel } from 'kafkajs';
import { inject } from 'vitest';

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export function testKafka(clientId = uniqueName('test')): Kafka {
  return new Kafka({ clientId, brokers: [inject('brokers')], logLevel: logLevel.NOTHING });
}

export async function createTopics(
  admin: Admin,
  topics: Array<{
    topic: string;
    numPartitions?: number;
    configEntries?: Array<{ name: string; value: string }>;
  }>,
): Promise<void> {
  await admin.createTopics({
    waitForLeaders: true,
    topics: topics.map((t) => ({ numPartitions: 1, replicationFactor: 1, ...t })),
  });
}

export interface Received {
  topic: string;
  partition: number;
  message: KafkaMessage;
}

/**
 * Reads `topics` from the beginning with a fresh group until `until(received)` holds or
 * `timeoutMs` passes, then disconnects. read_committed unless told otherwise.
 */
export async function readAll(
  kafka: Kafka,
  topics: string[],
  until: (received: Received[]) => boolean,
  options: { timeoutMs?: number; readUncommitted?: boolean; settleMs?: number } = {},
): Promise<Received[]> {
  const consumer: Consumer = kafka.consumer({
    groupId: uniqueName('reader'),
    readUncommitted: options.readUncommitted ?? false,
    maxWaitTimeInMs: 200,
  });
  const received: Received[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics, fromBeginning: true });
    let done: () => void = () => {};
    const finished = new Promise<void>((resolve) => {
      done = resolve;
    });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages)
          received.push({ topic: batch.topic, partition: batch.partition, message });
        if (until(received)) done();
      },
    });
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, options.timeoutMs ?? 30_000));
    await Promise.race([finished, timeout]);
    // Give a duplicate, if there is one, the time to show up.
    if (options.settleMs) await new Promise((resolve) => setTimeout(resolve, options.settleMs));
    return received;
  } finally {
    await consumer.disconnect();
  }
}
