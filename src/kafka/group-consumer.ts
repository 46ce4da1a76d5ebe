// A consumer group member of a consume-transform-produce stage (the enricher, the recordings
// stage): subscribed to its input topic, read_committed, no auto-commit, its assignments handed to
// the stage's partition owners (partition-owners.ts).
//
// kafkajs stops a consumer for good when a rejoin finds no broker to ask; that is an outage, so
// the member is started again here. Any other consumer that stops for good ends the stage: `done`
// rejects and /healthz fails, so a supervisor restarts it instead of leaving a live, idle member.
import type { ConsumerRunConfig, EachBatchPayload, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { CdrError, ErrorCodes } from '../errors.ts';
import { backoffDelay } from '../ops/retry.ts';
import { accessFailure } from './access.ts';
import { kafkaIdentity } from './client.ts';
import { type HangingGauge, watchHanging } from './hanging.ts';
import { noBrokerAnswered } from './kafka-errors.ts';
import { PartitionOwners } from './partition-owners.ts';

export interface GroupOptions {
  groupId: string;
  inputTopic: string;
  sessionTimeoutMs: number;
  /** Told each time the member is started again after no broker answered. */
  onRestart?: () => void;
}

export interface GroupConsumer {
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
export async function consumeGroup(
  kafka: Kafka,
  options: GroupOptions,
  owners: { assigned(partitions: readonly number[]): void },
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
    // A missing ACL on the group or the input topic is said as such (exit 2).
    stopped =
      accessFailure(cause, kafkaIdentity(kafka), {
        group: { operation: 'Read', names: [options.groupId] },
        topic: { operation: 'Read', names: [options.inputTopic] },
      }) ??
      new CdrError(ErrorCodes.CONSUMER_STOPPED, 'the Kafka consumer stopped and will not restart', { cause });
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
    options.onRestart?.();
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

export interface TransformGroupOptions extends GroupOptions {
  partitionsConcurrently: number;
  transactions: { idPrefix: string; timeoutMs: number };
}

export interface TransformGroup extends Omit<GroupConsumer, 'stop'> {
  owners: PartitionOwners;
  /** Stops the hanging-transaction watch, the member, then the partitions' producers. */
  stop(): Promise<void>;
}

/**
 * A consume-transform-produce stage's Kafka side, the same for every stage: the partition owners
 * (one transactional producer per input partition), the group member that hands them their
 * partitions and runs `eachBatch` with them, and the watch for hanging transactions on `outputs`.
 */
export async function startTransformGroup(
  kafka: Kafka,
  options: TransformGroupOptions,
  outputs: () => readonly string[],
  metrics: { consumerRestarts: { inc(): void }; hangingTransactions: HangingGauge },
  log: Logger,
  eachBatch: (owners: PartitionOwners) => (payload: EachBatchPayload) => Promise<void>,
): Promise<TransformGroup> {
  const owners = new PartitionOwners(
    kafka,
    {
      inputTopic: options.inputTopic,
      groupId: options.groupId,
      transactionalIdPrefix: options.transactions.idPrefix,
      transactionTimeoutMs: options.transactions.timeoutMs,
      outputTopics: outputs(),
    },
    log,
  );
  const group = await consumeGroup(
    kafka,
    { ...options, onRestart: () => metrics.consumerRestarts.inc() },
    owners,
    log,
    {
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: options.partitionsConcurrently,
      eachBatch: eachBatch(owners),
    },
  );
  const hanging = watchHanging(
    kafka,
    outputs,
    options.transactions.timeoutMs,
    metrics.hangingTransactions,
    log,
  );
  return {
    ...group,
    owners,
    stop: async () => {
      await hanging.stop();
      await group.stop();
      await owners.close();
    },
  };
}
