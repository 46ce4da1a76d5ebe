// Enricher test helpers: configuration like a user's, the output topics read back and decoded.
import type { Kafka } from 'kafkajs';
import { expect, inject } from 'vitest';
import { CATEGORIES } from '../../src/cdr/catalogue.ts';
import { avroType } from '../../src/codec/schemas.ts';
import { unframe } from '../../src/codec/wire.ts';
import { readUntil, uniqueName } from './kafka.ts';

const enrichedType = avroType('cdr-enriched');

export function enricherEnv(raw: { TOPIC_RAW: string }) {
  const run = uniqueName('e');
  return {
    KAFKA_BROKERS: inject('brokers'),
    SCHEMA_REGISTRY_URL: inject('registryUrl'),
    TOPIC_RAW: raw.TOPIC_RAW,
    TOPIC_DLQ: `${run}.dlq`,
    ENRICH_TOPIC_PREFIX: `${run}.enriched.`,
    ENRICH_GROUP_ID: `${run}-group`,
    ENRICH_TRANSACTIONAL_ID_PREFIX: run,
    ENRICH_TOPIC_PARTITIONS: '3',
    TOPIC_REPLICATION_FACTOR: '1',
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: '0',
    LOG_LEVEL: 'info',
    ENRICH_SESSION_TIMEOUT_MS: '8000',
  };
}

export function outputTopics(env: { ENRICH_TOPIC_PREFIX: string }): string[] {
  return [...CATEGORIES, 'unknown'].map((c) => `${env.ENRICH_TOPIC_PREFIX}${c}`);
}

export async function readOutputs(kafka: Kafka, env: { ENRICH_TOPIC_PREFIX: string }, count: number) {
  const received = await readUntil(kafka, outputTopics(env), count);
  return received.map((r) => ({
    topic: r.topic,
    key: r.message.key?.toString(),
    value: enrichedType.fromBuffer(unframe(r.message.value as Buffer).body) as Record<string, unknown> & {
      id: number;
      category: string;
      type: string;
      sub_type: string;
      source: { offset: number; partition: number };
    },
  }));
}

export function expectOncePerRawRecord(
  values: Array<{ source: { partition: number; offset: number } }>,
  total: number,
) {
  const positions = values.map((v) => `${v.source.partition}/${v.source.offset}`);
  expect(new Set(positions).size).toBe(positions.length);
  expect(positions).toHaveLength(total);
}
