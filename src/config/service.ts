// Keys every long-running command shares: the schema registry, the health/metrics server,
// shutdown and logging, and the registry connection read from them. Spread into each command's schema; only HTTP_PORT's default differs.
import { z } from 'zod';
import { type CountryCode, countryCode } from '../cdr/phone.ts';
import type { RegistryOptions } from '../codec/registry.ts';
import { configError, type Env, int, parseEnv, readConfigFile, readPemFile, secret } from './env.ts';

export function serviceEnvShape(defaultHttpPort: number) {
  return {
    SCHEMA_REGISTRY_URL: z
      .url()
      .describe('Confluent-compatible schema registry (Apicurio: …/apis/ccompat/v7)'),
    ...registryAuthShape(),
    HTTP_HOST: z.string().default('0.0.0.0').describe('Address of the health and metrics server'),
    HTTP_PORT: int(0, 65535)
      .default(defaultHttpPort)
      .describe('Port of /healthz, /readyz and /metrics (0: any free port)'),
    SHUTDOWN_TIMEOUT_MS: int(100)
      .default(20_000)
      .describe('Longest graceful stop before the process exits anyway'),
    ...logEnvShape('info'),
  };
}

/** The log settings of every command (a tool's default level is warn: its output is on stdout). */
export function logEnvShape(defaultLevel: 'info' | 'warn') {
  return {
    LOG_LEVEL: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default(defaultLevel)
      .describe(`pino level (the operators' commands: warn, on stderr)`),
    LOG_FORMAT: z
      .enum(['json', 'pretty'])
      .optional()
      .describe(
        'json: JSON lines; pretty: readable lines (pino-pretty). Unset: pretty on a terminal, else json',
      ),
  };
}

export interface LogOptions {
  level: string;
  /** Unset: pretty on a terminal, else JSON lines. */
  format: 'json' | 'pretty' | undefined;
}

/** The log settings alone: what a command needs before it knows which command it is. */
export function loadLogOptions(env: Env, defaultLevel: 'info' | 'warn'): LogOptions {
  const cfg = parseEnv(z.object(logEnvShape(defaultLevel)), env);
  return { level: cfg.LOG_LEVEL, format: cfg.LOG_FORMAT };
}

/** The producer's topics, as the producer writes them and the tools read them. */
export function producerTopicsShape() {
  return {
    TOPIC_RAW: z.string().min(1).default('cdr.raw').describe('Topic of the CDRs'),
    TOPIC_CURSOR: z
      .string()
      .min(1)
      .default('cdr.cursor')
      .describe('Compacted topic of the per-account cursors'),
    TOPIC_CONTROL: z
      .string()
      .min(1)
      .default('cdr.control')
      .describe('Topic of the control totals written with each batch (per account and billing period)'),
    TOPIC_CONTROL_TOTALS: z
      .string()
      .min(1)
      .default('cdr.control.totals')
      .describe(
        'Compacted topic of the running control totals per account and billing period (reconcile --fast, the period index)',
      ),
  };
}

/** The producer's topics by role, from the variables of producerTopicsShape and topicEnvShape. */
export function producerTopics(cfg: {
  TOPIC_RAW: string;
  TOPIC_CURSOR: string;
  TOPIC_CONTROL: string;
  TOPIC_CONTROL_TOTALS: string;
  TOPIC_DLQ: string;
}) {
  return {
    raw: cfg.TOPIC_RAW,
    cursor: cfg.TOPIC_CURSOR,
    control: cfg.TOPIC_CONTROL,
    controlTotals: cfg.TOPIC_CONTROL_TOTALS,
    dlq: cfg.TOPIC_DLQ,
  };
}

/** Topic keys shared by the producer and the enrichers: whichever creates a topic creates it alike. */
export function topicEnvShape() {
  return {
    TOPIC_DLQ: z
      .string()
      .min(1)
      .default('cdr.dlq')
      .describe('Dead-letter topic of invalid rows and undecodable records'),
    TOPIC_DLQ_RETENTION_MS: z.coerce
      .number()
      .int()
      .min(-1)
      .default(90 * 24 * 3600 * 1000)
      .describe('retention.ms of the dead-letter topic when created (default 90 days)'),
    TOPIC_REPLICATION_FACTOR: int(1, 10).default(3).describe('Replication factor of the topics created'),
    TOPIC_MIN_INSYNC_REPLICAS: int(1, 10)
      .optional()
      .describe(
        'min.insync.replicas of the topics created (default 2 when the replication factor is 3+, else 1)',
      ),
    TRANSACTION_TIMEOUT_MS: int(1000).default(60_000).describe('Kafka transaction timeout'),
  };
}

/** What every long-running command has: its health and metrics server, its stop, its log. */
export interface ServiceOptions {
  http: { host: string; port: number };
  shutdownTimeoutMs: number;
  log: LogOptions;
}

export function serviceOptions(env: {
  HTTP_HOST: string;
  HTTP_PORT: number;
  SHUTDOWN_TIMEOUT_MS: number;
  LOG_LEVEL: string;
  LOG_FORMAT?: 'json' | 'pretty' | undefined;
}): ServiceOptions {
  return {
    http: { host: env.HTTP_HOST, port: env.HTTP_PORT },
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
    log: { level: env.LOG_LEVEL, format: env.LOG_FORMAT },
  };
}

/** How the producer and the enrichers create a missing topic: alike, whichever comes first. */
export interface TopicCreation {
  replicationFactor: number;
  /** Unset: 2 with three replicas or more, else 1. */
  minInsyncReplicas?: number | undefined;
}

export function topicCreation(env: {
  TOPIC_REPLICATION_FACTOR: number;
  TOPIC_MIN_INSYNC_REPLICAS?: number | undefined;
}): TopicCreation {
  return {
    replicationFactor: env.TOPIC_REPLICATION_FACTOR,
    minInsyncReplicas: env.TOPIC_MIN_INSYNC_REPLICAS,
  };
}

/** The registry connection: URL and, when set, basic-auth user and password (inline or file). */
/** How to reach the registry beside its URL: basic auth, a private CA, a bearer token. */
export function registryAuthShape() {
  return {
    SCHEMA_REGISTRY_USERNAME: z.string().optional().describe('Registry basic-auth user'),
    SCHEMA_REGISTRY_PASSWORD: z.string().optional().describe('Registry basic-auth password'),
    SCHEMA_REGISTRY_PASSWORD_FILE: z.string().optional().describe('File holding the registry password'),
    SCHEMA_REGISTRY_CA_FILE: z
      .string()
      .optional()
      .describe("PEM file of a private CA that signed the registry's certificate (beside the system's)"),
    SCHEMA_REGISTRY_TOKEN_FILE: z
      .string()
      .optional()
      .describe('File holding a bearer token for the registry, read again every 30 s (rotated underneath)'),
  };
}

export function registryConfig(env: {
  SCHEMA_REGISTRY_URL: string;
  SCHEMA_REGISTRY_USERNAME?: string | undefined;
  SCHEMA_REGISTRY_PASSWORD?: string | undefined;
  SCHEMA_REGISTRY_PASSWORD_FILE?: string | undefined;
  SCHEMA_REGISTRY_CA_FILE?: string | undefined;
  SCHEMA_REGISTRY_TOKEN_FILE?: string | undefined;
}): RegistryOptions {
  const password = secret(
    env.SCHEMA_REGISTRY_PASSWORD,
    env.SCHEMA_REGISTRY_PASSWORD_FILE,
    'SCHEMA_REGISTRY_PASSWORD',
  );
  if (env.SCHEMA_REGISTRY_TOKEN_FILE !== undefined && env.SCHEMA_REGISTRY_USERNAME)
    configError(
      'SCHEMA_REGISTRY_TOKEN_FILE',
      'set either SCHEMA_REGISTRY_USERNAME or SCHEMA_REGISTRY_TOKEN_FILE, not both',
    );
  return Object.freeze({
    url: env.SCHEMA_REGISTRY_URL,
    ...(env.SCHEMA_REGISTRY_USERNAME ? { username: env.SCHEMA_REGISTRY_USERNAME } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(env.SCHEMA_REGISTRY_CA_FILE === undefined
      ? {}
      : { ca: readPemFile('SCHEMA_REGISTRY_CA_FILE', env.SCHEMA_REGISTRY_CA_FILE) }),
    ...(env.SCHEMA_REGISTRY_TOKEN_FILE === undefined
      ? {}
      : { token: tokenFile('SCHEMA_REGISTRY_TOKEN_FILE', env.SCHEMA_REGISTRY_TOKEN_FILE) }),
  });
}

/** A token file read at start (a missing one fails there) and again every 30 s. */
function tokenFile(key: string, path: string): () => string {
  const read = () => readConfigFile(key, path).trim();
  let token = read();
  let readAt = Date.now();
  if (token === '') configError(key, 'is empty');
  return () => {
    if (Date.now() - readAt > 30_000) {
      // A file being rotated may be missing or empty for a moment: the last token stays.
      try {
        token = read() || token;
      } catch {}
      readAt = Date.now();
    }
    return token;
  };
}

/** FEED_COUNTRY: the accounts' home country, for their phone numbers (the enricher, the reading tools). */
export function countryEnvShape() {
  return {
    FEED_COUNTRY: z
      .string()
      .optional()
      .refine((v) => v === undefined || countryCode(v) !== undefined, {
        message: 'must be an ISO 3166-1 country code with a telephone numbering plan, e.g. NZ or AU',
      })
      .describe(
        "The accounts' home country (ISO 3166-1, e.g. NZ): phone numbers sent in national form are read as its; default from each record's layout (contract AU, legacy17 NZ)",
      ),
  };
}

export function feedCountry(cfg: { FEED_COUNTRY?: string | undefined }): CountryCode | undefined {
  return cfg.FEED_COUNTRY === undefined ? undefined : countryCode(cfg.FEED_COUNTRY);
}
