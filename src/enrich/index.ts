// `cdr-pipeline enrich`: consume cdr.raw, enrich by call type, fan out to one topic per category,
// exactly once. Each slice of an input partition is one transaction holding its output records
// and its consumer offset (consume-transform-produce). Which partitions this process may write for
// is partition-owners.ts; turning records into output is transform.ts.
//
// A failed transaction means the partition may have moved: it is dropped and the consumer rejoins
// the group (an error typed REBALANCE_IN_PROGRESS makes kafkajs rejoin at once), never a crash.
// kafkajs stops a consumer for good when a rejoin finds no broker to ask; that is an outage, so
// the enricher starts it again itself. Any other consumer that stops for good ends the process:
// `done` rejects and /healthz fails, so a supervisor restarts it instead of leaving a live, idle member.
import type { KafkaMessage } from 'kafkajs';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { avroType, registerSchema, registryClient } from '../codec/index.ts';
import { RawDecoder } from '../codec/raw-decoder.ts';
import { encodeValue, HEADER_BYTES, MAGIC_BYTE } from '../codec/wire.ts';
import type { EnricherConfig } from '../config/enricher.ts';
import { CdrError, ErrorCodes, isCdrError } from '../errors.ts';
import { createKafka, noBrokerAnswered } from '../kafka/client.ts';
import { watchHanging } from '../kafka/hanging.ts';
import { KeyPartitions } from '../kafka/key-partitions.ts';
import { setUpTopics, topicPartitionCount } from '../kafka/topics.ts';
import { type Check, type OpsServer, startOpsServer } from '../ops/http-server.ts';
import { dependencyChecks } from '../ops/reachability.ts';
import { backoffDelay, retryStartup } from '../ops/retry.ts';
import { topicSpecs } from '../topics/specs.ts';
import { enricherMetrics } from './metrics.ts';
import { PartitionOwners } from './partition-owners.ts';
import { EnrichedSplicer } from './splice.ts';
import { type SliceDeps, transformSlice } from './transform.ts';

/**
 * Records per transaction at most; a fetched batch larger than this commits in several. A fetched
 * batch of a partition is at most 1 MB (~5,500 CDRs), so this is one transaction per batch: with
 * 5,000 most batches took two, and the enricher spent the second commit's round trips idle
 * (`./dev bench`, two runs each: 73,000-87,000 rec/s at 5,000, 86,000-92,000 at 10,000).
 */
const SLICE = 10_000;

export interface RunningEnricher {
  ops: OpsServer;
  /** Rejects when the consumer stopped for good (CDR_CONSUMER_STOPPED). */
  done: Promise<void>;
  stop(): Promise<void>;
}

/** An error kafkajs answers by rejoining the group (its isRebalancing test reads `type`). */
function rejoin(message: string, partition: number): CdrError {
  return Object.assign(
    new CdrError(ErrorCodes.PARTITION_MOVED, message, { retriable: true, details: { partition } }),
    { type: 'REBALANCE_IN_PROGRESS' },
  );
}

export async function startEnricher(config: EnricherConfig, logger: Logger): Promise<RunningEnricher> {
  const { env, routes } = config;
  const log = logger.child({ component: 'enricher' });
  const kafka = createKafka(config.kafka, logger);
  const metricsRegistry = new Registry();
  const metrics = enricherMetrics(metricsRegistry);
  const outputTopics = [...new Set(Object.values(routes))];
  const topics = {
    replicationFactor: env.TOPIC_REPLICATION_FACTOR,
    minInsyncReplicas: env.TOPIC_MIN_INSYNC_REPLICAS,
  };

  await setUpTopics(
    kafka,
    [
      ...outputTopics.map((t) =>
        topicSpecs.enriched(t, env.ENRICH_TOPIC_PARTITIONS, env.ENRICH_TOPIC_RETENTION_MS, topics),
      ),
      topicSpecs.dlq(env.TOPIC_DLQ, env.TOPIC_DLQ_RETENTION_MS, topics),
    ],
    log,
    env.TOPIC_RAW,
  );
  const registry = registryClient(config.registry);
  // One subject per output topic (TopicNameStrategy); the same schema, so the same id.
  const ids = await retryStartup(
    'registering the schema',
    () => Promise.all(outputTopics.map((t) => registerSchema(registry, 'cdr-enriched', `${t}-value`))),
    log,
  );
  const schemaId = ids[0] as number;
  const enrichedType = avroType('cdr-enriched');
  const decoder = new RawDecoder(avroType('cdr-raw'), config.registry);
  const splicer = new EnrichedSplicer(schemaId);
  const counts = await retryStartup(
    'reading the partitions of the output topics',
    async () =>
      new Map(
        await Promise.all(outputTopics.map(async (t) => [t, await topicPartitionCount(kafka, t)] as const)),
      ),
    log,
  );
  const partitions = new KeyPartitions(counts);
  const sliceDeps: SliceDeps = {
    decode: (value: Buffer | null) => decoder.decode(value),
    encode: (value: object) => encodeValue(enrichedType, schemaId, value),
    // Records of the current cdr-raw schema (all but those of older producers) skip decoding.
    splice: (value, source, now) =>
      value !== null &&
      value.length > HEADER_BYTES &&
      value[0] === MAGIC_BYTE &&
      decoder.writtenWithReader(value.readInt32BE(1))
        ? splicer.splice(value, source, now)
        : undefined,
    routes,
    partitionOf: (topic, key) => partitions.of(topic, key),
    dlqTopic: env.TOPIC_DLQ,
  };
  const owners = new PartitionOwners(
    kafka,
    {
      inputTopic: env.TOPIC_RAW,
      groupId: env.ENRICH_GROUP_ID,
      transactionalIdPrefix: env.ENRICH_TRANSACTIONAL_ID_PREFIX,
      transactionTimeoutMs: env.TRANSACTION_TIMEOUT_MS,
      outputTopics: [...outputTopics, env.TOPIC_DLQ],
    },
    log,
  );

  const consumer = kafka.consumer({
    groupId: env.ENRICH_GROUP_ID,
    readUncommitted: false,
    maxWaitTimeInMs: 200,
    sessionTimeout: env.ENRICH_SESSION_TIMEOUT_MS,
    heartbeatInterval: Math.floor(env.ENRICH_SESSION_TIMEOUT_MS / 10),
  });
  let joined = false;
  let stopped: CdrError | undefined;
  let failDone: (err: CdrError) => void = () => {};
  const done = new Promise<void>((_, reject) => {
    failDone = reject;
  });
  done.catch(() => undefined);
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    joined = true;
    owners.assigned(e.payload.memberAssignment[env.TOPIC_RAW] ?? []);
    log.info({ assigned: e.payload.memberAssignment }, 'partitions assigned');
  });
  consumer.on(consumer.events.REBALANCING, () => {
    joined = false;
  });
  let stopping = false;
  let restartTimer: NodeJS.Timeout | undefined;
  let restarts = 0;
  consumer.on(consumer.events.CRASH, (e) => {
    joined = false;
    if (e.payload.restart) {
      log.warn({ err: e.payload.error }, 'consumer crashed; kafkajs restarts it');
      return;
    }
    if (!stopping && noBrokerAnswered(e.payload.error)) {
      // kafkajs gives up on a group whose coordinator it cannot find while no broker answers (a
      // rejoin during an outage). The outage is not the enricher's fault: start the consumer again
      // after a backoff, as long as it lasts; kafkajs has already stopped and disconnected it.
      const delay = backoffDelay(restarts++, { minMs: 1000, maxMs: 15_000 });
      metrics.consumerRestarts.inc();
      log.warn(
        { err: e.payload.error, retryInMs: delay },
        'no broker answered the consumer; starting it again',
      );
      restartTimer = setTimeout(() => {
        restartTimer = undefined;
        if (!stopping) consumer.run(runOptions).catch((err: unknown) => failDone(stoppedBy(err)));
      }, delay);
      return;
    }
    failDone(stoppedBy(e.payload.error));
  });
  consumer.on(consumer.events.GROUP_JOIN, () => {
    restarts = 0;
  });
  const stoppedBy = (cause: unknown): CdrError => {
    stopped = new CdrError(ErrorCodes.CONSUMER_STOPPED, 'the Kafka consumer stopped and will not restart', {
      cause,
    });
    log.fatal({ err: cause, code: stopped.code }, stopped.message);
    return stopped;
  };

  /** Processes one fetched batch of an input partition in slices, one transaction each. */
  const eachBatch = async ({
    batch,
    resolveOffset,
    heartbeat,
    isRunning,
    isStale,
  }: Parameters<NonNullable<Parameters<typeof consumer.run>[0]>['eachBatch'] & object>[0]) => {
    if (batch.messages.length === 0) return;
    const { partition } = batch;
    let owner: Awaited<ReturnType<PartitionOwners['acquire']>>;
    try {
      owner = await owners.acquire(partition);
    } catch (err) {
      // Its producer could not be initialised or its committed offset read (a coordinator moving):
      // the partition was dropped; the group gives it out again.
      const code = isCdrError(err) ? err.code : undefined;
      log.warn({ err, partition, code }, 'taking the partition over failed: rejoining the group');
      throw rejoin(`taking partition ${partition} over failed (${code ?? 'error'})`, partition);
    }
    if (!owner) throw rejoin(`partition ${partition} is not assigned to this enricher`, partition);
    let messages: KafkaMessage[] = batch.messages;
    if (owner.committed !== undefined) {
      // Below the offset the previous owner committed: already enriched by it.
      const committed = owner.committed;
      const first = messages.findIndex((m) => BigInt(m.offset) >= committed);
      const skipped = first === -1 ? messages.length : first;
      if (skipped > 0) {
        metrics.skippedCommitted.inc(skipped);
        resolveOffset((messages[skipped - 1] as KafkaMessage).offset);
        messages = messages.slice(skipped);
      }
    }
    await decoder.prepare(messages.map((m) => m.value));
    for (let start = 0; start < messages.length; start += SLICE) {
      if (!isRunning() || isStale()) return;
      const slice = messages.slice(start, start + SLICE);
      const out = transformSlice(slice, { topic: batch.topic, partition }, sliceDeps, Date.now());
      const last = (slice[slice.length - 1] as KafkaMessage).offset;
      const end = metrics.transaction.startTimer();
      try {
        await owner.sender.commit(out.topicMessages, {
          consumerGroupId: env.ENRICH_GROUP_ID,
          topics: [{ topic: batch.topic, partitions: [{ partition, offset: String(BigInt(last) + 1n) }] }],
        });
      } catch (err) {
        metrics.failed.inc();
        // Nothing of this slice was committed. A sender of an earlier assignment: that batch is void.
        if (!owners.isCurrent(partition, owner.sender)) return;
        owners.drop(partition, owner.sender);
        metrics.partitionsMoved.inc();
        const code = isCdrError(err) ? err.code : undefined;
        log.warn({ err, partition, code }, 'transaction failed: partition dropped; rejoining the group');
        throw rejoin(`the transaction of partition ${partition} failed (${code ?? 'error'})`, partition);
      }
      end();
      resolveOffset(last);
      metrics.recordsIn.inc(slice.length);
      metrics.deadLettered.inc(out.deadLettered);
      for (const [category, n] of out.counts) metrics.recordsOut.inc({ category }, n);
      await heartbeat();
    }
    metrics.lag.set({ partition: String(partition) }, Number(batch.offsetLag()));
  };

  const runOptions = {
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: env.ENRICH_PARTITIONS_CONCURRENTLY,
    eachBatch,
  };
  await consumer.connect();
  await consumer.subscribe({ topic: env.TOPIC_RAW, fromBeginning: true });
  await consumer.run(runOptions);

  const dependencies = dependencyChecks(kafka, config.registry);
  const hanging = watchHanging(
    kafka,
    () => [...outputTopics, env.TOPIC_DLQ],
    env.TRANSACTION_TIMEOUT_MS,
    metrics.hangingTransactions,
    log,
  );
  const ops = await startOpsServer({
    host: env.HTTP_HOST,
    port: env.HTTP_PORT,
    registry: metricsRegistry,
    live: (): Check => ({ ok: stopped === undefined, details: stopped ? { error: stopped.code } : {} }),
    ready: async (): Promise<Check> => {
      const { kafka: kafkaOk, registry: registryOk } = await dependencies.check();
      return {
        ok: !stopping && stopped === undefined && joined && kafkaOk && registryOk,
        details: { joined, kafka: kafkaOk, registry: registryOk },
      };
    },
  });
  log.info(
    { port: ops.port, group: env.ENRICH_GROUP_ID, input: env.TOPIC_RAW, outputs: routes },
    'enricher started',
  );
  return {
    ops,
    done,
    stop: async () => {
      stopping = true;
      clearTimeout(restartTimer);
      await hanging.stop();
      await consumer.disconnect();
      await owners.close();
      await ops.close();
    },
  };
}
