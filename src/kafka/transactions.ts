// One transactional kafkajs producer, used one transaction at a time (kafkajs allows one open
// transaction per producer, and concurrent sends on an idempotent producer lose messages, #598).
// After a failed commit or abort the kafkajs producer is unusable (#1355), so it is thrown away and
// the next transaction starts on a fresh one; connecting it (InitProducerId) also aborts or
// completes whatever the old one left open. Being fenced is final: another process owns the id.
import {
  type Kafka,
  type Offsets as KafkaOffsets,
  Partitioners,
  type Producer,
  type TopicMessages,
} from 'kafkajs';
import { CdrError, ErrorCodes } from '../errors.ts';

export type Offsets = KafkaOffsets & { consumerGroupId: string };

export interface TransactionalOptions {
  transactionalId: string;
  transactionTimeoutMs: number;
}

export class TransactionalSender {
  private readonly kafka: Kafka;
  private readonly options: TransactionalOptions;
  private producer: Producer | undefined;

  constructor(kafka: Kafka, options: TransactionalOptions) {
    this.kafka = kafka;
    this.options = options;
  }

  get transactionalId(): string {
    return this.options.transactionalId;
  }

  /** Connects (and so fences any older producer with the same transactional id). */
  async connect(): Promise<void> {
    if (this.producer) return;
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
    try {
      await producer.connect();
    } catch (cause) {
      await producer.disconnect().catch(() => undefined);
      throw kafkaError('connecting the transactional producer failed', cause);
    }
    this.producer = producer;
  }

  /**
   * Sends every message in one transaction and commits it; with `offsets`, the consumer offsets
   * go into the same transaction (consume-transform-produce).
   */
  async commit(topicMessages: TopicMessages[], offsets?: Offsets): Promise<void> {
    await this.connect();
    const producer = this.producer as Producer;
    let transaction: Awaited<ReturnType<Producer['transaction']>> | undefined;
    try {
      transaction = await producer.transaction();
      for (const chunk of sendChunks(topicMessages, SEND_CHUNK))
        await transaction.sendBatch({ topicMessages: chunk, acks: -1 });
      if (offsets) await transaction.sendOffsets(offsets);
      await transaction.commit();
    } catch (cause) {
      if (transaction?.isActive()) await transaction.abort().catch(() => undefined);
      await this.discard();
      throw kafkaError('transaction failed', cause);
    }
  }

  async discard(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    await producer?.disconnect().catch(() => undefined);
  }
}

// kafkajs 2.2.4 groups a send's messages by partition with an array spread per message
// (producer/groupMessagesPerPartition.js), which is quadratic in the messages per partition of
// one send: 5,000 messages in one send cost ten times the CPU of ten sends of 500. A transaction
// therefore sends in chunks, one after another, still in order.
export const SEND_CHUNK = 500;

/** Splits per-topic message lists into consecutive sends of at most `size` messages, in order. */
export function sendChunks(topicMessages: readonly TopicMessages[], size: number): TopicMessages[][] {
  const sends: TopicMessages[][] = [];
  let current: TopicMessages[] = [];
  let room = size;
  for (const { topic, messages } of topicMessages) {
    for (let i = 0; i < messages.length; ) {
      const take = messages.slice(i, i + room);
      current.push({ topic, messages: take });
      i += take.length;
      room -= take.length;
      if (room === 0) {
        sends.push(current);
        current = [];
        room = size;
      }
    }
  }
  if (current.length > 0) sends.push(current);
  return sends;
}

const FENCED_TYPES = new Set(['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED']);
// INVALID_PRODUCER_EPOCH (47) and PRODUCER_FENCED (90); kafkajs 2.2.4 has no name for 90.
const FENCED_CODES = new Set([47, 90]);

/** Walks kafkajs's error chain (retriable wrappers keep `originalError`, others `cause`). */
export function isFenced(err: unknown): boolean {
  type Chain = { type?: string; code?: number; originalError?: unknown; cause?: unknown };
  for (let e = err as Chain | undefined, i = 0; e && i < 10; i++) {
    if ((e.type && FENCED_TYPES.has(e.type)) || (typeof e.code === 'number' && FENCED_CODES.has(e.code)))
      return true;
    e = (e.originalError ?? e.cause) as typeof e;
  }
  return false;
}

function kafkaError(message: string, cause: unknown): CdrError {
  if (cause instanceof CdrError) return cause;
  if (isFenced(cause)) {
    return new CdrError(
      ErrorCodes.FENCED,
      `${message}: fenced by a newer producer with the same transactional id`,
      {
        cause,
      },
    );
  }
  return new CdrError(ErrorCodes.KAFKA, `${message}: ${(cause as Error).message}`, {
    cause,
    retriable: true,
  });
}
