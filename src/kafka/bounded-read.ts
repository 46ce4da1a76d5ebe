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
import type { Consumer, Kafka, KafkaMessage } from 'kafkajs';
import { CdrError, ErrorCodes } from '../errors.ts';
import { type EndOffsets, type RangeOptions, readRange } from './read-range.ts';

export type { EndOffsets } from './read-range.ts';

export interface PartitionRecords {
  topic: string;
  partition: number;
  messages: KafkaMessage[];
}

export interface BoundedReadOptions extends RangeOptions {
  /** Fails the read with a retriable CDR_KAFKA error when the end is not reached in time. */
  timeoutMs: number;
  readUncommitted?: boolean;
  /** Prefix of the throwaway consumer group's id. */
  groupPrefix?: string;
  /** The throwaway group's session timeout (kafkajs default 30 s; the broker's minimum is 6 s). */
  sessionTimeoutMs?: number;
  /**
   * Keeps partitions in step by record time: a partition whose last record handed over is more
   * than this many ms newer than the oldest among the partitions still being read is paused until
   * they catch up. For readers that merge partitions (an account's ids ascend per partition, and
   * its partitions were written together): what they hold meanwhile stays bounded.
   */
  paceMs?: number;
  /** Told the end offsets the read captured, before the first batch (for progress reports). */
  onEnds?(ends: EndOffsets): void;
}

export async function endOffsets(kafka: Kafka, topics: readonly string[]): Promise<EndOffsets> {
  return (await readRange(kafka, topics, {})).ends;
}

/** Reads `topics` from the beginning to the end offsets they have now, batch by batch, in order per partition. */
export async function readToEnd(
  kafka: Kafka,
  topics: readonly string[],
  onBatch: (batch: PartitionRecords) => void | Promise<void>,
  options: BoundedReadOptions,
): Promise<void> {
  const { ends, starts } = await readRange(kafka, topics, options);
  options.onEnds?.(ends);
  if (ends.size === 0) return;
  const consumer = boundedConsumer(kafka, options);
  const read = new PartitionsRead(ends, starts, options.paceMs, onBatch);
  consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
    // kafkajs reports high watermark - 1 as the last offset of a fetched batch that held nothing
    // at or after the fetch position (firstOffset null): it was not read up to there, so it is not
    // taken as the end. A read that never sees its end times out and is retried; it is never short.
    if (e.payload.firstOffset === null) return;
    read.reached(`${e.payload.topic}/${e.payload.partition}`, e.payload.lastOffset);
  });
  await consumer.connect();
  read.resume = (key) => consumer.resume([partitionOf(key)]);
  let timer: NodeJS.Timeout | undefined;
  try {
    await consumer.subscribe({ topics: [...topics], fromBeginning: true });
    await consumer.run({ autoCommit: false, eachBatch: ({ batch, pause }) => read.take(batch, pause) });
    for (const [key, offset] of starts) consumer.seek({ ...partitionAt(key), offset: String(offset) });
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
    await Promise.race([read.done, timeout]);
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
  }
}

/** A throwaway consumer group's member that reads in small fetches. */
function boundedConsumer(kafka: Kafka, options: BoundedReadOptions): Consumer {
  return kafka.consumer({
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
}

function partitionAt(key: string): { topic: string; partition: number } {
  const at = key.lastIndexOf('/');
  return { topic: key.slice(0, at), partition: Number(key.slice(at + 1)) };
}

function partitionOf(key: string): { topic: string; partitions: number[] } {
  const { topic, partition } = partitionAt(key);
  return { topic, partitions: [partition] };
}

/**
 * The state of a bounded read: which partitions are still short of their end, what was handed over
 * (each offset once), and, when paced, which partitions wait for the others.
 */
class PartitionsRead {
  readonly done: Promise<void>;
  /** Resumes a paused partition (the consumer's, once connected). */
  resume: (key: string) => void = () => {};
  private readonly pending: Set<string>;
  /** Per partition, the offset after the last record handed over. */
  private readonly delivered = new Map<string, bigint>();
  /** Pacing: per partition, the timestamp of the last record handed over; the partitions paused. */
  private readonly lastTime = new Map<string, number>();
  private readonly paused = new Set<string>();
  private failed = false;
  private finish: () => void = () => {};
  private fail: (err: unknown) => void = () => {};

  private readonly ends: EndOffsets;
  private readonly starts: ReadonlyMap<string, bigint>;
  private readonly paceMs: number | undefined;
  private readonly onBatch: (batch: PartitionRecords) => void | Promise<void>;

  constructor(
    ends: EndOffsets,
    starts: ReadonlyMap<string, bigint>,
    paceMs: number | undefined,
    onBatch: (batch: PartitionRecords) => void | Promise<void>,
  ) {
    this.ends = ends;
    this.starts = starts;
    this.paceMs = paceMs;
    this.onBatch = onBatch;
    this.pending = new Set(ends.keys());
    this.done = new Promise<void>((resolve, reject) => {
      this.finish = resolve;
      this.fail = reject;
    });
  }

  /** kafkajs processed a batch of the partition up to `lastOffset`. */
  reached(key: string, lastOffset: string): void {
    const end = this.ends.get(key);
    if (end !== undefined && BigInt(lastOffset) >= end - 1n) this.pending.delete(key);
    if (this.pending.size === 0) this.finish();
    else if (this.paceMs !== undefined) this.resumeCaughtUp();
  }

  /** A fetched batch: its records inside the read's range handed over, once each. */
  async take(
    batch: { topic: string; partition: number; messages: KafkaMessage[] },
    pause: () => void,
  ): Promise<void> {
    const key = `${batch.topic}/${batch.partition}`;
    const messages = this.inRange(key, batch.messages);
    if (messages.length === 0 || this.failed) return;
    try {
      await this.onBatch({ topic: batch.topic, partition: batch.partition, messages });
    } catch (err) {
      // The reader's own failure ends the read (kafkajs would retry the batch until the timeout).
      this.failed = true;
      this.fail(err);
      return;
    }
    const last = messages[messages.length - 1] as KafkaMessage;
    this.delivered.set(key, BigInt(last.offset) + 1n);
    if (this.paceMs !== undefined) this.pace(key, Number(last.timestamp), pause);
  }

  /**
   * The records not handed over yet and before the end. Each offset once: a rejoin (after a
   * coordinator moved, a broker restarted) gives kafkajs a new offset manager, and a group that
   * commits nothing starts over from the beginning. Records appended after the read started are
   * not part of it, nor those before its start.
   */
  private inRange(key: string, all: KafkaMessage[]): KafkaMessage[] {
    const end = this.ends.get(key);
    if (end === undefined || all.length === 0) return [];
    const from = this.delivered.get(key) ?? this.starts.get(key) ?? 0n;
    // Usually the whole batch is inside the range: two offsets compared, not every one.
    return BigInt((all[0] as KafkaMessage).offset) >= from &&
      BigInt((all[all.length - 1] as KafkaMessage).offset) < end
      ? all
      : all.filter((m) => BigInt(m.offset) < end && BigInt(m.offset) >= from);
  }

  /** Pauses a partition that ran ahead of the oldest one still being read, resumes those caught up. */
  private pace(key: string, timestamp: number, pause: () => void): void {
    this.lastTime.set(key, timestamp);
    const low = this.floor();
    if (Number.isFinite(low) && timestamp > low + (this.paceMs as number) && !this.paused.has(key)) {
      this.paused.add(key);
      pause();
    }
    this.resumeCaughtUp();
  }

  private resumeCaughtUp(): void {
    const limit = this.floor() + (this.paceMs as number);
    for (const key of this.paused)
      if (!this.pending.has(key) || (this.lastTime.get(key) as number) <= limit) {
        this.paused.delete(key);
        this.resume(key);
      }
  }

  /** The oldest last-record time among the partitions still being read (-Infinity: one not seen yet). */
  private floor(): number {
    let min = Number.POSITIVE_INFINITY;
    for (const key of this.pending) min = Math.min(min, this.lastTime.get(key) ?? Number.NEGATIVE_INFINITY);
    return min;
  }
}

/** Every record of `topics` up to their current ends, as [topic, partition, message]. */
export async function readAllToEnd(
  kafka: Kafka,
  topics: readonly string[],
  options: BoundedReadOptions,
): Promise<PartitionRecords[]> {
  const batches: PartitionRecords[] = [];
  await readToEnd(kafka, topics, (b) => void batches.push(b), options);
  return batches;
}
