// A transaction's sends: how its messages are cut into sends (each a round trip, each partition's
// records one batch under max.message.bytes), whether a send came back with an offset for every
// partition it was given, and the offsets Kafka gave the messages (for records that name them).
import type { Message, RecordMetadata, TopicMessages } from 'kafkajs';
import { CdrError, ErrorCodes } from '../errors.ts';

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
export function noteOffsets(
  chunk: readonly SendPart[],
  metadata: RecordMetadata[],
  into: Float64Array[],
): void {
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
