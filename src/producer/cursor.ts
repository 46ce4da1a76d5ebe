// The per-account cursor: the last feed id published, kept in a compacted topic (key: account)
// and written in the same transaction as the CDRs it covers, so the cursor and cdr.raw never
// disagree. Read with read_committed to the end of the topic at start and after every failure.
import type { Kafka, Message } from 'kafkajs';
import { CdrError, ErrorCodes } from '../errors.ts';

export interface CursorValue {
  account: string;
  lastId: number;
  /** Rows (published and dead-lettered) in the transaction that wrote this cursor. */
  rows: number;
  committedAt: string;
}

export function cursorMessage(value: CursorValue): Message {
  return { key: value.account, value: JSON.stringify(value) };
}

export function parseCursor(value: Buffer | null): CursorValue | undefined {
  if (!value) return undefined;
  const v = JSON.parse(value.toString('utf8')) as CursorValue;
  return Number.isSafeInteger(v.lastId) ? v : undefined;
}

/**
 * Reads the cursor topic from the beginning to the end it had when the call started, and returns
 * the last cursor of each account found. Pending transactions of other producers hold a
 * read_committed reader back until they end, which is what we want.
 */
export async function readCursors(
  kafka: Kafka,
  topic: string,
  timeoutMs = 60_000,
): Promise<Map<string, CursorValue>> {
  const admin = kafka.admin();
  await admin.connect();
  let targets: Map<number, bigint>;
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    targets = new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
  } finally {
    await admin.disconnect();
  }
  const cursors = new Map<string, CursorValue>();
  const pending = new Set([...targets].filter(([, high]) => high > 0n).map(([p]) => p));
  if (pending.size === 0) return cursors;

  const consumer = kafka.consumer({
    groupId: `cdr-cursor-reader-${process.pid}-${Date.now()}`,
    readUncommitted: false,
    maxWaitTimeInMs: 100,
  });
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const reached = (partition: number, lastOffset: string) => {
    if (BigInt(lastOffset) >= (targets.get(partition) as bigint) - 1n) pending.delete(partition);
    if (pending.size === 0) finish();
  };
  // Batches that hold only control records or aborted data still move the position: kafkajs
  // reports them through this event, not through eachBatch.
  consumer.on(consumer.events.END_BATCH_PROCESS, (e) => reached(e.payload.partition, e.payload.lastOffset));
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          const cursor = parseCursor(m.value);
          if (cursor) cursors.set(cursor.account, cursor);
        }
      },
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new CdrError(ErrorCodes.KAFKA, `reading ${topic} to its end took over ${timeoutMs} ms`, {
              retriable: true,
            }),
          ),
        timeoutMs,
      );
    });
    await Promise.race([done, timeout]).finally(() => clearTimeout(timer));
    return cursors;
  } finally {
    await consumer.disconnect();
  }
}
