// Configuration of `cdr-pipeline enrich`.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { CATEGORIES } from '../cdr/catalogue.ts';
import { configError, type Env, int, parseEnv } from './env.ts';
import { type KafkaConfig, kafkaEnvSchema, readKafkaConfig } from './kafka.ts';
import { registryConfig, serviceEnvShape, topicEnvShape } from './service.ts';

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
  ...topicEnvShape(),
  ...serviceEnvShape(9465),
});

export interface EnricherConfig {
  env: Readonly<z.infer<typeof enricherEnvSchema>>;
  kafka: KafkaConfig;
  registry: { url: string; username?: string; password?: string };
  /** Output topic per category, `unknown` included. */
  routes: Readonly<Record<string, string>>;
}

export function loadEnricherConfig(env: Env): Readonly<EnricherConfig> {
  const cfg = parseEnv(enricherEnvSchema, env);
  const kafka = readKafkaConfig(parseEnv(kafkaEnvSchema, env));
  const routes: Record<string, string> = {};
  for (const c of [...CATEGORIES, 'unknown']) routes[c] = `${cfg.ENRICH_TOPIC_PREFIX}${c}`;
  if (cfg.ENRICH_ROUTES_FILE) Object.assign(routes, readRoutes(cfg.ENRICH_ROUTES_FILE));
  return Object.freeze({
    env: cfg,
    kafka,
    registry: registryConfig(cfg),
    routes: Object.freeze(routes),
  });
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
