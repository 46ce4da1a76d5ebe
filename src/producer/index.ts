// `cdr-pipeline produce`: wires config, Kafka, the registry and one poller per feed account,
// serves health and metrics, and stops cleanly on request.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { TimeZone } from '../cdr/time-zone.ts';
import { avroType, registerSchema, registryClient } from '../codec/index.ts';
import type { ProducerConfig } from '../config/producer.ts';
import { TotalsReader } from '../control/read.ts';
import { CdrError, ErrorCodes, isCdrError } from '../errors.ts';
import { createKafka } from '../kafka/client.ts';
import { topicSpecs } from '../kafka/topic-specs.ts';
import { setUpTopics, topicMaxMessageBytes, topicPartitionCount } from '../kafka/topics.ts';
import { TransactionalSender } from '../kafka/transactions.ts';
import { type Check, type OpsServer, startOpsServer } from '../ops/http-server.ts';
import { Permits } from '../ops/permits.ts';
import { dependencyChecks } from '../ops/reachability.ts';
import { retryStartup } from '../ops/retry.ts';
import { AccountPoller } from './account-poller.ts';
import { CursorReader } from './cursor.ts';
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

  const topics = {
    replicationFactor: env.TOPIC_REPLICATION_FACTOR,
    minInsyncReplicas: env.TOPIC_MIN_INSYNC_REPLICAS,
  };
  await setUpTopics(
    kafka,
    [
      topicSpecs.raw(env.TOPIC_RAW, env.TOPIC_RAW_PARTITIONS, env.TOPIC_RAW_RETENTION_MS, topics),
      topicSpecs.cursor(env.TOPIC_CURSOR, topics),
      topicSpecs.dlq(env.TOPIC_DLQ, env.TOPIC_DLQ_RETENTION_MS, topics),
      topicSpecs.control(env.TOPIC_CONTROL, env.TOPIC_RAW_RETENTION_MS, topics),
      topicSpecs.controlTotals(env.TOPIC_CONTROL_TOTALS, topics),
    ],
    log,
  );
  const subject = `${env.TOPIC_RAW}${RAW_SUBJECT_SUFFIX}`;
  const schemaId = await retryStartup(
    'registering the schema',
    () => registerSchema(registry, 'cdr-raw', subject),
    log,
  );
  const controlSubject = `${env.TOPIC_CONTROL}${RAW_SUBJECT_SUFFIX}`;
  const controlSchemaId = await retryStartup(
    'registering the control schema',
    () => registerSchema(registry, 'cdr-control', controlSubject),
    log,
  );
  // The running totals have the same shape: registered under their topic's subject too, so any
  // Confluent deserializer reads them.
  const totalsSchemaId = await retryStartup(
    'registering the control totals schema',
    () => registerSchema(registry, 'cdr-control', `${env.TOPIC_CONTROL_TOTALS}${RAW_SUBJECT_SUFFIX}`),
    log,
  );
  log.info({ schemaId, subject, controlSchemaId }, 'schemas registered');
  const rawPartitions = await retryStartup(
    'reading the partitions of the CDR topic',
    () => topicPartitionCount(kafka, env.TOPIC_RAW),
    log,
  );
  // Room for the record framing and headers a batch adds around one record.
  const maxMessageBytes =
    (await retryStartup('reading max.message.bytes', () => topicMaxMessageBytes(kafka, env.TOPIC_RAW), log)) -
    512;

  const controller = new AbortController();
  const instanceId = randomUUID();
  // A read_committed cursor read waits for other producers' open transactions, which last up to
  // the transaction timeout: the read may take that long and then some.
  const cursors = new CursorReader(
    kafka,
    env.TOPIC_CURSOR,
    2 * env.TRANSACTION_TIMEOUT_MS + 30_000,
    log,
    `${env.TRANSACTIONAL_ID_PREFIX}-cursor-read`,
  );
  const senders = config.accounts.map(
    (account) =>
      new TransactionalSender(kafka, {
        transactionalId: `${env.TRANSACTIONAL_ID_PREFIX}-${account.login}`,
        transactionTimeoutMs: env.TRANSACTION_TIMEOUT_MS,
      }),
  );
  // Connecting first (InitProducerId) fences an older instance and aborts its open transaction
  // before we read the cursor it may still have been moving.
  // A few at a time: a thousand accounts connecting at once is a storm of connection timeouts.
  const connecting = new Permits(8);
  await retryStartup(
    'connecting the transactional producers',
    () =>
      Promise.all(
        senders.map(async (s) => {
          const release = await connecting.acquire();
          try {
            await s.connect();
          } finally {
            release();
          }
        }),
      ),
    log,
  );
  const totals = new TotalsReader(kafka, config.registry, env.TOPIC_CONTROL_TOTALS, {
    timeoutMs: 2 * env.TRANSACTION_TIMEOUT_MS + 30_000,
    groupPrefix: `${env.TRANSACTIONAL_ID_PREFIX}-totals-read`,
  });
  // One read of the cursor topic (and of the running totals) for every account of the process.
  const initial = await retryStartup('reading the cursors', () => cursors.readAll(), log);
  const initialTotals = await retryStartup('reading the control totals', () => totals.readAll(), log);
  const polls = new Permits(env.FEED_MAX_CONCURRENT_POLLS);
  const type = avroType('cdr-raw');
  const control = { type: avroType('cdr-control'), schemaId: controlSchemaId, totalsSchemaId };
  const zone = new TimeZone(env.FEED_TIMEZONE);
  const pollers = config.accounts.map(
    (account, i) =>
      new AccountPoller(
        {
          account,
          env,
          sender: senders[i] as TransactionalSender,
          cursors,
          instanceId,
          layouts: config.layouts,
          avroType: type,
          schemaId,
          zone,
          maxMessageBytes,
          rawPartitions,
          control,
          totals,
          polls,
          metrics,
          logger: log,
          signal: controller.signal,
        },
        initial.get(account.login),
        initialTotals.get(account.login),
      ),
  );

  // A takeover stops that account only; the process ends (non-zero) when no account is left.
  const fenced = new Set<string>();
  let running = pollers.length;
  const runs = pollers.map((p, i) => {
    const login = config.accounts[i]?.login as string;
    return p
      .run()
      .catch((err: unknown) => {
        if (!isCdrError(err, ErrorCodes.FENCED)) throw err;
        fenced.add(login);
        log.fatal(
          {
            code: err.code,
            account: login,
            transactionalId: senders[i]?.transactionalId,
            owner: err.details.owner,
          },
          'fenced: another producer took over this account (same transactional id); stopping it',
        );
        return senders[i]?.discard();
      })
      .finally(() => {
        running--;
      });
  });
  const done = Promise.all(runs).then(() => {
    if (fenced.size > 0 && !controller.signal.aborted) {
      throw new CdrError(
        ErrorCodes.FENCED,
        `every account was taken over by another producer: ${[...fenced].join(', ')}`,
      );
    }
  });

  // Readiness also needs Kafka and the registry reachable.
  const dependencies = dependencyChecks(kafka, config.registry);

  // A fenced account does not fail liveness: a restart would only take the account back from the
  // process that now owns it.
  const live = (): Check => ({
    ok: running + fenced.size === pollers.length || controller.signal.aborted,
    details: { pollers: running, fenced: [...fenced] },
  });
  const ready = async (): Promise<Check> => {
    const now = Date.now();
    const accounts = pollers.map((p, i) => ({
      account: config.accounts[i]?.login,
      fenced: fenced.has(config.accounts[i]?.login as string),
      authFailing: p.health.authFailing,
      headerUnreadable: p.health.headerUnreadable,
      lastSuccessAgoMs: p.health.lastSuccessAt === undefined ? null : now - p.health.lastSuccessAt,
      lastError: p.health.lastErrorCode ?? null,
    }));
    const { kafka: kafkaOk, registry: registryOk } = await dependencies.check();
    const ok =
      !controller.signal.aborted &&
      kafkaOk &&
      registryOk &&
      accounts.every(
        (a) =>
          !a.fenced &&
          !a.authFailing &&
          a.lastSuccessAgoMs !== null &&
          a.lastSuccessAgoMs < env.READY_POLL_STALE_MS,
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
