// `cdr-pipeline produce`: wires config, Kafka, the registry and one poller per feed account,
// serves health and metrics, and stops cleanly on request.
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { TimeZone } from '../cdr/time-zone.ts';
import { avroType, registerSchema, registryClient } from '../codec/index.ts';
import type { ProducerConfig } from '../config/producer.ts';
import { ErrorCodes, isCdrError } from '../errors.ts';
import { createKafka } from '../kafka/client.ts';
import { setUpTopics } from '../kafka/topics.ts';
import { TransactionalSender } from '../kafka/transactions.ts';
import { type Check, type OpsServer, startOpsServer } from '../ops/http-server.ts';
import { dependencyChecks } from '../ops/reachability.ts';
import { retryStartup } from '../ops/retry.ts';
import { AccountPoller } from './account-poller.ts';
import { producerMetrics } from './metrics.ts';

export const RAW_SUBJECT_SUFFIX = '-value';

export interface RunningProducer {
  ops: OpsServer;
  /** Resolves when every poller has stopped; rejects when one was fenced. */
  done: Promise<void>;
  stop(): Promise<void>;
}

export async function startProducer(config: ProducerConfig, logger: Logger): Promise<RunningProducer> {
  const { env } = config;
  const log = logger.child({ component: 'producer' });
  const kafka = createKafka(config.kafka, logger);
  const registry = registryClient(config.registry);
  const metricsRegistry = new Registry();
  const metrics = producerMetrics(metricsRegistry);

  await setUpTopics(
    kafka,
    [
      {
        topic: env.TOPIC_RAW,
        numPartitions: env.TOPIC_RAW_PARTITIONS,
        replicationFactor: env.TOPIC_REPLICATION_FACTOR,
        cleanupPolicy: 'delete',
        retentionMs: env.TOPIC_RAW_RETENTION_MS,
      },
      {
        topic: env.TOPIC_CURSOR,
        numPartitions: 1,
        replicationFactor: env.TOPIC_REPLICATION_FACTOR,
        cleanupPolicy: 'compact',
      },
      {
        topic: env.TOPIC_DLQ,
        numPartitions: 1,
        replicationFactor: env.TOPIC_REPLICATION_FACTOR,
        cleanupPolicy: 'delete',
        retentionMs: env.TOPIC_DLQ_RETENTION_MS,
      },
    ],
    log,
  );
  const schemaId = await retryStartup(
    'registering the schema',
    () => registerSchema(registry, 'cdr-raw', `${env.TOPIC_RAW}${RAW_SUBJECT_SUFFIX}`),
    log,
  );
  log.info({ schemaId, subject: `${env.TOPIC_RAW}${RAW_SUBJECT_SUFFIX}` }, 'schema registered');

  const controller = new AbortController();
  const type = avroType('cdr-raw');
  const zone = new TimeZone(env.FEED_TIMEZONE);
  const senders: TransactionalSender[] = [];
  const pollers = config.accounts.map((account) => {
    const sender = new TransactionalSender(kafka, {
      transactionalId: `${env.TRANSACTIONAL_ID_PREFIX}-${account.login}`,
      transactionTimeoutMs: env.TRANSACTION_TIMEOUT_MS,
    });
    senders.push(sender);
    return new AccountPoller({
      account,
      env,
      kafka,
      sender,
      avroType: type,
      schemaId,
      zone,
      metrics,
      logger: log,
      signal: controller.signal,
    });
  });
  // Connecting first fences an older instance before we read the cursor it may still move.
  await retryStartup(
    'connecting the transactional producers',
    () => Promise.all(senders.map((s) => s.connect())),
    log,
  );

  let running = pollers.length;
  const done = Promise.all(
    pollers.map((p, i) =>
      p
        .run()
        .catch((err: unknown) => {
          if (isCdrError(err, ErrorCodes.FENCED)) {
            log.fatal(
              { code: err.code, transactionalId: senders[i]?.transactionalId },
              'fenced: another producer took over this account (same transactional id); stopping',
            );
            controller.abort();
          }
          throw err;
        })
        .finally(() => {
          running--;
        }),
    ),
  ).then(() => undefined);

  // Readiness also needs Kafka and the registry reachable.
  const dependencies = dependencyChecks(kafka, config.registry);

  const live = (): Check => ({
    ok: running === pollers.length || controller.signal.aborted,
    details: { pollers: running },
  });
  const ready = async (): Promise<Check> => {
    const now = Date.now();
    const accounts = pollers.map((p, i) => ({
      account: config.accounts[i]?.login,
      authFailing: p.health.authFailing,
      lastSuccessAgoMs: p.health.lastSuccessAt === undefined ? null : now - p.health.lastSuccessAt,
      lastError: p.health.lastErrorCode ?? null,
    }));
    const { kafka: kafkaOk, registry: registryOk } = await dependencies.check();
    const ok =
      !controller.signal.aborted &&
      kafkaOk &&
      registryOk &&
      accounts.every(
        (a) => !a.authFailing && a.lastSuccessAgoMs !== null && a.lastSuccessAgoMs < env.READY_POLL_STALE_MS,
      );
    return { ok, details: { kafka: kafkaOk, registry: registryOk, accounts } };
  };
  const ops = await startOpsServer({
    host: env.HTTP_HOST,
    port: env.HTTP_PORT,
    registry: metricsRegistry,
    live,
    ready,
  });
  log.info({ port: ops.port, accounts: config.accounts.map((a) => a.login) }, 'producer started');

  return {
    ops,
    done,
    stop: async () => {
      controller.abort();
      await done.catch(() => undefined);
      await Promise.all(senders.map((s) => s.discard()));
      await ops.close();
    },
  };
}
