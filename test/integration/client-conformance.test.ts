// The read_committed scenarios that tell a correct Kafka client from a wrong one, against the real
// broker, with kcat (librdkafka) as the reference reader: what it reads at read_committed is what
// every reader of this project must read (the bounded read under the producer's cursor read, the
// tools and the tests; the enricher's consumer filters fetches the same way). kafkajs 2.2.4 is
// patched (patches/kafkajs+2.2.4.patch); any change of client or of that patch must pass these.
// The three-broker scenarios (sends to several leaders while leaders move) are in
// test/cluster/client-conformance.test.ts.
import type { Kafka, Producer, Transaction } from 'kafkajs';
import { describe, expect, inject, it } from 'vitest';
import { kcatReadCommitted } from '../../scripts/stack/kcat.ts';
import { readAllToEnd } from '../../src/kafka/bounded-read.ts';
import { cleanupAfterEach } from '../helpers/cleanups.ts';
import { newTopic, transactionalProducer as newTransactionalProducer, uniqueName } from '../helpers/kafka.ts';

const cleanups = cleanupAfterEach();

const transactionalProducer = (kafka: Kafka, id: string) => newTransactionalProducer(kafka, id, cleanups);

/** What a read_committed read of `topic` returns, as `partition/offset=value`, with our reader and with kcat. */
async function readBoth(kafka: Kafka, topic: string): Promise<{ ours: string[]; kcat: string[] }> {
  const batches = await readAllToEnd(kafka, [topic], {
    timeoutMs: 60_000,
    groupPrefix: uniqueName('conform'),
  });
  const ours = batches.flatMap((b) =>
    b.messages.map((m) => `${b.partition}/${m.offset}=${m.value?.toString() ?? ''}`),
  );
  const kcat = (await kcatReadCommitted(inject('brokers'), topic)).map(
    (r) => `${r.partition}/${r.offset}=${r.value?.toString() ?? ''}`,
  );
  const order = (a: string, b: string) => {
    const [pa, oa] = a.split(/[/=]/).map(Number) as [number, number];
    const [pb, ob] = b.split(/[/=]/).map(Number) as [number, number];
    return pa - pb || oa - ob;
  };
  return { ours: ours.sort(order), kcat: kcat.sort(order) };
}

const values = (read: string[]) => read.map((r) => r.slice(r.indexOf('=') + 1));

async function send(t: Transaction, topic: string, value: string, count = 1): Promise<void> {
  await t.send({
    topic,
    messages: [...Array(count).keys()].map((i) => ({ value: count === 1 ? value : `${value}-${i}` })),
  });
}

describe('client conformance: read_committed against kcat', () => {
  it("two producers' transactions interleaved on one partition, aborted out of order", async () => {
    const { kafka, topic } = await newTopic('conform-interleaved');
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((id) => transactionalProducer(kafka, id)));
    const ta = await (a as Producer).transaction();
    await send(ta, topic, 'a-aborted-1');
    const tb = await (b as Producer).transaction();
    await send(tb, topic, 'b-aborted-1');
    const tc = await (c as Producer).transaction();
    await send(tc, topic, 'c-committed-1');
    await send(ta, topic, 'a-aborted-2');
    await send(tb, topic, 'b-aborted-2');
    await tc.commit();
    // b started after a and ends first: the broker lists the aborts in marker order.
    await tb.abort();
    await ta.abort();
    const tc2 = await (c as Producer).transaction();
    await send(tc2, topic, 'c-committed-2');
    await tc2.commit();

    const { ours, kcat } = await readBoth(kafka, topic);
    expect(values(kcat)).toEqual(['c-committed-1', 'c-committed-2']);
    expect(ours).toEqual(kcat);
  });

  it('one producer aborting, committing, aborting again', async () => {
    const { kafka, topic } = await newTopic('conform-alternating');
    const p = await transactionalProducer(kafka, 'alt');
    for (const [value, end] of [
      ['aborted-1', 'abort'],
      ['committed-1', 'commit'],
      ['aborted-2', 'abort'],
      ['committed-2', 'commit'],
      ['aborted-3', 'abort'],
    ] as const) {
      const t = await p.transaction();
      await send(t, topic, value, 3);
      await (end === 'commit' ? t.commit() : t.abort());
    }
    const { ours, kcat } = await readBoth(kafka, topic);
    expect(values(kcat)).toEqual(
      [0, 1, 2].map((i) => `committed-1-${i}`).concat([0, 1, 2].map((i) => `committed-2-${i}`)),
    );
    expect(ours).toEqual(kcat);
  });

  it('an aborted transaction larger than one fetch, a committed one after it', async () => {
    const { kafka, topic } = await newTopic('conform-large-abort');
    const p = await transactionalProducer(kafka, 'large');
    // 3 MB aborted: several of our reader's 512 KB fetches of the partition, and of kcat's.
    const big = 'x'.repeat(1000);
    const aborted = await p.transaction();
    for (let i = 0; i < 3; i++)
      await aborted.send({
        topic,
        messages: [...Array(1000).keys()].map((j) => ({ value: `aborted-${i}-${j}-${big}` })),
      });
    await aborted.abort();
    const committed = await p.transaction();
    await send(committed, topic, 'after', 5);
    await committed.commit();

    const { ours, kcat } = await readBoth(kafka, topic);
    expect(values(kcat)).toEqual([0, 1, 2, 3, 4].map((i) => `after-${i}`));
    expect(ours).toEqual(kcat);
  });

  it('many aborted transactions of one producer, a few committed, another producer committing between', async () => {
    const { kafka, topic } = await newTopic('conform-many-aborts', 2);
    const [p, q] = await Promise.all([
      transactionalProducer(kafka, 'many'),
      transactionalProducer(kafka, 'other'),
    ]);
    const expected: string[] = [];
    for (let i = 0; i < 60; i++) {
      const t = await p.transaction();
      await t.send({ topic, messages: [{ value: `p-${i}`, partition: i % 2 }] });
      if (i % 15 === 7) {
        await t.commit();
        expected.push(`p-${i}`);
      } else await t.abort();
      if (i % 20 === 3) {
        const u = await q.transaction();
        await u.send({ topic, messages: [{ value: `q-${i}`, partition: 0 }] });
        await u.commit();
        expected.push(`q-${i}`);
      }
    }
    const { ours, kcat } = await readBoth(kafka, topic);
    expect(values(kcat).sort()).toEqual(expected.sort());
    expect(ours).toEqual(kcat);
  });
});
