// `cdr-pipeline produce`: its topics and schemas made sure of (start-up.ts), the transactional
// pool and the readers of where accounts stand, the accounts taken (ownership.ts), one poller per
// account (account-poller.ts), health and metrics served; stops cleanly on request.
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { avroType } from '../codec/index.ts';
import type { ProducerOptions } from '../config/producer.ts';
import { CdrError, ErrorCodes, isCdrError } from '../errors.ts';
import { egressDispatcher } from '../feed/egress.ts';
import { createParsers, type ResponseParsers } from '../feed/parsers.ts';
import { checkKafkaAccess } from '../kafka/access.ts';
import { createKafka } from '../kafka/client.ts';
import { compressionType } from '../kafka/compression.ts';
import { openTransactionHolders, watchHanging } from '../kafka/hanging.ts';
import { type OpsServer, startOpsServer } from '../ops/http-server.ts';
import { Permits } from '../ops/permits.ts';
import { dependencyChecks } from '../ops/reachability.ts';
import { retryStartup } from '../ops/retry.ts';
import { TotalsReader } from '../topics/control-read.ts';
import { CursorReader } from '../topics/cursor.ts';
import { AccountPoller } from './account-poller.ts';
import { liveness, readiness } from './health.ts';
import { producerMetrics } from './metrics.ts';
import { type TakenAccounts, takeAccounts } from './ownership.ts';
import type { PollerDeps } from './poller-deps.ts';
import { ProducerPool } from './pool.ts';
import { type ProducerTopicsReady, prepareTopics } from './start-up.ts';

export { RAW_SUBJECT_SUFFIX } from './start-up.ts';

export interface RunningProducer {
  ops: OpsServer;
  /** Resolves when every poller has stopped; rejects when every account was taken over. */
  done: Promise<void>;
  /** Where responses are parsed: its workers can be stopped (the responses under way are read again). */
  parsers: ResponseParsers;
  stop(): Promise<void>;
}

export async function startProducer(options: ProducerOptions, logger: Logger): Promise<RunningProducer> {
  const log = logger.child({ component: 'producer' });
  // A refused login, certificate or TLS setting is said at once, in one line (exit 2).
  await checkKafkaAccess(options.kafka);
  const kafka = createKafka(options.kafka, logger);
  const metricsRegistry = new Registry();
  const metrics = producerMetrics(metricsRegistry);
  const ready = await prepareTopics(kafka, options, log);
  const controller = new AbortController();
  const instanceId = randomUUID();
  const { pool, cursors, totals } = positionReaders(kafka, options, instanceId, controller.signal, log);
  // Initialise the slots (fencing an older process), read every cursor and running total once,
  // fence the other writers of these accounts, claim them (ownership.ts); a few producers at a time.
  const logins = options.accounts.map((a) => a.login);
  const taken = await retryStartup(
    'taking the accounts',
    () =>
      takeAccounts(
        pool,
        logins,
        {
          prefix: options.transactions.idPrefix,
          instanceId,
          cursorTopic: options.topics.cursor,
          readCursors: () => cursors.readAll(),
          readTotals: () => totals.readAll(),
          concurrency: 8,
          startAfter: Math.max(options.feed.startId - 1, 0),
        },
        log,
      ),
    log,
  );
  const parsers = createParsers(options.parseWorkers, avroType('cdr-raw'), log);
  const pollers = makePollers(options, ready, taken, {
    pool,
    cursors,
    totals,
    instanceId,
    parsers,
    metrics,
    logger: log,
    signal: controller.signal,
  });
  const runs = runPollers(pollers, pool, controller.signal, log);
  const hanging = watchHanging(
    kafka,
    () => Object.values(options.topics),
    options.transactions.timeoutMs,
    metrics.hangingTransactions,
    log,
  );
  const ops = await serveHealth(options, kafka, metricsRegistry, pollers, runs, controller.signal);
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
    done: runs.done,
    parsers,
    stop: async () => {
      controller.abort();
      await hanging.stop();
      await runs.done.catch(() => undefined);
      await pool.close();
      await parsers.close();
      await ops.close();
    },
  };
}

/** One poller per account, starting where the account was taken. */
function makePollers(
  options: ProducerOptions,
  ready: ProducerTopicsReady,
  taken: TakenAccounts,
  shared: Pick<
    PollerDeps,
    'cursors' | 'totals' | 'instanceId' | 'parsers' | 'metrics' | 'logger' | 'signal'
  > & {
    pool: ProducerPool;
  },
): Array<{ account: string; poller: AccountPoller }> {
  const { pool, ...deps } = shared;
  const polls = new Permits(options.feed.maxConcurrentPolls);
  const egress = egressDispatcher(options.feed.egress);
  const control = {
    type: avroType('cdr-control'),
    schemaId: ready.controlSchemaId,
    totalsSchemaId: ready.totalsSchemaId,
  };
  return options.accounts.map((account) => {
    const slot = pool.slotFor(account.login);
    const start = {
      cursor: taken.cursors.get(account.login),
      totals: taken.totals.get(account.login),
      epoch: taken.epochs.get(slot) as number,
    };
    const poller = new AccountPoller(
      {
        ...deps,
        account,
        options,
        slot,
        raw: ready.raw,
        maxMessageBytes: ready.maxMessageBytes,
        control,
        polls,
        egress,
      },
      start,
    );
    return { account: account.login, poller };
  });
}

/**
 * The pool of transactional producers and the readers of where accounts stand (cursors, running
 * totals). Those are read to the high watermark: the cursor topic and the running totals are shared
 * by every slot and process, and a read that stopped at the last stable offset would miss our own
 * commits behind another producer's open transaction. Transactions open then end within the
 * transaction timeout (or the coordinator ends them); one that stays open longer is a hanging
 * transaction. The read may take that long and then some.
 */
function positionReaders(
  kafka: Kafka,
  options: ProducerOptions,
  instanceId: string,
  signal: AbortSignal,
  log: Logger,
): { pool: ProducerPool; cursors: CursorReader; totals: TotalsReader } {
  const { topics, transactions } = options;
  const read = {
    timeoutMs: 2 * transactions.timeoutMs + 30_000,
    awaitOpenTransactionsMs: transactions.timeoutMs + 15_000,
  };
  const cursors = new CursorReader(kafka, topics.cursor, {
    ...read,
    groupPrefix: `${transactions.idPrefix}-cursor-read`,
    log,
  });
  const pool = new ProducerPool(
    kafka,
    {
      prefix: transactions.idPrefix,
      size: transactions.poolSize,
      transactionTimeoutMs: transactions.timeoutMs,
      topics: [topics.raw, topics.dlq, topics.cursor, topics.control, topics.controlTotals],
      log,
      compression: compressionType(transactions.compression),
      instanceId,
      readCursors: () => cursors.readAll(),
      signal,
    },
    options.accounts.map((a) => a.login),
  );
  // A position read held for seconds by an open transaction: it may be one of this process's idle
  // slots' records left open (their producer ends them when initialised again: pool.renewIdle).
  const renewIdleSlots = async () => {
    const holders = await openTransactionHolders(kafka, [topics.cursor, topics.controlTotals]);
    const renewed = await pool.renewIdle(holders);
    if (renewed > 0)
      log.info({ renewed }, 'a position read waits on an open transaction: idle slots initialised again');
  };
  cursors.onOpenTransactionsWaiting = renewIdleSlots;
  const totals = new TotalsReader(kafka, options.registry, topics.controlTotals, {
    ...read,
    groupPrefix: `${transactions.idPrefix}-totals-read`,
    onOpenTransactionsWaiting: renewIdleSlots,
  });
  return { pool, cursors, totals };
}

interface PollerRuns {
  /** Resolves when every poller has stopped; rejects when every account was taken over. */
  done: Promise<void>;
  fenced: ReadonlySet<string>;
  running: () => number;
}

/** Runs every poller. A takeover stops that account only; the run fails when no account is left. */
function runPollers(
  pollers: ReadonlyArray<{ account: string; poller: AccountPoller }>,
  pool: ProducerPool,
  signal: AbortSignal,
  log: Logger,
): PollerRuns {
  const fenced = new Set<string>();
  let running = pollers.length;
  const runs = pollers.map(({ account, poller }) =>
    poller
      .run()
      .catch((err: unknown) => {
        if (!isCdrError(err, ErrorCodes.FENCED)) throw err;
        fenced.add(account);
        const slot = pool.slotFor(account);
        log.fatal(
          { code: err.code, account, transactionalId: slot.transactionalId, owner: err.details.owner },
          'fenced: another process took this account over; stopping it',
        );
        // A slot none of whose accounts is left is let go: initialising it again would fence the
        // process that took them.
        if (slot.accounts.every((a) => fenced.has(a))) return slot.close();
      })
      .finally(() => {
        running--;
      }),
  );
  const done = Promise.all(runs).then(() => {
    if (fenced.size > 0 && !signal.aborted)
      throw new CdrError(
        ErrorCodes.FENCED,
        `every account was taken over by another producer: ${[...fenced].join(', ')}`,
      );
  });
  return { done, fenced, running: () => running };
}

function serveHealth(
  options: ProducerOptions,
  kafka: Kafka,
  registry: Registry,
  pollers: ReadonlyArray<{ account: string; poller: AccountPoller }>,
  runs: PollerRuns,
  signal: AbortSignal,
): Promise<OpsServer> {
  const dependencies = dependencyChecks(kafka, options.registry);
  const state = {
    pollers: pollers.map(({ account, poller }) => ({ account, health: poller.health })),
    running: runs.running,
    fenced: runs.fenced,
    stopping: () => signal.aborted,
  };
  return startOpsServer({
    ...options.service.http,
    registry,
    live: () => liveness(state),
    ready: async () => readiness(state, await dependencies.check(), options.readyPollStaleMs),
  });
}
