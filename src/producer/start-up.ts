// What the producer makes sure of before it polls: its topics exist as specified, its schemas are
// registered, and what cdr.raw takes (partitions, largest record) is known. Each step is retried
// while the failure is retriable (a broker still loading, a registry still starting).
import type { Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { registerSchema, registryClient } from '../codec/index.ts';
import type { ProducerOptions } from '../config/producer.ts';
import type { RawTopic } from '../feed/records.ts';
import { setUpTopics, topicMaxMessageBytes, topicPartitionCount } from '../kafka/topics.ts';
import { retryStartup } from '../ops/retry.ts';
import { topicSpecs } from '../topics/specs.ts';

/** A topic's value subject in the registry (Confluent's TopicNameStrategy). */
export const RAW_SUBJECT_SUFFIX = '-value';

export interface ProducerTopicsReady {
  raw: RawTopic;
  /** Largest record (key + value) cdr.raw takes: its max.message.bytes less a batch's framing. */
  maxMessageBytes: number;
  /** The control records' registry ids: under cdr.control's subject and cdr.control.totals'. */
  controlSchemaId: number;
  totalsSchemaId: number;
}

export async function prepareTopics(
  kafka: Kafka,
  options: Pick<ProducerOptions, 'topics' | 'creation' | 'registry'>,
  log: Logger,
): Promise<ProducerTopicsReady> {
  const { topics, creation } = options;
  await setUpTopics(
    kafka,
    [
      topicSpecs.raw(topics.raw, creation.rawPartitions, creation.rawRetentionMs, creation),
      topicSpecs.cursor(topics.cursor, creation),
      topicSpecs.dlq(topics.dlq, creation.dlqRetentionMs, creation),
      topicSpecs.control(topics.control, creation.rawRetentionMs, creation),
      topicSpecs.controlTotals(topics.controlTotals, creation),
    ],
    log,
  );
  const registry = registryClient(options.registry);
  const register = (schema: 'cdr-raw' | 'cdr-control', topic: string) =>
    retryStartup(
      `registering the ${schema} schema for ${topic}`,
      () => registerSchema(registry, schema, `${topic}${RAW_SUBJECT_SUFFIX}`),
      log,
    );
  const schemaId = await register('cdr-raw', topics.raw);
  const controlSchemaId = await register('cdr-control', topics.control);
  // The running totals have the same shape: registered under their topic's subject too, so any
  // Confluent deserializer reads them.
  const totalsSchemaId = await register('cdr-control', topics.controlTotals);
  log.info(
    { schemaId, subject: `${topics.raw}${RAW_SUBJECT_SUFFIX}`, controlSchemaId },
    'schemas registered',
  );
  const partitions = await retryStartup(
    'reading the partitions of the CDR topic',
    () => topicPartitionCount(kafka, topics.raw),
    log,
  );
  // Room for the record framing and headers a batch adds around one record.
  const maxBytes = await retryStartup(
    'reading max.message.bytes',
    () => topicMaxMessageBytes(kafka, topics.raw),
    log,
  );
  return {
    raw: { topic: topics.raw, schemaId, partitions },
    maxMessageBytes: maxBytes - 512,
    controlSchemaId,
    totalsSchemaId,
  };
}
