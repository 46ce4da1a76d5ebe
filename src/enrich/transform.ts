// One slice of an input partition to the records of its transaction: enriched records grouped by
// output topic, and a dead letter for each record that cannot be decoded. Pure but for the
// decoder's cache of writer schemas (filled beforehand by RawDecoder.prepare).
import type { KafkaMessage, Message, TopicMessages } from 'kafkajs';
import type { PhoneNumbers } from '../cdr/phone.ts';
import type { RawCdr } from '../cdr/row.ts';
import { ErrorCodes, isCdrError } from '../errors.ts';
import { type EnrichedCdr, enrich, type SourcePosition } from './enrich.ts';

export interface SliceDeps {
  decode(value: Buffer | null): RawCdr;
  encode(value: EnrichedCdr): Buffer;
  /**
   * The enriched record straight from the raw bytes (splice.ts) when the record has the current
   * cdr-raw schema; undefined sends it through decode, enrich and encode.
   */
  splice?(
    value: Buffer | null,
    source: SourcePosition,
    now: number,
  ): { category: string; value: Buffer } | undefined;
  /** The numbers' E.164 form, country and type (the decode path; the splicer has its own). */
  phones: PhoneNumbers;
  /** Output topic per category, `unknown` included. */
  routes: Readonly<Record<string, string>>;
  /** The partition of a key in an output topic, when known (kafkajs hashes the key otherwise). */
  partitionOf?(topic: string, key: Buffer | null): number | undefined;
  dlqTopic: string;
}

export interface SliceOutput {
  topicMessages: TopicMessages[];
  /** Enriched records per category. */
  counts: Map<string, number>;
  deadLettered: number;
}

export function transformSlice(
  slice: readonly KafkaMessage[],
  source: { topic: string; partition: number },
  deps: SliceDeps,
  now: number,
): SliceOutput {
  const out = new Map<string, Message[]>();
  const dlq: Message[] = [];
  const counts = new Map<string, number>();
  for (const m of slice) {
    try {
      const at = { ...source, offset: Number(m.offset) };
      let done = deps.splice?.(m.value, at, now);
      if (done === undefined) {
        const enriched = enrich(deps.decode(m.value), at, now, deps.phones);
        done = { category: enriched.category, value: deps.encode(enriched) };
      }
      const topic = deps.routes[done.category] ?? (deps.routes.unknown as string);
      let list = out.get(topic);
      if (!list) {
        list = [];
        out.set(topic, list);
      }
      const partition = deps.partitionOf?.(topic, m.key);
      list.push(
        partition === undefined
          ? { key: m.key, value: done.value }
          : { key: m.key, value: done.value, partition },
      );
      counts.set(done.category, (counts.get(done.category) ?? 0) + 1);
    } catch (err) {
      dlq.push(deadLetter(m, source, err, now));
    }
  }
  const topicMessages: TopicMessages[] = [...out].map(([topic, messages]) => ({ topic, messages }));
  if (dlq.length > 0) topicMessages.push({ topic: deps.dlqTopic, messages: dlq });
  return { topicMessages, counts, deadLettered: dlq.length };
}

/** The dead letter of a record that cannot be enriched: where it is, and why. The offset stays a string (a long). */
export function deadLetter(
  m: KafkaMessage,
  source: { topic: string; partition: number },
  err: unknown,
  now: number,
): Message {
  const code = isCdrError(err) ? err.code : ErrorCodes.ENCODE_FAILED;
  return {
    key: m.key,
    value: JSON.stringify({
      source: { ...source, offset: m.offset },
      errorCode: code,
      reason: err instanceof Error ? err.message : String(err),
      failedAt: new Date(now).toISOString(),
    }),
    headers: { 'cdr-error-code': code },
  };
}
