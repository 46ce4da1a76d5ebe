// Configuration of `cdr-pipeline recordings`: where the carrier serves recordings, the accounts'
// credentials (the feed's), the object storage they go to, and how hard to press the carrier.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import type { RegistryOptions } from '../codec/registry.ts';
import {
  accountsEnvShape,
  type EgressOptions,
  egressEnvShape,
  type FeedAccount,
  readAccounts,
  readEgress,
} from './accounts.ts';
import { bool, configError, deepFreeze, type Env, int, parseEnv, secret } from './env.ts';
import { type KafkaConfig, kafkaEnvSchema, readKafkaConfig } from './kafka.ts';
import {
  registryAuthShape,
  registryConfig,
  type ServiceOptions,
  serviceEnvShape,
  serviceOptions,
  type TopicCreation,
  topicCreation,
  topicEnvShape,
} from './service.ts';

const MIB = 1024 * 1024;

/** The object storage of the recordings: the stage writes it, `recordings get` and `status` read it. */
export function storeEnvShape() {
  return {
    RECORDINGS_MULTIPART_BYTES: int(5 * MIB)
      .default(64 * MIB)
      .describe('Recordings at least this large are uploaded in parts (S3 multipart)'),
    S3_BUCKET: z.string().min(3).describe('Bucket the recordings are stored in (it must exist)'),
    S3_ENDPOINT: z
      .url({ protocol: /^https?$/ })
      .optional()
      .describe('S3 endpoint (unset: AWS for S3_REGION); MinIO, Ceph, s3proxy and the like need one'),
    S3_REGION: z.string().min(1).default('us-east-1').describe('S3 region'),
    S3_PATH_STYLE: bool()
      .default(false)
      .describe('Path-style bucket addressing (most S3-compatible servers)'),
    S3_ACCESS_KEY_ID: z
      .string()
      .optional()
      .describe('S3 access key (unset: the AWS default credential chain)'),
    S3_ACCESS_KEY_ID_FILE: z.string().optional().describe('File holding the S3 access key'),
    S3_SECRET_ACCESS_KEY: z.string().optional().describe('S3 secret key (prefer S3_SECRET_ACCESS_KEY_FILE)'),
    S3_SECRET_ACCESS_KEY_FILE: z.string().optional().describe('File holding the S3 secret key'),
    S3_SSE: z
      .enum(['none', 'AES256', 'aws:kms'])
      .default('none')
      .describe('Server-side encryption asked per object (none: the bucket default, which should encrypt)'),
    S3_SSE_KMS_KEY_ID: z.string().optional().describe('KMS key of S3_SSE=aws:kms'),
    S3_STORAGE_CLASS: z
      .string()
      .optional()
      .describe('Storage class of the objects (unset: the bucket default)'),
    S3_KEY_PREFIX: z.string().default('').describe('Prefix of every object key'),
    S3_CREATE_BUCKET: bool()
      .default(false)
      .describe('Create the bucket when missing (the local stack; in production the bucket exists)'),
  };
}

export const recordingsEnvSchema = z.object({
  RECORDINGS_URL: z
    .string()
    .refine(
      (v) =>
        /^https?:\/\//.test(v.replaceAll(/\{(path|account|id)\}/g, 'x')) &&
        URL.canParse(v.replaceAll(/\{(path|account|id)\}/g, 'x')),
      'must be an http(s) URL',
    )
    .describe(
      "Where the carrier serves recordings: a base URL the MP3 column's path is appended to, or a template with {path}, {account}, {id}; login and password are added as the feed sends them",
    ),
  TOPIC_RAW: z.string().min(1).default('cdr.raw').describe('Topic of the CDRs the stage reads'),
  TOPIC_RECORDINGS: z
    .string()
    .min(1)
    .default('cdr.recordings')
    .describe('Topic of the recording references (one per CDR with a recording)'),
  RECORDINGS_TOPIC_PARTITIONS: int(1, 10_000)
    .default(6)
    .describe('Partitions of cdr.recordings when created'),
  RECORDINGS_TOPIC_RETENTION_MS: z.coerce
    .number()
    .int()
    .min(-1)
    .default(400 * 24 * 3600 * 1000)
    .describe('retention.ms of cdr.recordings when created (default 400 days; -1 keeps forever)'),
  RECORDINGS_GROUP_ID: z
    .string()
    .min(1)
    .default('cdr-recordings')
    .describe('Consumer group of the recordings stage'),
  RECORDINGS_TRANSACTIONAL_ID_PREFIX: z
    .string()
    .min(1)
    .default('cdr-recordings')
    .describe('Prefix of the per-input-partition transactional id'),
  RECORDINGS_SESSION_TIMEOUT_MS: int(6000, 300_000).default(30_000).describe('Consumer session timeout'),
  RECORDINGS_PARTITIONS_CONCURRENTLY: int(1, 64).default(4).describe('Input partitions worked on at once'),
  RECORDINGS_CONCURRENCY: int(1, 1024)
    .default(16)
    .describe('Downloads in flight at most, for the whole process'),
  RECORDINGS_ACCOUNT_CONCURRENCY: int(1, 1024)
    .default(4)
    .describe(
      "Downloads in flight at most for one account (its share: a slow account does not hold the others' permits)",
    ),
  RECORDINGS_MAX_WAIT_MS: int(0)
    .default(30 * 60 * 1000)
    .describe(
      'How long after its CDR was published a recording the carrier answers 404 for is asked again; then dead-lettered RECORDING_NOT_FOUND',
    ),
  RECORDINGS_MAX_BYTES: int(1)
    .default(100 * MIB)
    .describe('Largest recording taken; a larger one is dead-lettered RECORDING_TOO_LARGE'),
  RECORDINGS_HEADERS_TIMEOUT_MS: int(100)
    .default(30_000)
    .describe('Longest wait for the answer of a recording request'),
  RECORDINGS_BODY_IDLE_TIMEOUT_MS: int(100).default(30_000).describe('Longest pause inside a recording body'),
  RECORDINGS_RETRY_MIN_MS: int(1).default(1000).describe('First wait before a recording is asked again'),
  RECORDINGS_RETRY_MAX_MS: int(1).default(60_000).describe('Longest wait before a recording is asked again'),
  RECORDINGS_SPOOL_DIR: z
    .string()
    .min(1)
    .default(join(tmpdir(), 'cdr-recordings'))
    .describe(
      'Local folder a recording is written to while it is downloaded and hashed (one file per download in flight)',
    ),
  ...storeEnvShape(),
  ...accountsEnvShape(),
  ...egressEnvShape(),
  ...topicEnvShape(),
  ...serviceEnvShape(9467),
});

export interface ObjectStoreOptions {
  bucket: string;
  endpoint: string | undefined;
  region: string;
  pathStyle: boolean;
  /** undefined: the AWS default credential chain. */
  credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
  sse: 'none' | 'AES256' | 'aws:kms';
  sseKmsKeyId: string | undefined;
  storageClass: string | undefined;
  keyPrefix: string;
  createBucket: boolean;
  multipartBytes: number;
}

export interface RecordingsOptions {
  /** Base URL or template ({path}, {account}, {id}). */
  url: string;
  accounts: readonly FeedAccount[];
  egress: EgressOptions;
  inputTopic: string;
  outputTopic: string;
  dlqTopic: string;
  groupId: string;
  transactions: { idPrefix: string; timeoutMs: number };
  creation: TopicCreation & { outputPartitions: number; outputRetentionMs: number; dlqRetentionMs: number };
  sessionTimeoutMs: number;
  partitionsConcurrently: number;
  fetch: {
    concurrency: number;
    accountConcurrency: number;
    maxWaitMs: number;
    maxBytes: number;
    headersTimeoutMs: number;
    bodyIdleTimeoutMs: number;
    retry: { minMs: number; maxMs: number };
    spoolDir: string;
  };
  store: ObjectStoreOptions;
  kafka: KafkaConfig;
  registry: RegistryOptions;
  service: ServiceOptions;
}

export function loadRecordingsOptions(env: Env): Readonly<RecordingsOptions> {
  const cfg = parseEnv(recordingsEnvSchema, env);
  const kafka = readKafkaConfig(parseEnv(kafkaEnvSchema, env));
  if (cfg.RECORDINGS_RETRY_MAX_MS < cfg.RECORDINGS_RETRY_MIN_MS)
    configError('RECORDINGS_RETRY_MAX_MS', 'must be >= RECORDINGS_RETRY_MIN_MS');
  return deepFreeze({
    url: cfg.RECORDINGS_URL,
    accounts: readAccounts(cfg),
    egress: readEgress(cfg),
    inputTopic: cfg.TOPIC_RAW,
    outputTopic: cfg.TOPIC_RECORDINGS,
    dlqTopic: cfg.TOPIC_DLQ,
    groupId: cfg.RECORDINGS_GROUP_ID,
    transactions: { idPrefix: cfg.RECORDINGS_TRANSACTIONAL_ID_PREFIX, timeoutMs: cfg.TRANSACTION_TIMEOUT_MS },
    creation: {
      ...topicCreation(cfg),
      outputPartitions: cfg.RECORDINGS_TOPIC_PARTITIONS,
      outputRetentionMs: cfg.RECORDINGS_TOPIC_RETENTION_MS,
      dlqRetentionMs: cfg.TOPIC_DLQ_RETENTION_MS,
    },
    sessionTimeoutMs: cfg.RECORDINGS_SESSION_TIMEOUT_MS,
    partitionsConcurrently: cfg.RECORDINGS_PARTITIONS_CONCURRENTLY,
    fetch: {
      concurrency: cfg.RECORDINGS_CONCURRENCY,
      accountConcurrency: cfg.RECORDINGS_ACCOUNT_CONCURRENCY,
      maxWaitMs: cfg.RECORDINGS_MAX_WAIT_MS,
      maxBytes: cfg.RECORDINGS_MAX_BYTES,
      headersTimeoutMs: cfg.RECORDINGS_HEADERS_TIMEOUT_MS,
      bodyIdleTimeoutMs: cfg.RECORDINGS_BODY_IDLE_TIMEOUT_MS,
      retry: { minMs: cfg.RECORDINGS_RETRY_MIN_MS, maxMs: cfg.RECORDINGS_RETRY_MAX_MS },
      spoolDir: cfg.RECORDINGS_SPOOL_DIR,
    },
    store: readStore(cfg),
    kafka,
    registry: registryConfig(cfg),
    service: serviceOptions(cfg),
  });
}

function readStore(cfg: z.infer<z.ZodObject<ReturnType<typeof storeEnvShape>>>): ObjectStoreOptions {
  const accessKeyId = secret(cfg.S3_ACCESS_KEY_ID, cfg.S3_ACCESS_KEY_ID_FILE, 'S3_ACCESS_KEY_ID');
  const secretAccessKey = secret(
    cfg.S3_SECRET_ACCESS_KEY,
    cfg.S3_SECRET_ACCESS_KEY_FILE,
    'S3_SECRET_ACCESS_KEY',
  );
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined))
    configError(
      accessKeyId === undefined ? 'S3_ACCESS_KEY_ID' : 'S3_SECRET_ACCESS_KEY',
      'set both S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY (or their _FILE forms), or neither',
    );
  if (cfg.S3_SSE === 'aws:kms' && cfg.S3_SSE_KMS_KEY_ID === undefined)
    configError('S3_SSE_KMS_KEY_ID', 'is required with S3_SSE=aws:kms');
  return {
    bucket: cfg.S3_BUCKET,
    endpoint: cfg.S3_ENDPOINT,
    region: cfg.S3_REGION,
    pathStyle: cfg.S3_PATH_STYLE,
    credentials:
      accessKeyId !== undefined && secretAccessKey !== undefined
        ? { accessKeyId, secretAccessKey }
        : undefined,
    sse: cfg.S3_SSE,
    sseKmsKeyId: cfg.S3_SSE_KMS_KEY_ID,
    storageClass: cfg.S3_STORAGE_CLASS,
    keyPrefix: cfg.S3_KEY_PREFIX,
    createBucket: cfg.S3_CREATE_BUCKET,
    multipartBytes: cfg.RECORDINGS_MULTIPART_BYTES,
  };
}

export const recordingsToolEnvSchema = z.object({
  TOPIC_RAW: z.string().min(1).default('cdr.raw').describe('Topic of the CDRs'),
  TOPIC_RECORDINGS: z.string().min(1).default('cdr.recordings').describe('Topic of the recording references'),
  TOPIC_DLQ: z.string().min(1).default('cdr.dlq').describe('Dead-letter topic'),
  SCHEMA_REGISTRY_URL: z.url().describe('Registry the records are decoded with'),
  ...registryAuthShape(),
  ...storeEnvShape(),
});

/** What `recordings get` and `recordings status` read: the topics and the object storage. */
export interface RecordingsToolOptions {
  topics: { raw: string; recordings: string; dlq: string };
  store: ObjectStoreOptions;
  registry: RegistryOptions;
  kafka: KafkaConfig;
}

export function loadRecordingsToolOptions(env: Env): Readonly<RecordingsToolOptions> {
  const cfg = parseEnv(recordingsToolEnvSchema, env);
  return deepFreeze({
    topics: { raw: cfg.TOPIC_RAW, recordings: cfg.TOPIC_RECORDINGS, dlq: cfg.TOPIC_DLQ },
    store: readStore(cfg),
    registry: registryConfig(cfg),
    kafka: readKafkaConfig(parseEnv(kafkaEnvSchema, env)),
  });
}
