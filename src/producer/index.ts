// `cdr-pipeline produce`: wires config, Kafka, the registry and one poller per feed account,
// serves health and metrics, and stops cleanly on request.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { avroType, registerSchema, registryClient } from '../codec/index.ts';
import type { ProducerConfig } from '../config/producer.ts';
import { CdrError, ErrorCodes, isCdrError } from '../errors.ts';
import { createParsers, type ResponseParsers } from '../feed/parsers.ts';
import { createKafka } from '../kafka/client.ts';
import { compressionType } from '../kafka/compression.ts';
import { openTransactionHolders, watchHanging } from '../kafka/hanging.ts';
import { setUpTopics, topicMaxMessageBytes, topicPartitionCount } from '../kafka/topics.ts';
import { type Check, type OpsServer, startOpsServer } from '../ops/http-server.ts';
import { Permits } from '../ops/permits.ts';
import { dependencyChecks } from '../ops/reachability.ts';
import { retryStartup } from '../ops/retry.ts';
import { TotalsReader } from '../topics/control-read.ts';
import { CursorReader } from '../topics/cursor.ts';
import { topicSpecs } from '../topics/specs.ts';
import { AccountPoller } from './account-poller.ts';
import { producerMetrics } from './metrics.ts';
import { takeAccounts } from './ownership.ts';
import { ProducerPool } from './pool.ts';

export const RAW_SUBJECT_SUFFIX = '-value';

export interface RunningProducer {
  ops: OpsServer;
  /** Resolves when every poller has stopped; rejects when one was fenced. */
  done: Promise<void>;
  /** Where responses are parsed: its workers can be stopped (the responses under way are read again). */
  parsers: ResponseParsers;
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
  // Where the accounts stand is read to the high watermark (the cursor topic and the running
  // totals are shared by every slot and process: a read that stopped at the last stable offset
  // would miss our own commits behind another producer's open transaction), waiting for the
  // transactions open then, which end within the transaction timeout (or the coordinator ends
  // them); one that stays open longer is a hanging transaction. The read may take that long and
  // then some.
  const awaitOpenTransactionsMs = env.TRANSACTION_TIMEOUT_MS + 15_000;
  const cursors = new CursorReader(kafka, env.TOPIC_CURSOR, {
    timeoutMs: 2 * env.TRANSACTION_TIMEOUT_MS + 30_000,
    groupPrefix: `${env.TRANSACTIONAL_ID_PREFIX}-cursor-read`,
    awaitOpenTransactionsMs,
    log,
  });
  const logins = config.accounts.map((a) => a.login);
  const readCursors = () => cursors.readAll();
  const pool = new ProducerPool(
    kafka,
    {
      prefix: env.TRANSACTIONAL_ID_PREFIX,
      size: env.PRODUCER_POOL_SIZE,
      transactionTimeoutMs: env.TRANSACTION_TIMEOUT_MS,
      topics: [env.TOPIC_RAW, env.TOPIC_DLQ, env.TOPIC_CURSOR, env.TOPIC_CONTROL, env.TOPIC_CONTROL_TOTALS],
      log,
      compression: compressionType(env.KAFKA_COMPRESSION),
      instanceId,
      readCursors,
      signal: controller.signal,
    },
    logins,
  );
  // A position read held for seconds by an open transaction: it may be one of this process's idle
  // slots' records left open (their producer ends them when initialised again: pool.renewIdle).
  const renewIdleSlots = async () => {
    const holders = await openTransactionHolders(kafka, [env.TOPIC_CURSOR, env.TOPIC_CONTROL_TOTALS]);
    const renewed = await pool.renewIdle(holders);
    if (renewed > 0)
      log.info({ renewed }, 'a position read waits on an open transaction: idle slots initialised again');
  };
  cursors.onOpenTransactionsWaiting = renewIdleSlots;
  const totals = new TotalsReader(kafka, config.registry, env.TOPIC_CONTROL_TOTALS, {
    timeoutMs: 2 * env.TRANSACTION_TIMEOUT_MS + 30_000,
    groupPrefix: `${env.TRANSACTIONAL_ID_PREFIX}-totals-read`,
    awaitOpenTransactionsMs,
    onOpenTransactionsWaiting: renewIdleSlots,
  });
  // Initialise the slots (fencing an older process), read every cursor and running total once,
  // fence the other writers of these accounts, claim them (ownership.ts); a few producers at a time.
  const taken = await retryStartup(
    'taking the accounts',
    () =>
      takeAccounts(
        pool,
        logins,
        {
          prefix: env.TRANSACTIONAL_ID_PREFIX,
          instanceId,
          cursorTopic: env.TOPIC_CURSOR,
          readCursors,
          readTotals: () => totals.readAll(),
          concurrency: 8,
          startAfter: Math.max(env.FEED_START_ID - 1, 0),
        },
        log,
      ),
    log,
  );
  const polls = new Permits(env.FEED_MAX_CONCURRENT_POLLS);
  const type = avroType('cdr-raw');
  const control = { type: avroType('cdr-control'), schemaId: controlSchemaId, totalsSchemaId };
  const parsers = createParsers(env.PRODUCER_PARSE_WORKERS, type, log);
  const pollers = config.accounts.map((account) => {
    const slot = pool.slotFor(account.login);
    return new AccountPoller(
      {
        account,
        env,
        slot,
        cursors,
        instanceId,
        parsers,
        layouts: config.layouts,
        schemaId,
        maxMessageBytes,
        rawPartitions,
        control,
        totals,
        polls,
        metrics,
        logger: log,
        signal: controller.signal,
      },
      taken.cursors.get(account.login),
      taken.totals.get(account.login),
      taken.epochs.get(slot) as number,
    );
  });

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
        const slot = pool.slotFor(login);
        log.fatal(
          { code: err.code, account: login, transactionalId: slot.transactionalId, owner: err.details.owner },
          'fenced: another process took this account over; stopping it',
        );
        // A slot none of whose accounts is left is let go: initialising it again would fence the
        // process that took them.
        if (slot.accounts.every((a) => fenced.has(a))) return slot.close();
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
  const hanging = watchHanging(
    kafka,
    () => [env.TOPIC_RAW, env.TOPIC_CURSOR, env.TOPIC_CONTROL, env.TOPIC_CONTROL_TOTALS, env.TOPIC_DLQ],
    env.TRANSACTION_TIMEOUT_MS,
    metrics.hangingTransactions,
    log,
  );

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
  log.info(
    {
      port: ops.port,
      instanceId,
      accounts: logins.length > 20 ? logins.length : logins,
      slots: pool.all().map((s) => s.transactionalId),
    },
    'producer started',
  );

  return {
    ops,
    done,
    parsers,
    stop: async () => {
      controller.abort();
      await hanging.stop();
      await done.catch(() => undefined);
      await pool.close();
      await parsers.close();
      await ops.close();
    },
  };
}
