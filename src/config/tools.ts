// Configuration of the operators' commands (status, cursor, dlq): the same variables as the
// services, so they run in a producer's or enricher's environment (a pod, the local stack) as is.
import { z } from 'zod';
import type { CountryCode } from '../cdr/phone.ts';
import type { RegistryOptions } from '../codec/registry.ts';
import { deepFreeze, type Env, int, parseEnv } from './env.ts';
import { type KafkaConfig, kafkaEnvSchema, readKafkaConfig } from './kafka.ts';
import type { ProducerTopics } from './producer.ts';
import {
  countryEnvShape,
  feedCountry,
  logEnvShape,
  producerTopics,
  producerTopicsShape,
  registryAuthShape,
  registryConfig,
} from './service.ts';

export const toolsEnvSchema = z.object({
  ...producerTopicsShape(),
  TOPIC_DLQ: z.string().min(1).default('cdr.dlq').describe('Dead-letter topic'),
  TOPIC_REPLAY: z
    .string()
    .min(1)
    .default('cdr.replay')
    .describe('Compacted topic of replay copies: bounds and criteria per replay id'),
  TRANSACTIONAL_ID_PREFIX: z
    .string()
    .min(1)
    .default('cdr-producer')
    .describe(
      "The producers' transactional id prefix (cursor set fences the id that wrote the cursor; prefix-login for records from before the pool)",
    ),
  ENRICH_GROUP_ID: z.string().min(1).default('cdr-enricher').describe("The enrichers' consumer group"),
  ENRICH_TOPIC_PREFIX: z.string().min(1).default('cdr.enriched.').describe('Prefix of the enriched topics'),
  SCHEMA_REGISTRY_URL: z
    .url()
    .optional()
    .describe('Registry the reading tools decode with, and whose subjects status lists'),
  ...registryAuthShape(),
  TRANSACTION_TIMEOUT_MS: int(1000).default(60_000).describe('Kafka transaction timeout (cursor set)'),
  ...countryEnvShape(),
  ...logEnvShape('warn'),
});

/** What the operators' and billing teams' commands read and write. */
export interface ToolsOptions {
  topics: ProducerTopics & {
    /** Compacted topic of replay copies: bounds and criteria per replay id. */
    replay: string;
  };
  producers: {
    /** The producers' transactional id prefix (records from before the pool name none). */
    idPrefix: string;
    transactionTimeoutMs: number;
  };
  enrichers: { groupId: string; topicPrefix: string };
  /** The registry with its credentials and CA, when set: records are decoded with it, and status lists its subjects. */
  registry: RegistryOptions | undefined;
  /** The accounts' home country for phone numbers (FEED_COUNTRY); undefined: each layout's. */
  country: CountryCode | undefined;
  kafka: KafkaConfig;
}

export function loadToolsOptions(env: Env): Readonly<ToolsOptions> {
  const cfg = parseEnv(toolsEnvSchema, env);
  return deepFreeze({
    topics: { ...producerTopics(cfg), replay: cfg.TOPIC_REPLAY },
    producers: { idPrefix: cfg.TRANSACTIONAL_ID_PREFIX, transactionTimeoutMs: cfg.TRANSACTION_TIMEOUT_MS },
    enrichers: { groupId: cfg.ENRICH_GROUP_ID, topicPrefix: cfg.ENRICH_TOPIC_PREFIX },
    registry:
      cfg.SCHEMA_REGISTRY_URL === undefined
        ? undefined
        : registryConfig({ ...cfg, SCHEMA_REGISTRY_URL: cfg.SCHEMA_REGISTRY_URL }),
    country: feedCountry(cfg),
    kafka: readKafkaConfig(parseEnv(kafkaEnvSchema, env)),
  });
}
