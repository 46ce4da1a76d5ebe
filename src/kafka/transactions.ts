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
// (see kafkaError below).
import {
  type CompressionTypes,
  type Kafka,
  type Offsets as KafkaOffsets,
  type Message,
  Partitioners,
  type Producer,
  type RecordMetadata,
  type TopicMessages,
} from 'kafkajs';
import type { Logger } from 'pino';
import { CdrError, ErrorCodes } from '../errors.ts';
import { openPartitionsNow, openRecordHeads } from './hanging.ts';

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
}

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
      this.connecting = this.open().finally(() => {
        this.connecting = undefined;
      });
    return this.connecting;
  }

  private async open(): Promise<void> {
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
        this.knownProducerId = (await producer.describeTransaction())?.producerId ?? this.knownProducerId;
      }
    } catch (cause) {
      await producer.disconnect().catch(() => undefined);
      throw kafkaError('connecting the transactional producer failed', cause);
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
      await this.discard();
      throw kafkaError('transaction failed', cause);
    }
  }

  async discard(): Promise<void> {
    this.generation++;
    const producer = this.producer;
    this.producer = undefined;
    await producer?.disconnect().catch(() => undefined);
  }
}

/**
 * Every partition a send was given came back with an offset: a send that reports success for less
 * than it was given (kafkajs 2.2.4 did, when a leader moved) must not reach EndTxn, which would
 * commit the part that was written. Messages that name no partition need an answer from their topic.
 */
export function assertAcknowledged(
  chunk: readonly TopicMessages[],
  metadata: readonly RecordMetadata[],
): void {
  const answered = new Map<string, Set<number>>();
  for (const r of metadata)
    if (r.errorCode === 0 && r.baseOffset !== undefined && r.baseOffset !== '-1') {
      let partitions = answered.get(r.topicName);
      if (partitions === undefined) {
        partitions = new Set();
        answered.set(r.topicName, partitions);
      }
      partitions.add(r.partition);
    }
  for (const { topic, messages } of chunk) {
    const partitions = answered.get(topic);
    for (const m of messages)
      if (partitions === undefined || (m.partition !== undefined && !partitions.has(m.partition)))
        throw new CdrError(
          ErrorCodes.KAFKA,
          `a transactional send came back without an offset for ${topic}${m.partition === undefined ? '' : `/${m.partition}`}: the transaction is aborted`,
          { retriable: true, details: { topic, partition: m.partition } },
        );
  }
}

/**
 * The offsets Kafka gave the messages of a transaction's sends, for `then` (see
 * TransactionalSender.commit): `offsets(k)[i]` is the offset of `topicMessages[k].messages[i]`, NaN
 * for a message that named no partition (its offset is not known from the send).
 */
export type SentOffsets = (entry: number) => Float64Array;

/**
 * Notes the offset of each message of a send that named its partition: a partition's messages of
 * one send are one record batch, appended at the base offset the broker reports, in send order
 * (kafkajs merges a topic's parts of one send in order).
 */
function noteOffsets(chunk: readonly SendPart[], metadata: RecordMetadata[], into: Float64Array[]): void {
  // Offsets stay below 2^53: numbers, not a bigint per record.
  const next = new Map<string, Map<number, number>>();
  for (const r of metadata) {
    if (r.baseOffset === undefined) continue;
    let partitions = next.get(r.topicName);
    if (partitions === undefined) {
      partitions = new Map();
      next.set(r.topicName, partitions);
    }
    partitions.set(r.partition, Number(r.baseOffset));
  }
  for (const { topic, messages, entry, from } of chunk) {
    const partitions = next.get(topic);
    const out = into[entry];
    if (partitions === undefined || out === undefined) continue;
    for (let i = 0; i < messages.length; i++) {
      const p = (messages[i] as Message).partition;
      if (p === undefined) continue;
      const at = partitions.get(p);
      if (at === undefined) continue;
      out[from + i] = at;
      partitions.set(p, at + 1);
    }
  }
}

// A transaction's messages go out in sends, one after another, in order. A send's records for one
// partition go to the broker as one record batch, which must stay under the topic's
// max.message.bytes (1 MiB by default): a send is cut when one partition's records in it would pass
// SEND_CHUNK_BYTES, or all of them four times that. Few sends per transaction: each is a round trip
// (acks=-1). (kafkajs grouped a send's messages with an array spread per message, quadratic in the
// messages per partition; patched, see patches/.)
export const SEND_CHUNK = 10_000;
export const SEND_CHUNK_BYTES = 512 * 1024;

/** Bytes a message adds to a send: key, value and headers (record framing is small and ignored). */
export function messageBytes(m: Message): number {
  let n = sizeOf(m.key) + sizeOf(m.value);
  if (m.headers) for (const [k, v] of Object.entries(m.headers)) n += k.length + sizeOf(v as Buffer | string);
  return n;
}

function sizeOf(v: Buffer | string | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'string' ? Buffer.byteLength(v) : v.length;
}

/** Part of a send: messages `from`.. of `topicMessages[entry]`. */
export interface SendPart extends TopicMessages {
  entry: number;
  from: number;
}

/**
 * Splits per-topic message lists into consecutive sends of at most `size` messages, in which no
 * partition's records pass about `maxBytes` bytes (nor all records four times that; a single larger
 * message gets a send of its own), in order. Messages that name no partition count as one
 * partition of their topic.
 */
export function sendChunks(
  topicMessages: readonly TopicMessages[],
  size: number,
  maxBytes = Number.POSITIVE_INFINITY,
): SendPart[][] {
  const sends: SendPart[][] = [];
  let current: SendPart[] = [];
  let count = 0;
  let bytes = 0;
  // Bytes per partition, in the current send, of the topic being cut.
  let perPartition = new Map<number, number>();
  const flush = () => {
    if (count > 0) sends.push(current);
    current = [];
    count = 0;
    bytes = 0;
    perPartition = new Map();
  };
  for (let entry = 0; entry < topicMessages.length; entry++) {
    const { topic, messages } = topicMessages[entry] as TopicMessages;
    perPartition = new Map();
    let from = 0;
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i] as Message;
      const b = messageBytes(m);
      const p = m.partition ?? -1;
      const inPartition = perPartition.get(p) ?? 0;
      if (count > 0 && (count >= size || inPartition + b > maxBytes || bytes + b > 4 * maxBytes)) {
        if (i > from) current.push({ topic, messages: messages.slice(from, i), entry, from });
        from = i;
        flush();
      }
      count++;
      bytes += b;
      perPartition.set(p, (perPartition.get(p) ?? 0) + b);
    }
    if (messages.length > from) current.push({ topic, messages: messages.slice(from), entry, from });
  }
  flush();
  return sends;
}

// Kafka error codes by meaning. kafkajs 2.2.4 speaks old protocol versions, for which the broker
// reports both a timed-out transaction and a takeover by another producer as
// INVALID_PRODUCER_EPOCH (47): the caller tells the two apart (producer/ownership.ts). Only
// PRODUCER_FENCED (90, which kafkajs has no name for) is a takeover by itself.
const KAFKA_CODES = {
  INVALID_PRODUCER_EPOCH: 47,
  PRODUCER_FENCED: 90,
  MESSAGE_TOO_LARGE: 10,
  RECORD_LIST_TOO_LARGE: 18,
} as const;
type KafkaCodeName = keyof typeof KAFKA_CODES;

/** Whether kafkajs's error chain (retriable wrappers keep `originalError`, others `cause`) holds this Kafka error. */
export function hasKafkaError(err: unknown, name: KafkaCodeName): boolean {
  type Chain = { type?: string; code?: number; originalError?: unknown; cause?: unknown };
  for (let e = err as Chain | undefined, i = 0; e && i < 10; i++) {
    if (e.type === name || e.code === KAFKA_CODES[name]) return true;
    e = (e.originalError ?? e.cause) as typeof e;
  }
  return false;
}

export function kafkaError(message: string, cause: unknown): CdrError {
  if (cause instanceof CdrError) return cause;
  const text = `${message}: ${(cause as Error).message}`;
  if (hasKafkaError(cause, 'PRODUCER_FENCED'))
    return new CdrError(
      ErrorCodes.FENCED,
      `${message}: fenced by a newer producer with the same transactional id`,
      {
        cause,
      },
    );
  if (hasKafkaError(cause, 'INVALID_PRODUCER_EPOCH'))
    return new CdrError(ErrorCodes.PRODUCER_EPOCH, text, { cause, retriable: true });
  if (hasKafkaError(cause, 'MESSAGE_TOO_LARGE') || hasKafkaError(cause, 'RECORD_LIST_TOO_LARGE'))
    return new CdrError(ErrorCodes.MESSAGE_TOO_LARGE, text, { cause, retriable: true });
  return new CdrError(ErrorCodes.KAFKA, text, { cause, retriable: true });
}
