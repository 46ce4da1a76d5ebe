// The read_committed scenarios that tell a correct Kafka client from a wrong one, against the real
// broker, with kcat (librdkafka) as the reference reader: what it reads at read_committed is what
// every reader of this project must read (the bounded read under the producer's cursor read, the
// tools and the tests; the enricher's consumer filters fetches the same way). kafkajs 2.2.4 is
// patched (patches/kafkajs+2.2.4.patch); any change of client or of that patch must pass these.
// The three-broker scenarios (sends to several leaders while leaders move) are in
// test/cluster/client-conformance.test.ts.
import kafkajs, { type Kafka, type Producer, type Transaction } from 'kafkajs';
import { describe, expect, inject, it } from 'vitest';
import { SASL_USERS } from '../../scripts/stack/kafka.ts';
import { kcatReadCommitted } from '../../scripts/stack/kcat.ts';
import { ADDRESSES } from '../../scripts/stack/paths.ts';
import { isCdrError } from '../../src/errors.ts';
import { readAllToEnd } from '../../src/kafka/bounded-read.ts';
import { TransactionalSender } from '../../src/kafka/transactions.ts';
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

  it('a transactional producer with only Write and Describe on its topic and its transactional id', async () => {
    // The single broker's SASL listener: user `producer` has only the ACLs given here (the
    // plaintext listener's clients are super users). What the producer needs of Kafka is that
    // and nothing more (no Cluster IdempotentWrite, no DescribeConfigs).
    const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ResourcePatternTypes } = kafkajs;
    const { kafka: admin, topic } = await newTopic('conform-acl');
    const idPrefix = uniqueName('acl-tx');
    const allow = (resourceType: number, resourceName: string, pattern: number, operation: number) => ({
      resourceType,
      resourceName,
      resourcePatternType: pattern,
      principal: 'User:producer',
      host: '*',
      operation,
      permissionType: AclPermissionTypes.ALLOW,
    });
    const a = admin.admin();
    await a.connect();
    cleanups.push(() => a.disconnect());
    const topicAcls = [AclOperationTypes.WRITE, AclOperationTypes.DESCRIBE].map((op) =>
      allow(AclResourceTypes.TOPIC, topic, ResourcePatternTypes.LITERAL, op),
    );
    await a.createAcls({
      acl: [
        ...topicAcls,
        ...[AclOperationTypes.WRITE, AclOperationTypes.DESCRIBE].map((op) =>
          allow(AclResourceTypes.TRANSACTIONAL_ID, idPrefix, ResourcePatternTypes.PREFIXED, op),
        ),
      ],
    });
    const limited = new kafkajs.Kafka({
      clientId: 'acl-producer',
      brokers: [ADDRESSES.singleSasl],
      sasl: { mechanism: 'plain', username: 'producer', password: SASL_USERS.producer },
      logLevel: kafkajs.logLevel.NOTHING,
    });
    const sender = new TransactionalSender(limited, {
      transactionalId: `${idPrefix}-0`,
      transactionTimeoutMs: 30_000,
      writes: { topics: () => [topic] },
    });
    cleanups.push(() => sender.discard());
    for (let i = 0; i < 3; i++)
      await sender.commit([{ topic, messages: [0, 1, 2].map((j) => ({ value: `t${i}-${j}` })) }]);
    const { ours, kcat } = await readBoth(admin, topic);
    expect(values(kcat).sort()).toEqual([0, 1, 2].flatMap((i) => [0, 1, 2].map((j) => `t${i}-${j}`)));
    expect(ours).toEqual(kcat);

    // The ACLs are what allowed it: without Write on the topic the transaction is refused.
    await a.deleteAcls({ filters: topicAcls.filter((x) => x.operation === AclOperationTypes.WRITE) });
    const refused = await sender
      .commit([{ topic, messages: [{ value: 'refused' }] }])
      .catch((err: unknown) => err);
    expect(isCdrError(refused)).toBe(true);
    expect(String((refused as Error).message)).toMatch(/authoriz/i);
  });
});
