// Configuration of `cdr-pipeline enrich`.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { CATEGORIES } from '../cdr/catalogue.ts';
import type { CountryCode } from '../cdr/phone.ts';
import type { RegistryOptions } from '../codec/registry.ts';
import { configError, deepFreeze, type Env, int, parseEnv } from './env.ts';
import { type KafkaConfig, kafkaEnvSchema, readKafkaConfig } from './kafka.ts';
import {
  countryEnvShape,
  feedCountry,
  registryConfig,
  type ServiceOptions,
  serviceEnvShape,
  serviceOptions,
  type TopicCreation,
  topicCreation,
  topicEnvShape,
} from './service.ts';

export const enricherEnvSchema = z.object({
  TOPIC_RAW: z.string().min(1).default('cdr.raw').describe('Topic the enrichers read'),
  ENRICH_TOPIC_PREFIX: z
    .string()
    .min(1)
    .default('cdr.enriched.')
    .describe('Output topic of a category: this prefix and the category'),
  ENRICH_ROUTES_FILE: z
    .string()
    .optional()
    .describe('JSON file {"category": "topic"} overriding the output topic of some categories'),
  ENRICH_GROUP_ID: z
    .string()
    .min(1)
    .default('cdr-enricher')
    .describe('Consumer group shared by every enricher'),
  ENRICH_TOPIC_PARTITIONS: int(1, 10_000)
    .default(6)
    .describe('Partitions of the output topics the enricher creates'),
  ENRICH_SESSION_TIMEOUT_MS: int(6000, 300_000)
    .default(30_000)
    .describe('Consumer session timeout: how soon the partitions of a dead enricher move to another'),
  ENRICH_PARTITIONS_CONCURRENTLY: int(1, 64)
    .default(2)
    .describe('Input partitions processed at once by one enricher'),
  ENRICH_TRANSACTIONAL_ID_PREFIX: z
    .string()
    .min(1)
    .default('cdr-enricher')
    .describe('Prefix of the per-input-partition transactional id'),
  ENRICH_TOPIC_RETENTION_MS: z.coerce
    .number()
    .int()
    .min(-1)
    .default(400 * 24 * 3600 * 1000)
    .describe('retention.ms of the output topics when created (default 400 days; -1 keeps forever)'),
  ...countryEnvShape(),
  ...topicEnvShape(),
  ...serviceEnvShape(9465),
});

export interface EnricherOptions {
  /** The topic enriched (cdr.raw). */
  inputTopic: string;
  /** Output topic per category, `unknown` included. */
  routes: Readonly<Record<string, string>>;
  dlqTopic: string;
  /** Consumer group shared by every enricher. */
  groupId: string;
  transactions: {
    /** Prefix of the per-input-partition transactional id. */
    idPrefix: string;
    timeoutMs: number;
  };
  creation: TopicCreation & { outputPartitions: number; outputRetentionMs: number; dlqRetentionMs: number };
  /** How soon the partitions of a dead enricher move to another. */
  sessionTimeoutMs: number;
  /** Input partitions processed at once by one enricher. */
  partitionsConcurrently: number;
  /** The accounts' home country for phone numbers (FEED_COUNTRY); undefined: each layout's. */
  country: CountryCode | undefined;
  kafka: KafkaConfig;
  registry: RegistryOptions;
  service: ServiceOptions;
}

export function loadEnricherOptions(env: Env): Readonly<EnricherOptions> {
  const cfg = parseEnv(enricherEnvSchema, env);
  const kafka = readKafkaConfig(parseEnv(kafkaEnvSchema, env));
  return deepFreeze({
    inputTopic: cfg.TOPIC_RAW,
    routes: enricherRoutes(cfg),
    dlqTopic: cfg.TOPIC_DLQ,
    groupId: cfg.ENRICH_GROUP_ID,
    transactions: { idPrefix: cfg.ENRICH_TRANSACTIONAL_ID_PREFIX, timeoutMs: cfg.TRANSACTION_TIMEOUT_MS },
    creation: {
      ...topicCreation(cfg),
      outputPartitions: cfg.ENRICH_TOPIC_PARTITIONS,
      outputRetentionMs: cfg.ENRICH_TOPIC_RETENTION_MS,
      dlqRetentionMs: cfg.TOPIC_DLQ_RETENTION_MS,
    },
    sessionTimeoutMs: cfg.ENRICH_SESSION_TIMEOUT_MS,
    partitionsConcurrently: cfg.ENRICH_PARTITIONS_CONCURRENTLY,
    country: feedCountry(cfg),
    kafka,
    registry: registryConfig(cfg),
    service: serviceOptions(cfg),
  });
}

/** The output topic of each category: the prefix and the category, unless the routes file says otherwise. */
export function enricherRoutes(cfg: {
  ENRICH_TOPIC_PREFIX: string;
  ENRICH_ROUTES_FILE?: string | undefined;
}): Record<string, string> {
  const routes: Record<string, string> = {};
  for (const c of [...CATEGORIES, 'unknown']) routes[c] = `${cfg.ENRICH_TOPIC_PREFIX}${c}`;
  if (cfg.ENRICH_ROUTES_FILE) Object.assign(routes, readRoutes(cfg.ENRICH_ROUTES_FILE));
  return routes;
}

function readRoutes(path: string): Record<string, string> {
  const fail = (message: string): never => configError('ENRICH_ROUTES_FILE', message);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    fail(`cannot be read as JSON (${(err as NodeJS.ErrnoException).code ?? 'invalid JSON'})`);
  }
  const result = z.record(z.string(), z.string().min(1)).safeParse(parsed);
  if (!result.success) return fail('must be an object of category to topic name');
  for (const category of Object.keys(result.data)) {
    if (![...CATEGORIES, 'unknown'].includes(category)) fail(`unknown category "${category}"`);
  }
  return result.data;
}
