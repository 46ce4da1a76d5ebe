// What an enricher makes sure of before it consumes: its output topics and the dead-letter topic
// exist as specified (cdr.raw is the producer's: it is waited for), the enriched schema is
// registered under every output topic's subject, and how many partitions each output topic has.
import type { Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { registerSchema, registryClient } from '../codec/index.ts';
import type { EnricherOptions } from '../config/enricher.ts';
import { KeyPartitions } from '../kafka/key-partitions.ts';
import { setUpTopics, topicPartitionCount } from '../kafka/topics.ts';
import { retryStartup } from '../ops/retry.ts';
import { topicSpecs } from '../topics/specs.ts';

export interface EnricherOutputs {
  topics: readonly string[];
  /** The registry id of cdr-enriched (the same under every output topic's subject). */
  schemaId: number;
  /** Each output record's partition, chosen as Kafka's Java client would (murmur2 of the key). */
  partitions: KeyPartitions;
}

export async function prepareOutputs(
  kafka: Kafka,
  options: EnricherOptions,
  log: Logger,
): Promise<EnricherOutputs> {
  const { creation } = options;
  const topics = [...new Set(Object.values(options.routes))];
  await setUpTopics(
    kafka,
    [
      ...topics.map((t) =>
        topicSpecs.enriched(t, creation.outputPartitions, creation.outputRetentionMs, creation),
      ),
      topicSpecs.dlq(options.dlqTopic, creation.dlqRetentionMs, creation),
    ],
    log,
    options.inputTopic,
  );
  const registry = registryClient(options.registry);
  // One subject per output topic (TopicNameStrategy); the same schema, so the same id.
  const ids = await retryStartup(
    'registering the schema',
    () => Promise.all(topics.map((t) => registerSchema(registry, 'cdr-enriched', `${t}-value`))),
    log,
  );
  const counts = await retryStartup(
    'reading the partitions of the output topics',
    async () =>
      new Map(await Promise.all(topics.map(async (t) => [t, await topicPartitionCount(kafka, t)] as const))),
    log,
  );
  return { topics, schemaId: ids[0] as number, partitions: new KeyPartitions(counts) };
}
