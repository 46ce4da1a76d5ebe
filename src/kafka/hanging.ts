// Hanging transactions. A transaction keeps a partition's last stable offset (LSO) at its first
// record until its markers are written; read_committed readers see nothing past it meanwhile. A
// transaction ends by its producer's commit or abort, or by its coordinator once it has been open
// longer than its timeout; so an LSO that stays behind the high watermark for longer than that is
// held by records no coordinator will end (written outside the transaction the coordinator had):
// a hanging transaction. Kafka's `kafka-transactions.sh find-hanging` finds them and `abort` ends
// them (KIP-664); docs/operations.md says how.
//
// HangingWatch is what a service runs: it asks for the LSO and the high watermark of its topics now
// and then and reports a partition whose LSO has not moved, behind its high watermark, for longer
// than the threshold. findHanging answers the same question at once, for `status`: it reads the
// record at the LSO (the first record of the oldest open transaction) and how old it is.
import type { Admin, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { readToEnd } from './bounded-read.ts';
import { topicOffsets } from './offsets.ts';

export interface OpenPartition {
  topic: string;
  partition: number;
  lastStableOffset: bigint;
  highWatermark: bigint;
}

export interface HangingPartition extends OpenPartition {
  /** Since when (epoch ms) the partition has been seen held at this offset, or its record there was written. */
  since: number;
  /** The producer whose record holds it, when known. */
  producerId?: string;
}

/** Partitions of `topics` whose last stable offset is behind their high watermark now. */
export async function openPartitions(
  stable: Admin,
  uncommitted: Admin,
  topics: readonly string[],
): Promise<OpenPartition[]> {
  const existing = new Set(await stable.listTopics());
  const out: OpenPartition[] = [];
  for (const topic of topics.filter((t) => existing.has(t))) {
    const highs = new Map((await topicOffsets(uncommitted, topic)).map((o) => [o.partition, BigInt(o.high)]));
    for (const o of await topicOffsets(stable, topic)) {
      const highWatermark = highs.get(o.partition) ?? 0n;
      const lastStableOffset = BigInt(o.high);
      if (lastStableOffset < highWatermark)
        out.push({ topic, partition: o.partition, lastStableOffset, highWatermark });
    }
  }
  return out;
}

/**
 * The record at the last stable offset of each open partition (the first record of the oldest
 * transaction still open there): when it was written, and by which producer id.
 */
export async function openRecordHeads(
  kafka: Kafka,
  open: readonly OpenPartition[],
): Promise<Array<OpenPartition & { timestamp: number; producerId: string }>> {
  if (open.length === 0) return [];
  const key = (p: { topic: string; partition: number }) => `${p.topic}/${p.partition}`;
  const heads = new Map<string, { timestamp: number; producerId: string }>();
  await readToEnd(
    kafka,
    [...new Set(open.map((p) => p.topic))],
    ({ topic, partition, messages }) => {
      const first = messages[0];
      if (first && !heads.has(`${topic}/${partition}`))
        heads.set(`${topic}/${partition}`, {
          timestamp: Number(first.timestamp),
          producerId: String((first as { batchContext?: { producerId?: unknown } }).batchContext?.producerId),
        });
    },
    {
      timeoutMs: 30_000,
      readUncommitted: true,
      groupPrefix: 'cdr-open-head',
      fromOffsets: new Map(open.map((p) => [key(p), p.lastStableOffset])),
      toOffsets: new Map(open.map((p) => [key(p), p.lastStableOffset + 1n])),
    },
  );
  return open.flatMap((p) => {
    const head = heads.get(key(p));
    return head ? [{ ...p, ...head }] : [];
  });
}

/** openPartitions with admin clients of its own. */
export async function openPartitionsNow(kafka: Kafka, topics: readonly string[]): Promise<OpenPartition[]> {
  const stable = kafka.admin();
  const uncommitted = kafka.admin({ readUncommitted: true });
  await stable.connect();
  await uncommitted.connect();
  try {
    return await openPartitions(stable, uncommitted, topics);
  } finally {
    await stable.disconnect();
    await uncommitted.disconnect();
  }
}

/** The producer ids whose records hold the last stable offset of a partition of `topics` now. */
export async function openTransactionHolders(kafka: Kafka, topics: readonly string[]): Promise<Set<string>> {
  const heads = await openRecordHeads(kafka, await openPartitionsNow(kafka, topics));
  return new Set(heads.map((h) => h.producerId));
}

/**
 * The hanging transactions of `topics` now: partitions whose record at the last stable offset (the
 * first of the oldest transaction still open) was written more than `thresholdMs` ago.
 */
export async function findHanging(
  kafka: Kafka,
  topics: readonly string[],
  thresholdMs: number,
  now = Date.now(),
): Promise<HangingPartition[]> {
  return (await openRecordHeads(kafka, await openPartitionsNow(kafka, topics)))
    .filter((h) => now - h.timestamp > thresholdMs)
    .map((h) => ({ ...h, since: h.timestamp }));
}

export interface HangingWatchOptions {
  /** Longer than any transaction may stay open: the transaction timeout and some. */
  thresholdMs: number;
  intervalMs: number;
  /** Told the hanging partitions per topic after every look (a metric). */
  onLook?: (hanging: readonly HangingPartition[], topics: readonly string[]) => void;
}

/** Watches `topics` for hanging transactions while a service runs (see the top of the file). */
export class HangingWatch {
  private readonly kafka: Kafka;
  private readonly topics: () => readonly string[];
  private readonly options: HangingWatchOptions;
  private readonly log: Logger;
  /** Per `topic/partition`: the last stable offset it is held at, since when. */
  private readonly held = new Map<string, { offset: bigint; since: number }>();
  private readonly reported = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private admins: Promise<{ stable: Admin; uncommitted: Admin }> | undefined;
  private hanging: HangingPartition[] = [];

  constructor(kafka: Kafka, topics: () => readonly string[], options: HangingWatchOptions, log: Logger) {
    this.kafka = kafka;
    this.topics = topics;
    this.options = options;
    this.log = log;
  }

  start(): void {
    const tick = () => {
      this.look().then(
        () => {
          if (this.timer !== undefined) this.timer = setTimeout(tick, this.options.intervalMs).unref();
        },
        (err: unknown) => {
          // The brokers not answering is seen elsewhere (readiness, failed transactions).
          this.log.debug({ err }, 'looking for hanging transactions failed');
          this.admins = undefined;
          if (this.timer !== undefined) this.timer = setTimeout(tick, this.options.intervalMs).unref();
        },
      );
    };
    this.timer = setTimeout(tick, 0).unref();
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const admins = this.admins;
    this.admins = undefined;
    if (admins)
      await admins
        .then(async ({ stable, uncommitted }) => {
          await stable.disconnect();
          await uncommitted.disconnect();
        })
        .catch(() => undefined);
  }

  current(): readonly HangingPartition[] {
    return this.hanging;
  }

  /** One look: which partitions are held, since when; reports those held past the threshold. */
  async look(now = Date.now()): Promise<readonly HangingPartition[]> {
    this.admins ??= (async () => {
      const stable = this.kafka.admin();
      const uncommitted = this.kafka.admin({ readUncommitted: true });
      await stable.connect();
      await uncommitted.connect();
      return { stable, uncommitted };
    })();
    const { stable, uncommitted } = await this.admins;
    const topics = this.topics();
    const open = await openPartitions(stable, uncommitted, topics);
    const seen = new Set<string>();
    const hanging: HangingPartition[] = [];
    for (const p of open) {
      const key = `${p.topic}/${p.partition}`;
      seen.add(key);
      const held = this.held.get(key);
      const since = held?.offset === p.lastStableOffset ? held.since : now;
      this.held.set(key, { offset: p.lastStableOffset, since });
      if (now - since <= this.options.thresholdMs) continue;
      hanging.push({ ...p, since });
      if (!this.reported.has(key)) {
        this.reported.add(key);
        this.log.error(
          {
            topic: p.topic,
            partition: p.partition,
            lastStableOffset: String(p.lastStableOffset),
            highWatermark: String(p.highWatermark),
            since: new Date(since).toISOString(),
          },
          'a hanging transaction: the last stable offset has not moved for longer than a transaction may stay open, and read_committed readers see nothing past it (docs/operations.md: find it with kafka-transactions.sh find-hanging, end it with abort)',
        );
      }
    }
    for (const key of [...this.held.keys()])
      if (!seen.has(key)) {
        this.held.delete(key);
        if (this.reported.delete(key)) this.log.info({ partition: key }, 'the hanging transaction has ended');
      }
    this.hanging = hanging;
    this.options.onLook?.(hanging, topics);
    return hanging;
  }
}

/**
 * Starts a watch of `topics` for a service: a look every 15 s; `gauge` (labelled by topic) holds the
 * partitions found hanging. Threshold: the transaction timeout and the coordinator's cleanup
 * interval (10 s by default) and some.
 */
/** The gauge of hanging transactions, by topic. */
export type HangingGauge = { set(labels: { topic: string }, value: number): void };

export function watchHanging(
  kafka: Kafka,
  topics: () => readonly string[],
  transactionTimeoutMs: number,
  gauge: HangingGauge,
  log: Logger,
): HangingWatch {
  const watch = new HangingWatch(
    kafka,
    topics,
    {
      thresholdMs: transactionTimeoutMs + 30_000,
      intervalMs: 15_000,
      onLook: (hanging, all) => {
        for (const topic of all) gauge.set({ topic }, hanging.filter((h) => h.topic === topic).length);
      },
    },
    log,
  );
  watch.start();
  return watch;
}
