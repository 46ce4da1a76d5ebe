// The foundation's proof that the stack is real: kafkajs round trip, transactions on Kafka 4.x,
// and @kafkajs/confluent-schema-registry against Apicurio's Confluent API.
import { readFileSync } from 'node:fs';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { describe, expect, inject, it } from 'vitest';
import { createTopics, readTopics, testKafka, uniqueName } from '../helpers/kafka.ts';

describe('real Kafka broker', () => {
  it('round-trips messages through kafkajs', async () => {
    const kafka = testKafka();
    const admin = kafka.admin();
    const topic = uniqueName('roundtrip');
    await admin.connect();
    await createTopics(admin, [{ topic, numPartitions: 3 }]);
    const producer = kafka.producer();
    await producer.connect();
    const messages = Array.from({ length: 100 }, (_, i) => ({ key: `k${i % 7}`, value: `v${i}` }));
    await producer.send({ topic, messages });
    await producer.disconnect();

    const received = await readTopics(kafka, [topic]);
    await admin.disconnect();
    expect(received.map((r) => r.message.value?.toString()).sort()).toEqual(
      messages.map((m) => m.value).sort(),
    );
    // Same key, same partition (murmur2 partitioner).
    const partitionsByKey = new Map<string, Set<number>>();
    for (const r of received) {
      const key = r.message.key?.toString() ?? '';
      partitionsByKey.set(key, (partitionsByKey.get(key) ?? new Set()).add(r.partition));
    }
    for (const parts of partitionsByKey.values()) expect(parts.size).toBe(1);
  });

  it('hides aborted transactions from a read_committed consumer and shows committed ones', async () => {
    const kafka = testKafka();
    const admin = kafka.admin();
    const topic = uniqueName('txn');
    await admin.connect();
    await createTopics(admin, [{ topic }]);
    const producer = kafka.producer({
      transactionalId: uniqueName('txn-id'),
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    const committed = await producer.transaction();
    await committed.send({ topic, messages: [{ value: 'committed-1' }, { value: 'committed-2' }] });
    await committed.commit();
    const aborted = await producer.transaction();
    await aborted.send({ topic, messages: [{ value: 'aborted-1' }] });
    await aborted.abort();
    const last = await producer.transaction();
    await last.send({ topic, messages: [{ value: 'committed-3' }] });
    await last.commit();
    await producer.disconnect();

    const committedView = await readTopics(kafka, [topic]);
    expect(committedView.map((r) => r.message.value?.toString())).toEqual([
      'committed-1',
      'committed-2',
      'committed-3',
    ]);
    // The aborted record is in the log: a read_uncommitted reader sees it, so the filter is real.
    const rawView = await readTopics(kafka, [topic], { readUncommitted: true });
    expect(rawView.map((r) => r.message.value?.toString())).toContain('aborted-1');
    await admin.disconnect();
  });
});

describe('real schema registry (Apicurio, Confluent API)', () => {
  it('registers an Avro schema, then encodes and decodes in the Confluent wire format', async () => {
    const registry = new SchemaRegistry({ host: inject('registryUrl') });
    const schema = JSON.parse(readFileSync(new URL('../fixtures/probe.avsc', import.meta.url), 'utf8')) as {
      name: string;
    };
    schema.name = `Probe${Date.now()}`;
    const subject = uniqueName('probe-value');
    const { id } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(schema) },
      { subject },
    );
    expect(id).toBeGreaterThan(0);
    const value = { id: 9_007_199_254_740_991n.toString(), text: 'Café, "HQ"\nline 2' };
    const encoded = await registry.encode(id, value);
    expect(encoded[0]).toBe(0); // magic byte
    expect(encoded.readInt32BE(1)).toBe(id);
    expect(await registry.decode(encoded)).toEqual(value);
    // A second registration of the same schema returns the same id.
    const again = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(schema) },
      { subject },
    );
    expect(again.id).toBe(id);
    expect(await registry.getLatestSchemaId(subject)).toBe(id);
  });
});
