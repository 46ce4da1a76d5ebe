// `cdr-pipeline recordings`: a consumer group on cdr.raw that stores the call recording of every
// CDR that names one (the MP3 column) in S3-compatible object storage and publishes a reference
// record per recording to cdr.recordings, exactly once: references, dead letters and the consumer
// offset commit in one transaction (batch.ts), and an upload is idempotent (store.ts). Built on the
// enrichers' pieces: the group member (kafka/group-consumer.ts), the partition owners and their
// transactional senders (kafka/partition-owners.ts).
import { mkdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { avroType, registerSchema, registryClient } from '../codec/index.ts';
import { RawDecoder } from '../codec/raw-decoder.ts';
import { encodeValue } from '../codec/wire.ts';
import type { RecordingsOptions } from '../config/recordings.ts';
import { egressDispatcher } from '../feed/egress.ts';
import { checkKafkaAccess } from '../kafka/access.ts';
import { createKafka } from '../kafka/client.ts';
import { startTransformGroup, type TransformGroup } from '../kafka/group-consumer.ts';
import type { PartitionOwners } from '../kafka/partition-owners.ts';
import { setUpTopics } from '../kafka/topics.ts';
import { type OpsServer, startOpsServer } from '../ops/http-server.ts';
import { cachedCheck, dependencyChecks } from '../ops/reachability.ts';
import { retryStartup } from '../ops/retry.ts';
import { topicSpecs } from '../topics/specs.ts';
import { type RecordingsBatchDeps, recordingsBatch } from './batch.ts';
import { AccountPermits, type JobDeps, Refusals, storeRecording } from './job.ts';
import { type RecordingsMetrics, recordingsMetrics } from './metrics.ts';
import { ObjectStore } from './store.ts';

export interface RunningRecordings {
  ops: OpsServer;
  done: Promise<void>;
  stop(): Promise<void>;
}

export async function startRecordings(
  options: RecordingsOptions,
  logger: Logger,
): Promise<RunningRecordings> {
  const log = logger.child({ component: 'recordings' });
  // A refused login, certificate or TLS setting is said at once, in one line (exit 2).
  await checkKafkaAccess(options.kafka);
  const kafka = createKafka(options.kafka, logger);
  const metricsRegistry = new Registry();
  const metrics = recordingsMetrics(metricsRegistry);
  const store = new ObjectStore(options.store);
  await retryStartup('reaching the object storage', () => store.ready(), log);
  await mkdir(options.fetch.spoolDir, { recursive: true });
  const schemaId = await prepareTopics(options, kafka, log);
  const abort = new AbortController();
  const refusals = new Refusals(log);
  const jobs = jobDeps(options, store, refusals, metrics, abort.signal, log);
  const decoder = new RawDecoder(avroType('cdr-raw'), options.registry);
  const group = await startTransformGroup(
    kafka,
    options,
    () => [options.outputTopic, options.dlqTopic],
    metrics,
    log,
    (owners) => {
      const deps = batchDeps(options, owners, decoder, jobs, store.bucket, schemaId, metrics, log);
      return (payload) => recordingsBatch(deps, payload);
    },
  );
  const ops = await startOps(
    options,
    kafka,
    store,
    metricsRegistry,
    group,
    refusals,
    metrics,
    () => stopping,
  );
  let stopping = false;
  log.info(
    {
      port: ops.port,
      group: options.groupId,
      input: options.inputTopic,
      output: options.outputTopic,
      bucket: store.bucket,
    },
    'recordings stage started',
  );
  return {
    ops,
    done: group.done,
    stop: async () => {
      stopping = true;
      abort.abort();
      await group.stop();
      store.close();
      await ops.close();
    },
  };
}

/** cdr.recordings and the DLQ as specified (cdr.raw is the producer's: waited for), the reference schema registered. */
async function prepareTopics(
  options: RecordingsOptions,
  kafka: ReturnType<typeof createKafka>,
  log: Logger,
): Promise<number> {
  const { creation } = options;
  await setUpTopics(
    kafka,
    [
      topicSpecs.recordings(
        options.outputTopic,
        creation.outputPartitions,
        creation.outputRetentionMs,
        creation,
      ),
      topicSpecs.dlq(options.dlqTopic, creation.dlqRetentionMs, creation),
    ],
    log,
    options.inputTopic,
  );
  const registry = registryClient(options.registry);
  return retryStartup(
    'registering the schema',
    () => registerSchema(registry, 'cdr-recording', `${options.outputTopic}-value`),
    log,
  );
}

function batchDeps(
  options: RecordingsOptions,
  owners: PartitionOwners,
  decoder: RawDecoder,
  jobs: JobDeps,
  bucket: string,
  schemaId: number,
  metrics: RecordingsMetrics,
  log: Logger,
): RecordingsBatchDeps {
  const referenceType = avroType('cdr-recording');
  return {
    owners,
    prepare: (values) => decoder.prepare(values),
    decode: (value) => decoder.decode(value),
    store: (ref, publishedAt) => storeRecording(ref, publishedAt, jobs),
    encodeReference: (value) => encodeValue(referenceType, schemaId, value),
    bucket,
    outputTopic: options.outputTopic,
    dlqTopic: options.dlqTopic,
    groupId: options.groupId,
    metrics,
    log,
  };
}

function jobDeps(
  options: RecordingsOptions,
  store: ObjectStore,
  refusals: Refusals,
  metrics: RecordingsMetrics,
  signal: AbortSignal,
  log: Logger,
): JobDeps {
  const credentials = new Map(options.accounts.map((a) => [a.login, a]));
  return {
    store,
    fetch: {
      url: options.url,
      maxBytes: options.fetch.maxBytes,
      headersTimeoutMs: options.fetch.headersTimeoutMs,
      bodyIdleTimeoutMs: options.fetch.bodyIdleTimeoutMs,
      dispatcher: egressDispatcher(options.egress),
    },
    credentials: (account) => credentials.get(account),
    spoolDir: options.fetch.spoolDir,
    keyPrefix: options.store.keyPrefix,
    maxWaitMs: options.fetch.maxWaitMs,
    retry: options.fetch.retry,
    permits: new AccountPermits(options.fetch.concurrency, options.fetch.accountConcurrency),
    refusals,
    signal,
    log,
    onTry: (outcome, bytes) => {
      if (outcome === 'stored') {
        metrics.stored.inc();
        metrics.bytes.inc(bytes);
      } else if (outcome === 'reused') metrics.reused.inc();
      else metrics.failures.inc({ code: outcome });
      metrics.refused.set({ reason: 'address' }, refusals.forbidden ? 1 : 0);
      metrics.refused.set({ reason: 'login' }, refusals.accounts.size);
    },
  };
}

/** /healthz: the consumer runs. /readyz: joined, Kafka, registry and storage reachable, the carrier not refusing this address. */
function startOps(
  options: RecordingsOptions,
  kafka: ReturnType<typeof createKafka>,
  store: ObjectStore,
  registry: Registry,
  group: TransformGroup,
  refusals: Refusals,
  metrics: RecordingsMetrics,
  stopping: () => boolean,
): Promise<OpsServer> {
  const dependencies = dependencyChecks(kafka, options.registry);
  const storage = cachedCheck(() => store.ready());
  metrics.refused.set({ reason: 'address' }, 0);
  metrics.refused.set({ reason: 'login' }, 0);
  return startOpsServer({
    ...options.service.http,
    registry,
    live: () => ({
      ok: group.stopped() === undefined,
      details: group.stopped() ? { error: group.stopped()?.code } : {},
    }),
    ready: async () => {
      const [{ kafka: kafkaOk, registry: registryOk }, storageOk] = await Promise.all([
        dependencies.check(),
        storage.check(),
      ]);
      const joined = group.joined();
      const addressRefused = refusals.forbidden;
      const kafkaRefused = group.owners.refusal ?? null;
      return {
        ok:
          !stopping() &&
          group.stopped() === undefined &&
          joined &&
          kafkaOk &&
          registryOk &&
          storageOk &&
          !addressRefused &&
          !kafkaRefused,
        details: {
          joined,
          kafka: kafkaOk,
          kafkaRefused,
          registry: registryOk,
          storage: storageOk,
          addressRefused,
          loginsRefused: [...refusals.accounts],
        },
      };
    },
  });
}
