// `cdr-pipeline enrich`: consume cdr.raw, enrich by call type, fan out to one topic per category,
// exactly once. Each batch of an input partition is one transaction holding its output records
// and its consumer offset (consume-transform-produce). The transactional id is tied to the input
// partition, so whichever enricher owns a partition after a rebalance fences the one before.
import type { Message, TopicMessages } from 'kafkajs';
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { avroType, registerSchema, registryClient } from '../codec/index.ts';
import { encodeValue } from '../codec/wire.ts';
import type { EnricherConfig } from '../config/enricher.ts';
import { ErrorCodes, isCdrError } from '../errors.ts';
import { createKafka } from '../kafka/client.ts';
import { setUpTopics } from '../kafka/topics.ts';
import { TransactionalSender } from '../kafka/transactions.ts';
import { type Check, type OpsServer, startOpsServer } from '../ops/http-server.ts';
import { dependencyChecks } from '../ops/reachability.ts';
import { retryStartup } from '../ops/retry.ts';
import { RawDecoder } from './decoder.ts';
import { enrich } from './enrich.ts';

/** Records per transaction at most; a fetched batch larger than this commits in several. */
const SLICE = 5000;

export interface RunningEnricher {
  ops: OpsServer;
  stop(): Promise<void>;
}

function enricherMetrics(registry: Registry) {
  const registers = [registry];
  return {
    recordsIn: new Counter({
      name: 'cdr_enrich_records_in_total',
      help: 'Records read from cdr.raw',
      registers,
    }),
    recordsOut: new Counter({
      name: 'cdr_enrich_records_out_total',
      help: 'Enriched records committed, by category',
      labelNames: ['category'],
      registers,
    }),
    deadLettered: new Counter({
      name: 'cdr_enrich_dead_lettered_total',
      help: 'Records that could not be decoded, committed to the DLQ',
      registers,
    }),
    lag: new Gauge({
      name: 'cdr_enrich_consumer_lag',
      help: 'Records behind the end of the input partition after the last batch',
      labelNames: ['partition'],
      registers,
    }),
    transaction: new Histogram({
      name: 'cdr_enrich_transaction_duration_seconds',
      help: 'One transaction: send, offsets, commit',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    failed: new Counter({
      name: 'cdr_enrich_transactions_failed_total',
      help: 'Transactions that did not commit',
      registers,
    }),
  };
}

export async function startEnricher(config: EnricherConfig, logger: Logger): Promise<RunningEnricher> {
  const { env, routes } = config;
  const log = logger.child({ component: 'enricher' });
  const kafka = createKafka(config.kafka, logger);
  const metricsRegistry = new Registry();
  const metrics = enricherMetrics(metricsRegistry);
  const outputTopics = [...new Set(Object.values(routes))];

  await setUpTopics(
    kafka,
    [
      ...outputTopics.map((topic) => ({
        topic,
        numPartitions: env.ENRICH_TOPIC_PARTITIONS,
        replicationFactor: env.TOPIC_REPLICATION_FACTOR,
        cleanupPolicy: 'delete' as const,
      })),
      {
        topic: env.TOPIC_DLQ,
        numPartitions: 1,
        replicationFactor: env.TOPIC_REPLICATION_FACTOR,
        cleanupPolicy: 'delete',
      },
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

  const senders = new Map<number, TransactionalSender>();
  const senderFor = (partition: number) => {
    let s = senders.get(partition);
    if (!s) {
      s = new TransactionalSender(kafka, {
        transactionalId: `${env.ENRICH_TRANSACTIONAL_ID_PREFIX}-${env.TOPIC_RAW}-${partition}`,
        transactionTimeoutMs: env.TRANSACTION_TIMEOUT_MS,
      });
      senders.set(partition, s);
    }
    return s;
  };

  const consumer = kafka.consumer({
    groupId: env.ENRICH_GROUP_ID,
    readUncommitted: false,
    maxWaitTimeInMs: 200,
    sessionTimeout: env.ENRICH_SESSION_TIMEOUT_MS,
    heartbeatInterval: Math.floor(env.ENRICH_SESSION_TIMEOUT_MS / 10),
  });
  let joined = false;
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    joined = true;
    log.info({ assigned: e.payload.memberAssignment }, 'partitions assigned');
  });
  consumer.on(consumer.events.CRASH, (e) => {
    log.error({ err: e.payload.error, restart: e.payload.restart }, 'consumer crashed');
  });
  await consumer.connect();
  await consumer.subscribe({ topic: env.TOPIC_RAW, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: env.ENRICH_PARTITIONS_CONCURRENTLY,
    eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
      if (batch.messages.length === 0) return;
      await decoder.prepare(batch.messages.map((m) => m.value));
      const sender = senderFor(batch.partition);
      for (let start = 0; start < batch.messages.length; start += SLICE) {
        if (!isRunning() || isStale()) return;
        const slice = batch.messages.slice(start, start + SLICE);
        const out = new Map<string, Message[]>();
        const dlq: Message[] = [];
        const counts = new Map<string, number>();
        const now = Date.now();
        for (const m of slice) {
          try {
            const raw = decoder.decode(m.value);
            const enriched = enrich(
              raw,
              { topic: batch.topic, partition: batch.partition, offset: Number(m.offset) },
              now,
            );
            const topic = routes[enriched.category] ?? (routes.unknown as string);
            let list = out.get(topic);
            if (!list) {
              list = [];
              out.set(topic, list);
            }
            list.push({ key: m.key, value: encodeValue(enrichedType, schemaId, enriched) });
            counts.set(enriched.category, (counts.get(enriched.category) ?? 0) + 1);
          } catch (err) {
            const code = isCdrError(err) ? err.code : ErrorCodes.ENCODE_FAILED;
            dlq.push({
              key: m.key,
              value: JSON.stringify({
                source: { topic: batch.topic, partition: batch.partition, offset: m.offset },
                errorCode: code,
                reason: err instanceof Error ? err.message : String(err),
                failedAt: new Date(now).toISOString(),
              }),
              headers: { 'cdr-error-code': code },
            });
          }
        }
        const last = (slice[slice.length - 1] as { offset: string }).offset;
        const topicMessages: TopicMessages[] = [...out].map(([topic, messages]) => ({ topic, messages }));
        if (dlq.length > 0) topicMessages.push({ topic: env.TOPIC_DLQ, messages: dlq });
        const end = metrics.transaction.startTimer();
        try {
          await sender.commit(topicMessages, {
            consumerGroupId: env.ENRICH_GROUP_ID,
            topics: [
              {
                topic: batch.topic,
                partitions: [{ partition: batch.partition, offset: String(BigInt(last) + 1n) }],
              },
            ],
          });
        } catch (err) {
          metrics.failed.inc();
          log.warn(
            { err, partition: batch.partition, code: isCdrError(err) ? err.code : undefined },
            'transaction failed',
          );
          // kafkajs restarts the consumer from the last resolved offset: nothing of this slice was committed.
          throw err;
        }
        end();
        resolveOffset(last);
        metrics.recordsIn.inc(slice.length);
        metrics.deadLettered.inc(dlq.length);
        for (const [category, n] of counts) metrics.recordsOut.inc({ category }, n);
        await heartbeat();
      }
      metrics.lag.set({ partition: String(batch.partition) }, Number(batch.offsetLag()));
    },
  });

  const dependencies = dependencyChecks(kafka, config.registry);
  let stopping = false;
  const ops = await startOpsServer({
    host: env.HTTP_HOST,
    port: env.HTTP_PORT,
    registry: metricsRegistry,
    live: (): Check => ({ ok: true, details: {} }),
    ready: async (): Promise<Check> => {
      const { kafka: kafkaOk, registry: registryOk } = await dependencies.check();
      return {
        ok: !stopping && joined && kafkaOk && registryOk,
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
    stop: async () => {
      stopping = true;
      await consumer.disconnect();
      await Promise.all([...senders.values()].map((s) => s.discard()));
      await ops.close();
    },
  };
}
