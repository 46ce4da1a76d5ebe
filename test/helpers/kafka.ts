// Real clients for integration tests, on the stack the global setup started. Every test names its
// own topics and groups with a random suffix, and closes what it opens.
import { randomUUID } from 'node:crypto';
import { type Admin, Kafka, type KafkaMessage, logLevel, type Producer } from 'kafkajs';
import { inject } from 'vitest';
import { readAllToEnd } from '../../src/kafka/bounded-read.ts';

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export function testKafka(clientId = uniqueName('test')): Kafka {
  return new Kafka({ clientId, brokers: [inject('brokers')], logLevel: logLevel.NOTHING });
}

/** A new topic of `numPartitions` partitions on the test broker, and a client to use it. */
export async function newTopic(prefix: string, numPartitions = 1): Promise<{ kafka: Kafka; topic: string }> {
  const kafka = testKafka();
  const topic = uniqueName(prefix);
  const admin = kafka.admin();
  await admin.connect();
  try {
    await createTopics(admin, [{ topic, numPartitions }]);
  } finally {
    await admin.disconnect();
  }
  return { kafka, topic };
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
 * Every record of `topics` up to the end offsets they have when the call starts (a bounded read:
 * no settle time, no waiting for records that are not there). read_committed unless told otherwise.
 */
export async function readTopics(
  kafka: Kafka,
  topics: string[],
  options: { readUncommitted?: boolean; timeoutMs?: number } = {},
): Promise<Received[]> {
  const batches = await readAllToEnd(kafka, topics, {
    timeoutMs: options.timeoutMs ?? 60_000,
    readUncommitted: options.readUncommitted ?? false,
    groupPrefix: 'test-reader',
  });
  return batches.flatMap((b) =>
    b.messages.map((message) => ({ topic: b.topic, partition: b.partition, message })),
  );
}

/**
 * Bounded reads, repeated until at least `count` records are there (for output that a process
 * under test is still writing); the result is the first read that has them all, so a duplicate
 * committed before it shows as one record too many.
 */
export async function readUntil(
  kafka: Kafka,
  topics: string[],
  count: number,
  options: { readUncommitted?: boolean; timeoutMs?: number } = {},
): Promise<Received[]> {
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  for (;;) {
    const received = await readTopics(kafka, topics, options);
    if (received.length >= count) return received;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${count} records in ${topics.join(', ')}: ${received.length}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** A connected kafkajs transactional producer of its own id, disconnected after the test (`cleanups`). */
export async function transactionalProducer(
  kafka: Kafka,
  id: string,
  cleanups: Array<() => Promise<unknown>>,
): Promise<Producer> {
  const p = kafka.producer({ transactionalId: uniqueName(id), idempotent: true, maxInFlightRequests: 1 });
  await p.connect();
  cleanups.push(() => p.disconnect());
  return p;
}
