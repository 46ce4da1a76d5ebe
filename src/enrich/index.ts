// `cdr-pipeline enrich`: consume cdr.raw, enrich by call type, fan out to one topic per category,
// exactly once. Each slice of an input partition is one transaction holding its output records
// and its consumer offset (batch.ts). Which partitions this process may write for is
// partition-owners.ts; turning records into output is transform.ts.
//
// kafkajs stops a consumer for good when a rejoin finds no broker to ask; that is an outage, so
// the enricher starts it again itself. Any other consumer that stops for good ends the process:
// `done` rejects and /healthz fails, so a supervisor restarts it instead of leaving a live, idle member.
import type { ConsumerRunConfig, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { avroType } from '../codec/index.ts';
import { RawDecoder } from '../codec/raw-decoder.ts';
import { encodeValue, HEADER_BYTES, MAGIC_BYTE } from '../codec/wire.ts';
import type { EnricherOptions } from '../config/enricher.ts';
import { CdrError, ErrorCodes } from '../errors.ts';
import { createKafka } from '../kafka/client.ts';
import { watchHanging } from '../kafka/hanging.ts';
import { noBrokerAnswered } from '../kafka/kafka-errors.ts';
import { type OpsServer, startOpsServer } from '../ops/http-server.ts';
import { dependencyChecks } from '../ops/reachability.ts';
import { backoffDelay } from '../ops/retry.ts';
import { enrichBatch } from './batch.ts';
import { type EnricherMetrics, enricherMetrics } from './metrics.ts';
import { PartitionOwners } from './partition-owners.ts';
import { EnrichedSplicer } from './splice.ts';
import { type EnricherOutputs, prepareOutputs } from './start-up.ts';
import type { SliceDeps } from './transform.ts';

export interface RunningEnricher {
  ops: OpsServer;
  /** Rejects when the consumer stopped for good (CDR_CONSUMER_STOPPED). */
  done: Promise<void>;
  stop(): Promise<void>;
}

export async function startEnricher(options: EnricherOptions, logger: Logger): Promise<RunningEnricher> {
  const log = logger.child({ component: 'enricher' });
  const kafka = createKafka(options.kafka, logger);
  const metricsRegistry = new Registry();
  const metrics = enricherMetrics(metricsRegistry);
  const outputs = await prepareOutputs(kafka, options, log);
  const decoder = new RawDecoder(avroType('cdr-raw'), options.registry);
  const owners = new PartitionOwners(
    kafka,
    {
      inputTopic: options.inputTopic,
      groupId: options.groupId,
      transactionalIdPrefix: options.transactions.idPrefix,
      transactionTimeoutMs: options.transactions.timeoutMs,
      outputTopics: [...outputs.topics, options.dlqTopic],
    },
    log,
  );
  const deps = {
    owners,
    prepare: (values: ReadonlyArray<Buffer | null>) => decoder.prepare(values),
    slice: sliceDeps(options, outputs, decoder),
    groupId: options.groupId,
    metrics,
    log,
  };
  const group = await consumeGroup(kafka, options, owners, metrics, log, {
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: options.partitionsConcurrently,
    eachBatch: (payload) => enrichBatch(deps, payload),
  });
  const hanging = watchHanging(
    kafka,
    () => [...outputs.topics, options.dlqTopic],
    options.transactions.timeoutMs,
    metrics.hangingTransactions,
    log,
  );
  const dependencies = dependencyChecks(kafka, options.registry);
  let stopping = false;
  const ops = await startOpsServer({
    ...options.service.http,
    registry: metricsRegistry,
    live: () => ({
      ok: group.stopped() === undefined,
      details: group.stopped() ? { error: group.stopped()?.code } : {},
    }),
    ready: async () => {
      const { kafka: kafkaOk, registry: registryOk } = await dependencies.check();
      const joined = group.joined();
      return {
        ok: !stopping && group.stopped() === undefined && joined && kafkaOk && registryOk,
        details: { joined, kafka: kafkaOk, registry: registryOk },
      };
    },
  });
  log.info(
    { port: ops.port, group: options.groupId, input: options.inputTopic, outputs: options.routes },
    'enricher started',
  );
  return {
    ops,
    done: group.done,
    stop: async () => {
      stopping = true;
      await hanging.stop();
      await group.stop();
      await owners.close();
      await ops.close();
    },
  };
}

/** How a slice's records become output: spliced from the raw bytes where the schema allows, else decoded. */
function sliceDeps(options: EnricherOptions, outputs: EnricherOutputs, decoder: RawDecoder): SliceDeps {
  const enrichedType = avroType('cdr-enriched');
  const splicer = new EnrichedSplicer(outputs.schemaId);
  return {
    decode: (value: Buffer | null) => decoder.decode(value),
    encode: (value: object) => encodeValue(enrichedType, outputs.schemaId, value),
    // Records of the current cdr-raw schema (all but those of older producers) skip decoding.
    splice: (value, source, now) =>
      value !== null &&
      value.length > HEADER_BYTES &&
      value[0] === MAGIC_BYTE &&
      decoder.writtenWithReader(value.readInt32BE(1))
        ? splicer.splice(value, source, now)
        : undefined,
    routes: options.routes,
    partitionOf: (topic, key) => outputs.partitions.of(topic, key),
    dlqTopic: options.dlqTopic,
  };
}

interface GroupConsumer {
  stop(): Promise<void>;
  /** Whether the member holds an assignment now. */
  joined: () => boolean;
  /** The error of a consumer that stopped for good. */
  stopped: () => CdrError | undefined;
  /** Rejects when the consumer stopped for good. */
  done: Promise<void>;
}

/**
 * The group member, subscribed to the input topic and running: its assignments go to `owners`.
 * Started again when kafkajs gives it up because no broker answered (see the top of this file).
 */
async function consumeGroup(
  kafka: Kafka,
  options: EnricherOptions,
  owners: PartitionOwners,
  metrics: EnricherMetrics,
  log: Logger,
  run: ConsumerRunConfig,
): Promise<GroupConsumer> {
  const consumer = kafka.consumer({
    groupId: options.groupId,
    readUncommitted: false,
    maxWaitTimeInMs: 200,
    sessionTimeout: options.sessionTimeoutMs,
    heartbeatInterval: Math.floor(options.sessionTimeoutMs / 10),
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
    owners.assigned(e.payload.memberAssignment[options.inputTopic] ?? []);
    log.info({ assigned: e.payload.memberAssignment }, 'partitions assigned');
  });
  consumer.on(consumer.events.REBALANCING, () => {
    joined = false;
  });
  const stopFor = (cause: unknown) => {
    stopped = new CdrError(ErrorCodes.CONSUMER_STOPPED, 'the Kafka consumer stopped and will not restart', {
      cause,
    });
    log.fatal({ err: cause, code: stopped.code }, stopped.message);
    failDone(stopped);
  };
  let stopping = false;
  let restartTimer: NodeJS.Timeout | undefined;
  let restarts = 0;
  consumer.on(consumer.events.GROUP_JOIN, () => {
    restarts = 0;
  });
  consumer.on(consumer.events.CRASH, (e) => {
    joined = false;
    if (e.payload.restart) {
      log.warn({ err: e.payload.error }, 'consumer crashed; kafkajs restarts it');
      return;
    }
    if (stopping || !noBrokerAnswered(e.payload.error)) {
      stopFor(e.payload.error);
      return;
    }
    // kafkajs has already stopped and disconnected it: run it again after a backoff, for as long
    // as the outage lasts.
    const delay = backoffDelay(restarts++, { minMs: 1000, maxMs: 15_000 });
    metrics.consumerRestarts.inc();
    log.warn(
      { err: e.payload.error, retryInMs: delay },
      'no broker answered the consumer; starting it again',
    );
    restartTimer = setTimeout(() => {
      restartTimer = undefined;
      if (!stopping) consumer.run(run).catch(stopFor);
    }, delay);
  });
  await consumer.connect();
  await consumer.subscribe({ topic: options.inputTopic, fromBeginning: true });
  await consumer.run(run);
  return {
    joined: () => joined,
    stopped: () => stopped,
    done,
    stop: async () => {
      stopping = true;
      clearTimeout(restartTimer);
      await consumer.disconnect();
    },
  };
}
