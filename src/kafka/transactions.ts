// One transactional kafkajs producer, used one transaction at a time (kafkajs allows one open
// transaction per producer, and concurrent sends on an idempotent producer lose messages, #598).
//
// A transaction is all or nothing. Every send of it is sent once (patches/kafkajs+2.2.4.patch: no
// record of a transactional send is sent again with new sequence numbers, none is left out when a
// leader moves) and must come back with an offset for every partition it was given; any failure,
// or any partition without an offset, aborts the transaction before EndTxn could commit a part
// of it. The kafkajs producer is then thrown away (after a failed commit or abort it is unusable,
// #1355) and the next transaction starts on a fresh one: its InitProducerId bumps the epoch, so a
// late write of the failed attempt is refused by the brokers, and aborts or completes whatever the
// old one left open. The caller starts again from what Kafka holds (the cursor, the committed
// offset). Whether an epoch error means another process owns the id is for the caller to find out
// (kafka-errors.ts).
import {
  type CompressionTypes,
  type Kafka,
  type Offsets as KafkaOffsets,
  Partitioners,
  type Producer,
  type TopicMessages,
} from 'kafkajs';
import type { Logger } from 'pino';
import { CdrError, ErrorCodes } from '../errors.ts';
import type { AccessContext } from './access.ts';
import { kafkaIdentity } from './client.ts';
import { openPartitionsNow, openRecordHeads } from './hanging.ts';
import { kafkaError } from './kafka-errors.ts';
import {
  assertAcknowledged,
  noteOffsets,
  SEND_CHUNK,
  SEND_CHUNK_BYTES,
  type SentOffsets,
  sendChunks,
} from './sends.ts';

export type Offsets = KafkaOffsets & { consumerGroupId: string };

export interface TransactionalOptions {
  transactionalId: string;
  transactionTimeoutMs: number;
  /**
   * The partitions this id writes, for ending records of it left open there (see endOpenRecords):
   * every partition of these topics, and this consumer group's offsets.
   */
  writes?: { topics: () => readonly string[]; consumerGroupId?: string };
  log?: Logger;
  /** Bytes of message keys and values per send at most (so no partition's batch nears max.message.bytes). */
  maxSendBytes?: number;
  /** Compression of the record batches sent (none by default). */
  compression?: CompressionTypes;
  /**
   * A commit that has not ended after this long is abandoned and its producer dropped (default:
   * COMMIT_DEADLINE_MS, at most the transaction timeout).
   */
  commitDeadlineMs?: number;
}

/**
 * How long a commit may take before it is abandoned. A request waiting on a broker that is gone (a
 * leader killed under it) otherwise waits out kafkajs's request timeout and its retries: on the
 * three-node cluster a commit waited 34 s this way while the other accounts committed again after
 * 20 s. Abandoning is safe: the producer is dropped, the next one bumps the epoch (a late write of
 * the old one is refused), and the caller reads its position again before it goes on.
 */
export const COMMIT_DEADLINE_MS = 15_000;

export class TransactionalSender {
  private readonly kafka: Kafka;
  private readonly options: TransactionalOptions;
  private producer: Producer | undefined;
  /** Bumped by discard(): a connect() that finishes after a discard() closes what it opened. */
  private generation = 0;
  /** The connect() under way: callers that ask meanwhile share it. */
  private connecting: Promise<void> | undefined;
  private initialised = 0;
  /** The producer id of this transactional id, as its coordinator last said (undefined: a new id). */
  private knownProducerId: string | undefined;

  constructor(kafka: Kafka, options: TransactionalOptions) {
    this.kafka = kafka;
    this.options = options;
  }

  get transactionalId(): string {
    return this.options.transactionalId;
  }

  /**
   * How many producers this sender has initialised: it changes each time a new one takes the
   * transactional id over from the last (after a failed transaction or a discard()). Between two
   * values, another process may have initialised the id and committed in its name.
   */
  get isConnected(): boolean {
    return this.producer !== undefined;
  }

  get epoch(): number {
    return this.initialised;
  }

  /** The producer id the records of this transactional id carry, once known (see endOpenRecords). */
  get producerId(): string | undefined {
    return this.knownProducerId;
  }

  /**
   * Connects and initialises the transactional id: when it returns, every older producer of the
   * id is fenced and its open transaction aborted (or completed, if it was already committing).
   * Concurrent calls share one connection.
   */
  async connect(): Promise<void> {
    if (this.producer) return;
    if (!this.connecting)
      this.connecting = this.initialise().finally(() => {
        this.connecting = undefined;
      });
    return this.connecting;
  }

  private async initialise(): Promise<void> {
    const producer = this.kafka.producer({
      transactionalId: this.options.transactionalId,
      transactionTimeout: this.options.transactionTimeoutMs,
      idempotent: true,
      maxInFlightRequests: 1,
      // Java-compatible murmur2: Java and Kafka Streams consumers co-partition with us.
      createPartitioner: Partitioners.DefaultPartitioner,
      // A short first retry: right after a commit the broker answers CONCURRENT_TRANSACTIONS until it
      // has written the markers, and the next transaction should not wait long for that.
      retry: { retries: 8, initialRetryTime: 25, maxRetryTime: 5000 },
    });
    const generation = this.generation;
    try {
      await producer.connect();
      // How the last transaction of this id ended, asked before InitProducerId changes it.
      const last = this.options.writes ? await producer.describeTransaction() : undefined;
      // kafkajs's connect() runs only the idempotent InitProducerId (no transactional id: it fences
      // nothing); the transactional one waits for the first transaction(). Callers read a cursor or
      // a committed offset right after connect() and rely on every older producer of this id being
      // fenced, and its open transaction ended, by then: so initialise now. Aborting a transaction
      // with nothing in it sends no request.
      const empty = await producer.transaction();
      await empty.abort();
      if (this.options.writes) {
        await this.endOpenRecords(producer, this.options.writes, last ?? null);
        // The producer id this initialisation was given, which open records of ours name: the one
        // before unless the transactional id is new (nothing to describe before) or its epochs ran out.
        const now = await producer.describeTransaction();
        this.knownProducerId = now?.producerId ?? this.knownProducerId;
      }
    } catch (cause) {
      await producer.disconnect().catch(() => undefined);
      throw kafkaError(
        'connecting the transactional producer failed',
        cause,
        this.refusal({ operation: 'Describe', names: this.options.writes?.topics() ?? [] }),
      );
    }
    if (generation !== this.generation) {
      await producer.disconnect().catch(() => undefined);
      throw new CdrError(ErrorCodes.ABORTED, 'the transactional producer was discarded while connecting');
    }
    this.producer = producer;
    this.initialised++;
  }

  /**
   * Ends the records of this id left open in the partitions it writes, the way its coordinator
   * ended their transaction. A transaction's records get their commit or abort marker from the
   * coordinator once EndTxn is decided; Kafka 4.4 was seen to record a transaction as committed
   * (CompleteCommit in __transaction_state) while the markers of some or all of its partitions were
   * never written, around a broker's controlled shutdown: those records stay open for good (no
   * coordinator knows them any more), hold the partition's last stable offset, hide everything
   * after them from read_committed readers, and are ended only by this producer id's next marker
   * there, with whatever that transaction's outcome is (a cursor left one batch back, the
   * batch published again). So right after InitProducerId (nothing of ours legitimately open any
   * more), every partition this id writes whose last stable offset is behind its high watermark
   * is added to a transaction without a record, and the transaction is committed if the id's last
   * transaction was (DescribeTransactions, asked before InitProducerId: CompleteCommit or
   * PrepareCommit), aborted otherwise: the open records end as their transaction did. A marker
   * where this id has nothing open changes nothing, so partitions held by other producers' open
   * transactions are harmless to include.
   */
  private async endOpenRecords(
    producer: Producer,
    writes: NonNullable<TransactionalOptions['writes']>,
    last: Awaited<ReturnType<Producer['describeTransaction']>>,
  ): Promise<void> {
    const open = await openPartitionsNow(this.kafka, writes.topics());
    if (open.length === 0 && writes.consumerGroupId === undefined) return;
    const committed =
      last?.transactionState === 'CompleteCommit' || last?.transactionState === 'PrepareCommit';
    const byTopic = new Map<string, Array<{ partition: number }>>();
    for (const p of open) byTopic.set(p.topic, [...(byTopic.get(p.topic) ?? []), { partition: p.partition }]);
    const t = await producer.transaction();
    await t.addPartitions(
      [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
      writes.consumerGroupId,
    );
    await (committed ? t.commit() : t.abort());
    // What the coordinator said decides the group's pending offsets too: kept in the log, so that
    // an offset committed or dropped after a broker fault can be traced to it.
    if (writes.consumerGroupId !== undefined)
      this.options.log?.info(
        {
          transactionalId: this.options.transactionalId,
          lastTransaction: last?.transactionState ?? null,
          lastProducer: last ? `${last.producerId}/${last.producerEpoch}` : null,
          ended: committed ? 'committed' : 'aborted',
          open: open.length,
        },
        'previous transaction of this id ended before reading the committed offset',
      );
    if (open.length === 0 || last === null) return;
    // Were any of them ours? The record holding a partition's last stable offset says (the common case).
    const heads = await openRecordHeads(this.kafka, open).catch(() => []);
    const ours = heads.filter((h) => h.producerId === last.producerId);
    if (ours.length > 0)
      this.options.log?.warn(
        {
          transactionalId: this.options.transactionalId,
          lastTransaction: last.transactionState,
          ended: committed ? 'committed' : 'aborted',
          partitions: ours.map((h) => `${h.topic}/${h.partition}@${h.lastStableOffset}`),
        },
        'records of this transactional id were left open without their transaction marker (a broker fault): ended as their transaction did',
      );
  }

  /**
   * Sends every message in one transaction and commits it; with `offsets`, the consumer offsets
   * go into the same transaction (consume-transform-produce). With `then`, the messages it returns
   * are sent last in the same transaction: it is given the offset Kafka gave each message sent
   * before it that named its partition.
   */
  async commit(
    topicMessages: TopicMessages[],
    offsets?: Offsets,
    then?: (offsets: SentOffsets) => TopicMessages[],
  ): Promise<void> {
    await this.connect();
    const deadlineMs =
      this.options.commitDeadlineMs ?? Math.min(COMMIT_DEADLINE_MS, this.options.transactionTimeoutMs);
    const generation = this.generation;
    const work = this.commitOnce(topicMessages, offsets, then, generation);
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'expired'>((resolve) => {
      timer = setTimeout(() => resolve('expired'), deadlineMs);
    });
    try {
      if ((await Promise.race([work, expired])) !== 'expired') return;
    } finally {
      clearTimeout(timer);
    }
    // Still waiting on Kafka: dropped (not awaited: kafkajs's disconnect waits for the requests in
    // flight, the very ones that hang); the next commit connects a new producer.
    work.catch(() => undefined);
    if (this.generation === generation) void this.discard();
    throw new CdrError(
      ErrorCodes.KAFKA,
      `transaction failed: it did not end within ${deadlineMs} ms (a request waiting on a broker that is gone); abandoned, its producer dropped`,
      { retriable: true },
    );
  }

  private async commitOnce(
    topicMessages: TopicMessages[],
    offsets: Offsets | undefined,
    then: ((offsets: SentOffsets) => TopicMessages[]) | undefined,
    generation: number,
  ): Promise<void> {
    const producer = this.producer as Producer;
    let transaction: Awaited<ReturnType<Producer['transaction']>> | undefined;
    try {
      transaction = await producer.transaction();
      const sent = then ? topicMessages.map((t) => new Float64Array(t.messages.length).fill(Number.NaN)) : [];
      const maxBytes = this.options.maxSendBytes ?? SEND_CHUNK_BYTES;
      const compression = this.options.compression;
      for (const chunk of sendChunks(topicMessages, SEND_CHUNK, maxBytes)) {
        const metadata = await transaction.sendBatch({ topicMessages: chunk, acks: -1, compression });
        assertAcknowledged(chunk, metadata);
        if (then) noteOffsets(chunk, metadata, sent);
      }
      if (then)
        for (const chunk of sendChunks(
          then((entry) => sent[entry] as Float64Array),
          SEND_CHUNK,
          maxBytes,
        ))
          assertAcknowledged(
            chunk,
            await transaction.sendBatch({ topicMessages: chunk, acks: -1, compression }),
          );
      if (offsets) await transaction.sendOffsets(offsets);
      await transaction.commit();
    } catch (cause) {
      if (transaction?.isActive()) await transaction.abort().catch(() => undefined);
      // Not a producer taken up since (this commit was abandoned and another connected).
      if (this.generation === generation) await this.discard();
      throw kafkaError(
        'transaction failed',
        cause,
        this.refusal({ operation: 'Write', names: [...new Set(topicMessages.map((t) => t.topic))] }, offsets),
      );
    }
  }

  /** What a refusal of this sender's call names: this client, its transactional id, the topics, the group. */
  private refusal(topic: NonNullable<AccessContext['topic']>, offsets?: Offsets) {
    const context: AccessContext = {
      'transactional-id': { operation: 'Write', names: [this.options.transactionalId] },
      topic,
      ...(offsets ? { group: { operation: 'Read', names: [offsets.consumerGroupId] } } : {}),
    };
    return { who: kafkaIdentity(this.kafka), context };
  }

  async discard(): Promise<void> {
    this.generation++;
    const producer = this.producer;
    this.producer = undefined;
    await producer?.disconnect().catch(() => undefined);
  }
}
