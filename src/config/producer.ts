// Configuration of `cdr-pipeline produce`. Secrets can come from files (a mounted Kubernetes
// secret): FEED_PASSWORD_FILE, KAFKA_SASL_PASSWORD_FILE, SCHEMA_REGISTRY_PASSWORD_FILE, and the
// passwordFile of each entry of FEED_ACCOUNTS_FILE.
import { z } from 'zod';
import type { Layout } from '../cdr/layouts.ts';
import { isValidTimeZone } from '../cdr/time-zone.ts';
import type { RegistryOptions } from '../codec/registry.ts';
import {
  accountsEnvShape,
  type EgressOptions,
  egressEnvShape,
  type FeedAccount,
  readAccounts,
  readEgress,
} from './accounts.ts';

export type { FeedAccount } from './accounts.ts';

import { bool, configError, deepFreeze, type Env, int, parseEnv } from './env.ts';
import { type KafkaConfig, kafkaEnvSchema, readKafkaConfig } from './kafka.ts';
import { dateForm, dateTimeForm, readLayouts, timeForm } from './layouts.ts';
import {
  producerTopics,
  producerTopicsShape,
  registryConfig,
  type ServiceOptions,
  serviceEnvShape,
  serviceOptions,
  type TopicCreation,
  topicCreation,
  topicEnvShape,
} from './service.ts';

export const COMPRESSIONS = ['none', 'gzip', 'lz4', 'zstd'] as const;
export type Compression = (typeof COMPRESSIONS)[number];

export const producerEnvSchema = z.object({
  FEED_URL: z
    .url({ protocol: /^https?$/ })
    .describe('Base URL of the billing feed (…/billing/feed is appended)'),
  ...accountsEnvShape(),
  ...egressEnvShape(),
  FEED_POLL_INTERVAL_MS: int(100)
    .default(5000)
    .describe(
      'Pause after a poll that brought nothing new (while responses bring rows, the next is asked at once)',
    ),
  FEED_COLUMNS_FILE: z
    .string()
    .optional()
    .describe('JSON or YAML column map for a layout other than the two built in (see docs/carrier.md)'),
  FEED_DELIMITER: z
    .enum([',', ';', '|', '\t', 'tab'])
    .default(',')
    .transform((d) => (d === 'tab' ? '\t' : d))
    .describe('Field delimiter of the feed: , ; | or tab'),
  FEED_CURRENCY: z
    .string()
    .regex(/^[A-Z]{3}$/, 'must be a three-letter currency code')
    .optional()
    .describe('Currency of cost when the header does not name one (as Call Cost (NZD) does)'),
  FEED_DATE_FORMAT: dateForm
    .default('DD/MM/YYYY')
    .describe("Form of the 17-column layout's Date (ISO YYYY-MM-DD is always read too)"),
  FEED_TIME_FORMAT: timeForm.default('HH:MM:SS').describe("Form of the 17-column layout's Time"),
  FEED_DATETIME_FORMAT: dateTimeForm
    .default('DD/MM/YYYY HH:MM:SS')
    .describe("Form of the 17-column layout's Date/Time (ISO 8601 is always read too)"),
  FEED_START_ID: int(0)
    .default(0)
    .describe('First id to publish when an account has no cursor yet (0: the whole history)'),
  FEED_TIMEZONE: z
    .string()
    .refine(isValidTimeZone, 'is not an IANA time zone')
    .default('Australia/Sydney')
    .describe('Zone of start_time values sent without an offset'),
  FEED_HEADERS_TIMEOUT_MS: int(100).default(30_000).describe('Time to wait for the feed response headers'),
  FEED_MAX_CONCURRENT_POLLS: int(1, 1000)
    .default(8)
    .describe('Feed requests in flight at most for the whole process (accounts take turns)'),
  FEED_BODY_IDLE_TIMEOUT_MS: int(100)
    .default(60_000)
    .describe('Longest silence allowed inside a response body'),
  FEED_MAX_INFLATE_RATIO: int(2, 100_000)
    .default(200)
    .describe(
      'A gzip or deflate feed body may inflate to this many times its size at most (CSV: 5-20); past it, refused as a decompression bomb',
    ),
  FEED_BACKOFF_MIN_MS: int(1).default(1000).describe('First retry delay after a feed failure'),
  FEED_BACKOFF_MAX_MS: int(1).default(60_000).describe('Longest retry delay after repeated feed failures'),
  FEED_AUTH_RETRY_MS: int(100)
    .default(300_000)
    .describe('Retry delay after the feed refused the login (401/403) or sent a header that fits no layout'),
  FEED_MAX_RECORD_CHARS: int(1024, 64 * 1024 * 1024)
    .default(256 * 1024)
    .describe(
      'Longest CSV record read; a longer one is dead-lettered (raw text clipped) and reading goes on',
    ),
  DLQ_RAW_MAX_CHARS: int(256, 512 * 1024)
    .default(64 * 1024)
    .describe('Raw text of a row kept in its dead letter at most (the rest is clipped)'),
  BATCH_MAX_ROWS: int(1, 100_000).default(5000).describe('Rows per Kafka transaction at most'),
  BATCH_MAX_MS: int(1).default(1000).describe('Age of a batch at which it is committed even if not full'),
  TRANSACTIONAL_ID_PREFIX: z
    .string()
    .min(1)
    .default('cdr-producer')
    .describe(
      "Prefix of the pool's transactional ids (prefix-slot-N); one per producer process (or Helm group)",
    ),
  KAFKA_COMPRESSION: z
    .enum(COMPRESSIONS)
    .default('none')
    .describe(
      'Compression of the record batches the producer writes (docs/performance.md: none is fastest here)',
    ),
  PRODUCER_POOL_SIZE: int(1, 256)
    .default(4)
    .describe(
      'Transactional producers of the process (its Kafka connections); accounts are shared among them by a hash of the login',
    ),
  PRODUCER_PARSE_WORKERS: int(0, 64)
    .default(1)
    .describe(
      'Worker threads that parse and encode feed responses (0: on the main thread); docs/performance.md',
    ),
  NO_GROUP_KEY_PREFIX: z
    .string()
    .default('account:')
    .describe('Key of a CDR with an empty billing group: this prefix and the account'),
  ...producerTopicsShape(),
  TOPIC_RAW_PARTITIONS: int(1, 10_000)
    .default(6)
    .describe('Partitions of cdr.raw when the producer creates it'),
  TOPIC_RAW_RETENTION_MS: z.coerce
    .number()
    .int()
    .min(-1)
    .default(400 * 24 * 3600 * 1000)
    .describe('retention.ms of cdr.raw when created (default 400 days; -1 keeps forever)'),
  READY_POLL_STALE_MS: int(1000)
    .default(120_000)
    .describe('/readyz fails when an account has not polled for this long'),
  ...topicEnvShape(),
  ...serviceEnvShape(9464),
  LOG_PROGRESS: bool().default(true).describe('Log a progress line per committed batch (info level)'),
});

/** How the feed is asked: where, how often, how long to wait, how to back off. */
export interface FeedOptions {
  /** Base URL (…/billing/feed is appended). */
  url: string;
  pollIntervalMs: number;
  headersTimeoutMs: number;
  bodyIdleTimeoutMs: number;
  maxInflateRatio: number;
  /** Feed requests in flight at most for the whole process. */
  maxConcurrentPolls: number;
  backoff: { minMs: number; maxMs: number };
  /** Retry delay after a refused login or a header that fits no layout. */
  authRetryMs: number;
  /** First id wanted when an account has no cursor yet. */
  startId: number;
  /** The forward proxy the carrier is reached through (its whitelisted egress address), if any. */
  egress: EgressOptions;
}

/** How a response's rows are read and what their records look like. Plain data (crosses to a worker). */
export interface RowOptions {
  /** The layouts a header is matched against, in order. */
  layouts: readonly Layout[];
  /** Zone of start times sent without an offset. */
  timeZone: string;
  /** Currency of cost when the header names none. */
  currency: string | undefined;
  delimiter: string;
  maxRecordChars: number;
  /** Raw text of a row kept in its dead letter at most. */
  deadLetterRawMaxChars: number;
  /** Key of a CDR with an empty billing group: this prefix and the account. */
  noGroupKeyPrefix: string;
}

export interface BatchOptions {
  maxRows: number;
  maxMs: number;
}

/** The topics the producer writes (and the tools read). */
export interface ProducerTopics {
  raw: string;
  cursor: string;
  control: string;
  controlTotals: string;
  dlq: string;
}

export interface ProducerOptions {
  accounts: readonly FeedAccount[];
  feed: FeedOptions;
  rows: RowOptions;
  batch: BatchOptions;
  topics: ProducerTopics;
  creation: TopicCreation & { rawPartitions: number; rawRetentionMs: number; dlqRetentionMs: number };
  transactions: {
    /** Prefix of the pool's transactional ids (prefix-slot-N). */
    idPrefix: string;
    timeoutMs: number;
    poolSize: number;
    compression: Compression;
  };
  /** Worker threads that parse responses (0: the main thread). */
  parseWorkers: number;
  /** /readyz fails when an account has not polled for this long. */
  readyPollStaleMs: number;
  /** A progress line per committed batch. */
  logProgress: boolean;
  kafka: KafkaConfig;
  registry: RegistryOptions;
  service: ServiceOptions;
}

export function loadProducerOptions(env: Env): Readonly<ProducerOptions> {
  const cfg = parseEnv(producerEnvSchema, env);
  const kafka = readKafkaConfig(parseEnv(kafkaEnvSchema, env));
  if (cfg.FEED_BACKOFF_MAX_MS < cfg.FEED_BACKOFF_MIN_MS)
    configError('FEED_BACKOFF_MAX_MS', 'must be >= FEED_BACKOFF_MIN_MS');
  return deepFreeze({
    accounts: readAccounts(cfg),
    feed: {
      url: cfg.FEED_URL,
      pollIntervalMs: cfg.FEED_POLL_INTERVAL_MS,
      headersTimeoutMs: cfg.FEED_HEADERS_TIMEOUT_MS,
      bodyIdleTimeoutMs: cfg.FEED_BODY_IDLE_TIMEOUT_MS,
      maxInflateRatio: cfg.FEED_MAX_INFLATE_RATIO,
      maxConcurrentPolls: cfg.FEED_MAX_CONCURRENT_POLLS,
      backoff: { minMs: cfg.FEED_BACKOFF_MIN_MS, maxMs: cfg.FEED_BACKOFF_MAX_MS },
      authRetryMs: cfg.FEED_AUTH_RETRY_MS,
      startId: cfg.FEED_START_ID,
      egress: readEgress(cfg),
    },
    rows: {
      layouts: readLayouts(cfg),
      timeZone: cfg.FEED_TIMEZONE,
      currency: cfg.FEED_CURRENCY,
      delimiter: cfg.FEED_DELIMITER,
      maxRecordChars: cfg.FEED_MAX_RECORD_CHARS,
      deadLetterRawMaxChars: cfg.DLQ_RAW_MAX_CHARS,
      noGroupKeyPrefix: cfg.NO_GROUP_KEY_PREFIX,
    },
    batch: { maxRows: cfg.BATCH_MAX_ROWS, maxMs: cfg.BATCH_MAX_MS },
    topics: producerTopics(cfg),
    creation: {
      ...topicCreation(cfg),
      rawPartitions: cfg.TOPIC_RAW_PARTITIONS,
      rawRetentionMs: cfg.TOPIC_RAW_RETENTION_MS,
      dlqRetentionMs: cfg.TOPIC_DLQ_RETENTION_MS,
    },
    transactions: {
      idPrefix: cfg.TRANSACTIONAL_ID_PREFIX,
      timeoutMs: cfg.TRANSACTION_TIMEOUT_MS,
      poolSize: cfg.PRODUCER_POOL_SIZE,
      compression: cfg.KAFKA_COMPRESSION,
    },
    parseWorkers: cfg.PRODUCER_PARSE_WORKERS,
    readyPollStaleMs: cfg.READY_POLL_STALE_MS,
    logProgress: cfg.LOG_PROGRESS,
    kafka,
    registry: registryConfig(cfg),
    service: serviceOptions(cfg),
  });
}
