// A bounded read of whole topics: the end offsets are captured first, then every partition is read
// from its start to the end it had, and the read stops there, never waiting for newer records.
// Shared by the producer's cursor read, the tests, and the reading tools.
//
// The end is the last stable offset (what a read_committed ListOffsets answers: the first record
// of a transaction still open, else the high watermark), so the read never waits for an open
// transaction: a transaction whose marker a broker lost (seen with Kafka stopped mid-commit) stays
// open in its partition for good, and a read waiting for it would never end (the cursor's
// defence against it reads the running totals: cursorBehindTotals). But a transaction committed a
// moment ago has its markers still being written, and the last stable offset is still at its first
// record: a read started then would miss it (and what was committed behind it). So when the last
// stable offset of a partition is behind its high watermark, the read asks again for up to
// SETTLE_MS, and ends at the high watermark it captured first once the last stable offset is
// there, at the last stable offset it has when the time is up. Batches of only aborted records or
// transaction markers still move the position: kafkajs reports those through END_BATCH_PROCESS,
// not through eachBatch, so progress is taken from there.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin, Kafka, KafkaMessage } from 'kafkajs';
import { CdrError, ErrorCodes } from '../errors.ts';
import { type PartitionOffsets, topicOffsets, topicOffsetsAt } from './offsets.ts';

export interface ReadBatch {
  topic: string;
  partition: number;
  messages: KafkaMessage[];
}

export interface BoundedReadOptions {
  /** Fails the read with a retriable CDR_KAFKA error when the end is not reached in time. */
  timeoutMs: number;
  readUncommitted?: boolean;
  /** Prefix of the throwaway consumer group's id. */
  groupPrefix?: string;
  /** Read only records written (record timestamp) at or after this instant, epoch ms. */
  fromTimestamp?: number;
  /** The throwaway group's session timeout (kafkajs default 30 s; the broker's minimum is 6 s). */
  sessionTimeoutMs?: number;
  /**
   * Where to start, per `topic/partition` (an index says where the wanted records begin); a
   * partition not named has nothing wanted and is not read. With `fromTimestamp`, the later wins.
   */
  fromOffsets?: ReadonlyMap<string, bigint>;
  /**
   * Keeps partitions in step by record time: a partition whose last record handed over is more
   * than this many ms newer than the oldest among the partitions still being read is paused until
   * they catch up. For readers that merge partitions (an account's ids ascend per partition, and
   * its partitions were written together): what they hold meanwhile stays bounded.
   */
  paceMs?: number;
  /** Told the end offsets the read captured, before the first batch (for progress reports). */
  onEnds?(ends: EndOffsets): void;
  /**
   * Read to the high watermark the read starts with, waiting up to this long for the transactions
   * open then to end (see awaitWritten); fails with CDR_HANGING_TRANSACTION when one does not.
   * Without it the read ends at the last stable offset (see the top of the file).
   */
  awaitOpenTransactionsMs?: number;
  /**
   * With awaitOpenTransactionsMs: called once when the wait has gone on for a few seconds (a
   * transaction held open longer than a commit takes), for the caller to end what of it is its own.
   */
  onOpenTransactionsWaiting?: () => Promise<unknown>;
  /**
   * Where each partition's read ends (`topic/partition` -> one past the last offset wanted) instead
   * of where the topic ends now: only the partitions named are read. With `readUncommitted`, for a
   * look at records past the last stable offset (an open transaction's).
   */
  toOffsets?: ReadonlyMap<string, bigint>;
}

/** `topic/partition` -> the offset one past the last record when the read started. */
export type EndOffsets = Map<string, bigint>;

export async function endOffsets(kafka: Kafka, topics: readonly string[]): Promise<EndOffsets> {
  return (await readRange(kafka, topics, {})).ends;
}

/** Per partition with something to read: where the read ends, and where it starts when not at the beginning. */
async function readRange(
  kafka: Kafka,
  topics: readonly string[],
  o: Pick<
    BoundedReadOptions,
    'fromTimestamp' | 'fromOffsets' | 'awaitOpenTransactionsMs' | 'onOpenTransactionsWaiting' | 'toOffsets'
  >,
): Promise<{ ends: EndOffsets; starts: Map<string, bigint> }> {
  const { fromTimestamp, fromOffsets, awaitOpenTransactionsMs, toOffsets } = o;
  const admin = kafka.admin();
  const written = kafka.admin({ readUncommitted: true });
  await admin.connect();
  await written.connect();
  try {
    const ends: EndOffsets = new Map();
    const starts = new Map<string, bigint>();
    // A topic that does not exist (yet) has nothing to read.
    const existing = new Set(await admin.listTopics());
    for (const topic of topics.filter((t) => existing.has(t))) {
      const byTime =
        fromTimestamp === undefined ? undefined : await topicOffsetsAt(admin, topic, fromTimestamp);
      const offsets =
        toOffsets !== undefined
          ? await topicOffsets(written, topic)
          : awaitOpenTransactionsMs === undefined
            ? await settledOffsets(admin, written, topic)
            : await awaitWritten(admin, written, topic, awaitOpenTransactionsMs, o.onOpenTransactionsWaiting);
      for (const o of offsets) {
        const key = `${topic}/${o.partition}`;
        if (toOffsets !== undefined && !toOffsets.has(key)) continue;
        const high = toOffsets?.get(key) ?? BigInt(o.high);
        // -1: no record at or after the instant.
        const fromTime = byTime?.get(o.partition);
        let start = fromTime === undefined ? BigInt(o.low) : fromTime === '-1' ? high : BigInt(fromTime);
        if (fromOffsets) {
          const indexed = fromOffsets.get(key) ?? high;
          if (indexed > start) start = indexed;
        }
        // A partition emptied by retention (low == high), or with nothing after the instant, has nothing to read.
        if (high > start) {
          ends.set(key, high);
          if (start > BigInt(o.low)) starts.set(key, start);
        }
      }
    }
    return { ends, starts };
  } finally {
    await admin.disconnect();
    await written.disconnect();
  }
}

/** How long a read waits for transactions committing when it starts to have their markers written. */
const SETTLE_MS = 2000;

/**
 * The topic's offsets, `high` being where the read ends: the high watermark when the call starts,
 * or the last stable offset if it is still behind that after SETTLE_MS (see the top of the file).
 */
async function settledOffsets(stable: Admin, written: Admin, topic: string): Promise<PartitionOffsets[]> {
  const highs = new Map((await topicOffsets(written, topic)).map((o) => [o.partition, BigInt(o.high)]));
  const deadline = Date.now() + SETTLE_MS;
  // A wait for the last stable offset to move, not the retry of a failure (ops/retry.ts): nothing
  // failed, and the answer at the deadline is used as it is.
  for (;;) {
    const now = await topicOffsets(stable, topic);
    const settled = now.every((o) => BigInt(o.high) >= (highs.get(o.partition) ?? 0n));
    if (settled || Date.now() >= deadline)
      return now.map((o) => {
        const high = highs.get(o.partition);
        return high !== undefined && BigInt(o.high) > high ? { ...o, high: String(high) } : o;
      });
    await sleep(50);
  }
}

/**
 * The topic's offsets, `high` being the high watermark when the call starts, once the last stable
 * offset has got there: every record written before the call is then committed or aborted, and a
 * read_committed read to it sees all that was committed, also behind a transaction that was open
 * at the start (another producer's, committing a moment later). This is how Kafka Connect's
 * exactly-once sources read their offsets (KafkaBasedLog: end offsets at read_uncommitted, read
 * with a read_committed consumer). An open transaction ends by its producer's commit or abort, or
 * by its coordinator when it times out; one that stays open past `waitMs` is one that no coordinator
 * knows (records written outside the transaction the coordinator had): CDR_HANGING_TRANSACTION,
 * naming the partitions and where they hang.
 */
async function awaitWritten(
  stable: Admin,
  written: Admin,
  topic: string,
  waitMs: number,
  onWaiting?: () => Promise<unknown>,
): Promise<PartitionOffsets[]> {
  const highs = new Map((await topicOffsets(written, topic)).map((o) => [o.partition, BigInt(o.high)]));
  const startedAt = Date.now();
  const deadline = startedAt + waitMs;
  let told = onWaiting === undefined;
  // A wait for open transactions to end, not the retry of a failure (ops/retry.ts): at the deadline
  // the state itself is the error (a hanging transaction).
  for (let attempt = 0; ; attempt++) {
    const now = await topicOffsets(stable, topic);
    const behind = now.filter((o) => BigInt(o.high) < (highs.get(o.partition) ?? 0n));
    if (behind.length === 0)
      return now.map((o) => ({ ...o, high: String(highs.get(o.partition) ?? BigInt(o.high)) }));
    if (Date.now() >= deadline)
      throw new CdrError(
        ErrorCodes.HANGING_TRANSACTION,
        `the last stable offset of ${behind.map((o) => `${topic}/${o.partition} stayed at ${o.high}, behind the high watermark ${highs.get(o.partition)}`).join('; ')}, for over ${Math.round(waitMs / 1000)} s: a transaction no coordinator ends (a hanging transaction)`,
        {
          retriable: true,
          details: {
            topic,
            partitions: behind.map((o) => ({
              partition: o.partition,
              lastStableOffset: o.high,
              highWatermark: String(highs.get(o.partition)),
            })),
          },
        },
      );
    if (!told && Date.now() - startedAt > WAITING_HOOK_MS) {
      told = true;
      await onWaiting?.().catch(() => undefined);
    }
    await sleep(Math.min(50 * 2 ** Math.min(attempt, 4), 500));
  }
}

/** How long a read waits for open transactions before it tells the caller (onOpenTransactionsWaiting). */
const WAITING_HOOK_MS = 5000;

/** Reads `topics` from the beginning to the end offsets they have now, batch by batch, in order per partition. */
export async function readToEnd(
  kafka: Kafka,
  topics: readonly string[],
  onBatch: (batch: ReadBatch) => void | Promise<void>,
  options: BoundedReadOptions,
): Promise<void> {
  const { ends, starts } = await readRange(kafka, topics, options);
  options.onEnds?.(ends);
  if (ends.size === 0) return;
  const pending = new Set(ends.keys());
  /** Per partition, the offset after the last record handed over. */
  const delivered = new Map<string, bigint>();
  /** Pacing: per partition, the timestamp of the last record handed over; the partitions paused. */
  const lastTime = new Map<string, number>();
  const paused = new Set<string>();
  const partitionOf = (key: string) => {
    const at = key.lastIndexOf('/');
    return { topic: key.slice(0, at), partitions: [Number(key.slice(at + 1))] };
  };
  /** The oldest last-record time among the partitions still being read (-Infinity: one not seen yet). */
  const floor = () => {
    let min = Number.POSITIVE_INFINITY;
    for (const key of pending) min = Math.min(min, lastTime.get(key) ?? Number.NEGATIVE_INFINITY);
    return min;
  };
  const consumer = kafka.consumer({
    groupId: `${options.groupPrefix ?? 'cdr-bounded-read'}-${randomUUID()}`,
    readUncommitted: options.readUncommitted ?? false,
    maxWaitTimeInMs: 100,
    // Fetches of 2 MB (512 KB a partition), not kafkajs's 10 MB: a fetch's records stay in memory
    // until the last of them is handed over, so readers of millions of records keep a small heap,
    // at no measurable cost in speed on a local broker (docs/performance.md).
    maxBytes: 2 * 1024 * 1024,
    maxBytesPerPartition: 512 * 1024,
    ...(options.sessionTimeoutMs === undefined
      ? {}
      : {
          sessionTimeout: options.sessionTimeoutMs,
          heartbeatInterval: Math.floor(options.sessionTimeoutMs / 10),
        }),
  });
  let finish: () => void = () => {};
  let fail: (err: unknown) => void = () => {};
  const done = new Promise<void>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  let failed = false;
  const reached = (topic: string, partition: number, lastOffset: string) => {
    const key = `${topic}/${partition}`;
    const end = ends.get(key);
    if (end !== undefined && BigInt(lastOffset) >= end - 1n) pending.delete(key);
    if (pending.size === 0) finish();
    else if (options.paceMs !== undefined) resumeCaughtUp();
  };
  let consumerRef: { resume(t: Array<{ topic: string; partitions: number[] }>): void } | undefined;
  const resumeCaughtUp = () => {
    const limit = floor() + (options.paceMs as number);
    for (const key of paused)
      if (!pending.has(key) || (lastTime.get(key) as number) <= limit) {
        paused.delete(key);
        consumerRef?.resume([partitionOf(key)]);
      }
  };
  consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
    // kafkajs reports high watermark - 1 as the last offset of a fetched batch that held nothing
    // at or after the fetch position (firstOffset null): it was not read up to there, so it is not
    // taken as the end. A read that never sees its end times out and is retried; it is never short.
    if (e.payload.firstOffset === null) return;
    reached(e.payload.topic, e.payload.partition, e.payload.lastOffset);
  });
  await consumer.connect();
  consumerRef = consumer;
  let timer: NodeJS.Timeout | undefined;
  try {
    await consumer.subscribe({ topics: [...topics], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch, pause }) => {
        const key = `${batch.topic}/${batch.partition}`;
        const end = ends.get(key);
        if (end === undefined) return;
        // Each offset once: a rejoin (after a coordinator moved, a broker restarted) gives kafkajs a
        // new offset manager, and a group that commits nothing starts over from the beginning.
        const from = delivered.get(key) ?? starts.get(key) ?? 0n;
        // Records appended after the read started are not part of it, nor those before its start.
        const all = batch.messages;
        if (all.length === 0) return;
        // Usually the whole batch is inside the range: two offsets compared, not every one.
        const messages =
          BigInt((all[0] as KafkaMessage).offset) >= from &&
          BigInt((all[all.length - 1] as KafkaMessage).offset) < end
            ? all
            : all.filter((m) => BigInt(m.offset) < end && BigInt(m.offset) >= from);
        if (messages.length === 0) return;
        if (failed) return;
        try {
          await onBatch({ topic: batch.topic, partition: batch.partition, messages });
        } catch (err) {
          // The reader's own failure ends the read (kafkajs would retry the batch until the timeout).
          failed = true;
          fail(err);
          return;
        }
        const last = messages[messages.length - 1] as KafkaMessage;
        delivered.set(key, BigInt(last.offset) + 1n);
        if (options.paceMs !== undefined) {
          lastTime.set(key, Number(last.timestamp));
          const low = floor();
          if (Number.isFinite(low) && Number(last.timestamp) > low + options.paceMs && !paused.has(key)) {
            paused.add(key);
            pause();
          }
          resumeCaughtUp();
        }
      },
    });
    for (const [key, offset] of starts) {
      const at = key.lastIndexOf('/');
      consumer.seek({
        topic: key.slice(0, at),
        partition: Number(key.slice(at + 1)),
        offset: String(offset),
      });
    }
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new CdrError(
              ErrorCodes.KAFKA,
              `reading ${topics.join(', ')} to its end took over ${options.timeoutMs} ms`,
              { retriable: true },
            ),
          ),
        options.timeoutMs,
      );
    });
    await Promise.race([done, timeout]);
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
  }
}

/** Every record of `topics` up to their current ends, as [topic, partition, message]. */
export async function readAllToEnd(
  kafka: Kafka,
  topics: readonly string[],
  options: BoundedReadOptions,
): Promise<ReadBatch[]> {
  const batches: ReadBatch[] = [];
  await readToEnd(kafka, topics, (b) => void batches.push(b), options);
  return batches;
}
