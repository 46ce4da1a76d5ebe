// A bounded read of whole topics: the end offsets are captured first, then every partition is read
// from its start to the end it had, and the read stops there, never waiting for newer records.
// Shared by the producer's cursor read, the tests, and the reading tools.
//
// A read_committed reader is held back by a transaction still open at the captured end until it
// commits, aborts or times out: for the cursor that is the point (a pending cursor is not a cursor
// yet). Batches of only aborted records or transaction markers still move the position: kafkajs
// reports those through END_BATCH_PROCESS, not through eachBatch, so progress is taken from there.
import { randomUUID } from 'node:crypto';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { CdrError, ErrorCodes } from '../errors.ts';

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
}

/** `topic/partition` -> the offset one past the last record when the read started. */
export type EndOffsets = Map<string, bigint>;

export async function endOffsets(kafka: Kafka, topics: readonly string[]): Promise<EndOffsets> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ends: EndOffsets = new Map();
    for (const topic of topics) {
      for (const o of await admin.fetchTopicOffsets(topic)) {
        // A partition emptied by retention (low == high) has nothing to read.
        if (BigInt(o.high) > BigInt(o.low)) ends.set(`${topic}/${o.partition}`, BigInt(o.high));
      }
    }
    return ends;
  } finally {
    await admin.disconnect();
  }
}

/** Reads `topics` from the beginning to the end offsets they have now, batch by batch, in order per partition. */
export async function readToEnd(
  kafka: Kafka,
  topics: readonly string[],
  onBatch: (batch: ReadBatch) => void | Promise<void>,
  options: BoundedReadOptions,
): Promise<void> {
  const ends = await endOffsets(kafka, topics);
  if (ends.size === 0) return;
  const pending = new Set(ends.keys());
  const consumer = kafka.consumer({
    groupId: `${options.groupPrefix ?? 'cdr-bounded-read'}-${randomUUID()}`,
    readUncommitted: options.readUncommitted ?? false,
    maxWaitTimeInMs: 100,
  });
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const reached = (topic: string, partition: number, lastOffset: string) => {
    const key = `${topic}/${partition}`;
    const end = ends.get(key);
    if (end !== undefined && BigInt(lastOffset) >= end - 1n) pending.delete(key);
    if (pending.size === 0) finish();
  };
  consumer.on(consumer.events.END_BATCH_PROCESS, (e) =>
    reached(e.payload.topic, e.payload.partition, e.payload.lastOffset),
  );
  await consumer.connect();
  let timer: NodeJS.Timeout | undefined;
  try {
    await consumer.subscribe({ topics: [...topics], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const end = ends.get(`${batch.topic}/${batch.partition}`);
        if (end === undefined) return;
        // Records appended after the read started are not part of it.
        const messages = batch.messages.filter((m) => BigInt(m.offset) < end);
        if (messages.length > 0) await onBatch({ topic: batch.topic, partition: batch.partition, messages });
      },
    });
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
