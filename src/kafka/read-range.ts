// Where a bounded read begins and ends in each partition (see bounded-read.ts): the end offsets
// captured first (the last stable offset, settled for a moment; or the high watermark once the
// transactions open then have ended), the start from a timestamp or an index.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin, Kafka } from 'kafkajs';
import { CdrError, ErrorCodes } from '../errors.ts';
import { accessFailure } from './access.ts';
import { kafkaIdentity } from './client.ts';
import { type PartitionOffsets, topicOffsets, topicOffsetsAt } from './offsets.ts';

/** `topic/partition` -> the offset one past the last record when the read started. */
export type EndOffsets = Map<string, bigint>;

/** Where a read starts and ends. */
export interface RangeOptions {
  /** Read only records written (record timestamp) at or after this instant, epoch ms. */
  fromTimestamp?: number;
  /**
   * Where to start, per `topic/partition` (an index says where the wanted records begin); a
   * partition not named has nothing wanted and is not read. With `fromTimestamp`, the later wins.
   */
  fromOffsets?: ReadonlyMap<string, bigint>;
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
  /**
   * Told once per topic when its last stable offset is behind the high watermark the read captured
   * and the read waits (up to SETTLE_MS) for the transactions there to end.
   */
  onSettling?: (topic: string) => void;
}

/** Per partition with something to read: where the read ends, and where it starts when not at the beginning. */
export async function readRange(
  kafka: Kafka,
  topics: readonly string[],
  options: RangeOptions,
): Promise<{ ends: EndOffsets; starts: Map<string, bigint> }> {
  const { fromTimestamp, fromOffsets, awaitOpenTransactionsMs, toOffsets } = options;
  const admin = kafka.admin();
  const uncommitted = kafka.admin({ readUncommitted: true });
  await admin.connect();
  await uncommitted.connect();
  try {
    const ends: EndOffsets = new Map();
    const starts = new Map<string, bigint>();
    // A topic that does not exist (yet) has nothing to read; one this client may not Describe
    // looks the same to a listing, and is refused instead of read as empty.
    const existing = new Set(await admin.listTopics());
    await refuseHidden(
      kafka,
      topics.filter((t) => !existing.has(t)),
    );
    for (const topic of topics.filter((t) => existing.has(t))) {
      const byTime =
        fromTimestamp === undefined ? undefined : await topicOffsetsAt(admin, topic, fromTimestamp);
      const offsets =
        toOffsets !== undefined
          ? await topicOffsets(uncommitted, topic)
          : awaitOpenTransactionsMs === undefined
            ? await settledOffsets(admin, uncommitted, topic, options.onSettling)
            : await awaitWritten(
                admin,
                uncommitted,
                topic,
                awaitOpenTransactionsMs,
                options.onOpenTransactionsWaiting,
              );
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
    await uncommitted.disconnect();
  }
}

/**
 * Throws CDR_KAFKA_ACCESS for a topic of `topics` (missing from the listing) that the broker says
 * this client may not Describe: Kafka lists only the topics a client may see.
 */
async function refuseHidden(kafka: Kafka, topics: readonly string[]): Promise<void> {
  if (topics.length === 0) return;
  const admin = kafka.admin({ retry: { retries: 0 } });
  await admin.connect();
  try {
    for (const topic of topics)
      await admin.fetchTopicMetadata({ topics: [topic] }).catch((err: unknown) => {
        const refused = accessFailure(err, kafkaIdentity(kafka), {
          topic: { operation: 'Describe', names: [topic] },
        });
        if (refused) throw refused;
      });
  } finally {
    await admin.disconnect();
  }
}

/** How long a read waits for transactions committing when it starts to have their markers written. */
const SETTLE_MS = 2000;

/**
 * The topic's offsets, `high` being where the read ends: the high watermark when the call starts,
 * or the last stable offset if it is still behind that after SETTLE_MS (see the top of the file).
 */
async function settledOffsets(
  stable: Admin,
  uncommitted: Admin,
  topic: string,
  onSettling?: (topic: string) => void,
): Promise<PartitionOffsets[]> {
  const highs = new Map((await topicOffsets(uncommitted, topic)).map((o) => [o.partition, BigInt(o.high)]));
  const deadline = Date.now() + SETTLE_MS;
  let told = false;
  // A wait for the last stable offset to move, not the retry of a failure (ops/retry.ts): nothing
  // failed, and the answer at the deadline is used as it is.
  for (;;) {
    const now = await topicOffsets(stable, topic);
    const settled = now.every((o) => BigInt(o.high) >= (highs.get(o.partition) ?? 0n));
    if (!settled && !told) {
      told = true;
      onSettling?.(topic);
    }
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
  uncommitted: Admin,
  topic: string,
  waitMs: number,
  onWaiting?: () => Promise<unknown>,
): Promise<PartitionOffsets[]> {
  const highs = new Map((await topicOffsets(uncommitted, topic)).map((o) => [o.partition, BigInt(o.high)]));
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
