// The transactional sender against the real broker: connecting it must fence an older producer of
// the same transactional id at once (InitProducerId), because the producer's cursor read and the
// enricher's offset read rely on nothing older being able to commit after connect() returns.
import { Partitioners } from 'kafkajs';
import { describe, expect, it } from 'vitest';
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
});
