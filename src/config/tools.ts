// Configuration of the operators' commands (status, cursor, dlq): the same variables as the
// services, so they run in a producer's or enricher's environment (a pod, the local stack) as is.
import { z } from 'zod';
import { type Env, int, parseEnv } from './env.ts';
import { type KafkaConfig, kafkaEnvSchema, readKafkaConfig } from './kafka.ts';
import { producerTopicsShape } from './service.ts';

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
  SCHEMA_REGISTRY_URL: z.url().optional().describe('Registry whose subjects status lists (optional)'),
  TRANSACTION_TIMEOUT_MS: int(1000).default(60_000).describe('Kafka transaction timeout (cursor set)'),
});

export interface ToolsConfig {
  env: Readonly<z.infer<typeof toolsEnvSchema>>;
  kafka: KafkaConfig;
}

export function loadToolsConfig(env: Env): Readonly<ToolsConfig> {
  return Object.freeze({
    env: parseEnv(toolsEnvSchema, env),
    kafka: readKafkaConfig(parseEnv(kafkaEnvSchema, env)),
  });
}

/** `90s`, `15m`, `2h`, `1d` (or plain milliseconds) to milliseconds; undefined when not a duration. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) return undefined;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? 'ms') as 'ms'];
  return Number(m[1]) * unit;
}

/** An instant: ISO 8601 with a zone, or a duration before now (`24h`). */
export function parseInstant(text: string, now: number): number | undefined {
  const ago = parseDuration(text);
  if (ago !== undefined && /[a-z]$/.test(text.trim())) return now - ago;
  if (!/(Z|[+-]\d{2}:\d{2})$/.test(text.trim())) return undefined;
  const t = Date.parse(text);
  return Number.isNaN(t) ? undefined : t;
}
