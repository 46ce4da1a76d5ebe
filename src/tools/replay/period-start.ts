// Where a billing period's CDRs begin in cdr.raw, per partition, from the period index (the
// producer's control records): a search, an export or a copy of some periods starts there instead
// of at the beginning. Undefined when the index does not cover the topic (CDRs written before
// control records existed): the caller reads everything.
import type { Kafka } from 'kafkajs';
import type { RegistryOptions } from '../../codec/registry.ts';
import { topicOffsets } from '../../kafka/offsets.ts';
import { periodIndex } from '../../topics/control-read.ts';

export async function periodStartOffsets(
  kafka: Kafka,
  registry: RegistryOptions,
  rawTopic: string,
  totalsTopic: string,
  periods: ReadonlySet<string>,
): Promise<Map<string, bigint> | undefined> {
  const admin = kafka.admin();
  await admin.connect();
  let lows: Map<number, bigint>;
  try {
    const existing = await admin.listTopics();
    if (!existing.includes(totalsTopic) || !existing.includes(rawTopic)) return undefined;
    lows = new Map(
      (await topicOffsets(admin, rawTopic))
        .filter((o) => o.high !== o.low)
        .map((o) => [o.partition, BigInt(o.low)]),
    );
  } finally {
    await admin.disconnect();
  }
  const index = await periodIndex(kafka, registry, totalsTopic, rawTopic, periods, lows);
  if (!index.complete) return undefined;
  return new Map([...index.starts].map(([partition, at]) => [`${rawTopic}/${partition}`, at]));
}
