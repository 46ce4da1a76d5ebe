// The transactional sender against the real broker: connecting it must fence an older producer of
// the same transactional id at once (InitProducerId), because the producer's cursor read and the
// enricher's offset read rely on nothing older being able to commit after connect() returns.
import { statSync } from 'node:fs';
import { Partitioners } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { KAFKA_DATA } from '../../scripts/stack/kafka.ts';
import { processesOf, readState } from '../../scripts/stack/state.ts';
import { compressionType, registerCodecs } from '../../src/kafka/compression.ts';
import { TransactionalSender } from '../../src/kafka/transactions.ts';
import { cleanupAfterEach } from '../helpers/cleanups.ts';
import { newTopic, readTopics, uniqueName } from '../helpers/kafka.ts';

const cleanups = cleanupAfterEach();

describe('TransactionalSender', () => {
  it('fences an older producer with the same transactional id as soon as it connects', async () => {
    const { kafka, topic } = await newTopic('fence');
    const transactionalId = uniqueName('txn');
    // The older producer: a transaction open, with a record in it.
    const older = kafka.producer({
      transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await older.connect();
    cleanups.push(() => older.disconnect());
    const open = await older.transaction();
    await open.send({ topic, messages: [{ value: 'from the older producer' }] });

    const newer = new TransactionalSender(kafka, { transactionalId, transactionTimeoutMs: 30_000 });
    await newer.connect();
    cleanups.push(() => newer.discard());
    // Right after connect(): the older transaction is aborted, so a read_committed read is not
    // held back by it, and the older producer can no longer commit.
    expect(await readTopics(kafka, [topic], { timeoutMs: 5000 })).toEqual([]);
    await expect(open.commit()).rejects.toThrow();
    await newer.commit([{ topic, messages: [{ value: 'from the newer producer' }] }]);
    const values = (await readTopics(kafka, [topic])).map((r) => r.message.value?.toString());
    expect(values).toEqual(['from the newer producer']);
  });

  it('shares one connect among concurrent callers and counts each producer it initialises (its epoch)', async () => {
    const { kafka, topic } = await newTopic('epoch');
    const sender = new TransactionalSender(kafka, {
      transactionalId: uniqueName('txn'),
      transactionTimeoutMs: 30_000,
    });
    cleanups.push(() => sender.discard());
    expect(sender.epoch).toBe(0);
    await Promise.all([sender.connect(), sender.connect(), sender.connect()]);
    expect(sender.epoch).toBe(1);
    await sender.commit([{ topic, messages: [{ value: 'one' }] }]);
    expect(sender.epoch).toBe(1);
    // A new producer for the id (after a failure, or here a discard) is a new epoch.
    await sender.discard();
    await sender.commit([{ topic, messages: [{ value: 'two' }] }]);
    expect(sender.epoch).toBe(2);
    expect((await readTopics(kafka, [topic])).map((r) => r.message.value?.toString())).toEqual([
      'one',
      'two',
    ]);
  });

  it('writes record batches compressed with gzip, lz4 and zstd, and reads them back', async () => {
    registerCodecs();
    // Compressible values, as CDRs are: the same fields, digits that vary.
    const messages = Array.from({ length: 2000 }, (_, i) => ({
      key: `group-${i % 7}`,
      value: `{"id":${1_000_000 + i},"billing_period":"2026-11","type":"Mobile","seconds":${i % 600}}`,
    }));
    const sizes = new Map<string, number>();
    for (const name of ['none', 'gzip', 'lz4', 'zstd'] as const) {
      const { kafka, topic } = await newTopic(`compressed-${name}`);
      const sender = new TransactionalSender(kafka, {
        transactionalId: uniqueName('txn'),
        transactionTimeoutMs: 30_000,
        compression: compressionType(name),
      });
      cleanups.push(() => sender.discard());
      await sender.commit([{ topic, messages }]);
      const back = (await readTopics(kafka, [topic])).map((r) => r.message.value?.toString());
      expect(back, name).toEqual(messages.map((m) => m.value));
      // What the broker stored, from its own log segment (not through the client that wrote it).
      sizes.set(name, statSync(`${KAFKA_DATA}/${topic}-0/00000000000000000000.log`).size);
    }
    const none = sizes.get('none') as number;
    for (const name of ['gzip', 'lz4', 'zstd']) expect(sizes.get(name), name).toBeLessThan(none / 3);
  });

  it('abandons a commit that does not end within its deadline (a broker frozen under it), and the next commits once', async () => {
    const { kafka, topic } = await newTopic('deadline');
    const sender = new TransactionalSender(kafka, {
      transactionalId: uniqueName('txn'),
      transactionTimeoutMs: 60_000,
      commitDeadlineMs: 3000,
      writes: { topics: () => [topic] },
    });
    cleanups.push(() => sender.discard());
    await sender.commit([{ topic, messages: [{ value: 'before' }] }]);
    const broker = processesOf(readState(), 'kafka')[0];
    if (!broker) throw new Error('no broker process of the stack');
    process.kill(broker.pid, 'SIGSTOP');
    let failure: unknown;
    try {
      failure = await sender
        .commit([{ topic, messages: [{ value: 'abandoned' }] }])
        .catch((err: unknown) => err);
    } finally {
      process.kill(broker.pid, 'SIGCONT');
    }
    // Abandoned by its deadline, not by a request timeout of kafkajs (30 s) or its retries.
    expect(failure).toMatchObject({ code: 'CDR_KAFKA', retriable: true });
    expect(String((failure as Error).message)).toMatch(/did not end within 3000 ms/);
    // A new producer (epoch bumped) commits; the abandoned transaction's record is not read.
    await sender.commit([{ topic, messages: [{ value: 'after' }] }]);
    const values = (await readTopics(kafka, [topic])).map((r) => r.message.value?.toString());
    expect(values).toEqual(['before', 'after']);
  });
});
