// The enricher's position in a partition is the offset its group committed; read while a
// transaction still holds a newer offset pending (its marker not yet written to __consumer_offsets),
// OffsetFetch without require_stable answers the older one and the records in between are
// enriched twice. These tests hold a TxnOffsetCommit open on purpose, the state a broker fault
// leaves for a moment between EndTxn's answer and the markers.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { PartitionOwners } from '../../src/kafka/partition-owners.ts';
import { cleanupAfterEach } from '../helpers/cleanups.ts';
import { newTopic, transactionalProducer, uniqueName } from '../helpers/kafka.ts';
import { waitFor } from '../helpers/producer.ts';

const cleanups = cleanupAfterEach();

/** A topic, a group that committed `offset` in its partition 0, and a transaction holding `pending` open for it. */
async function pendingOffset(committed: number, pending: number) {
  const { kafka, topic } = await newTopic('offsets-in');
  const groupId = uniqueName('offsets-group');
  const offsets = (offset: number) => ({
    consumerGroupId: groupId,
    topics: [{ topic, partitions: [{ partition: 0, offset: String(offset) }] }],
  });
  const first = await transactionalProducer(kafka, 'offsets-first', cleanups);
  const t1 = await first.transaction();
  await t1.sendOffsets(offsets(committed));
  await t1.commit();
  const holder = await transactionalProducer(kafka, 'offsets-holder', cleanups);
  const held = await holder.transaction();
  await held.sendOffsets(offsets(pending));
  return { kafka, topic, groupId, held };
}

describe('committed offsets', () => {
  it("a stable read reports a partition's offset as pending while a transaction holds a newer one, the plain read answers the older one", async () => {
    const { kafka, topic, groupId, held } = await pendingOffset(3, 7);
    const admin = kafka.admin();
    await admin.connect();
    cleanups.push(() => admin.disconnect());

    const [plain] = await admin.fetchOffsets({ groupId, topics: [topic] });
    expect(plain?.partitions.find((p) => p.partition === 0)?.offset).toBe('3');
    const pending = await admin.fetchStableOffsets({ groupId, topic, partitions: [0] });
    expect(pending).toEqual([{ partition: 0, offset: null, pending: true }]);

    // EndTxn answers before the coordinator has written the markers: pending for a moment more.
    await held.commit();
    const stable = await waitFor('the markers of the held transaction', async () => {
      const [read] = await admin.fetchStableOffsets({ groupId, topic, partitions: [0] });
      return read?.pending ? undefined : read;
    });
    expect(stable).toEqual({ partition: 0, offset: '7', pending: false });
  });

  it('an enricher taking a partition over waits for the offset a transaction holds pending and starts from it', async () => {
    const { kafka, topic, groupId, held } = await pendingOffset(3, 7);
    const owners = new PartitionOwners(
      kafka,
      {
        inputTopic: topic,
        groupId,
        transactionalIdPrefix: uniqueName('owners'),
        transactionTimeoutMs: 60_000,
        outputTopics: [],
      },
      pino({ level: 'silent' }),
    );
    cleanups.push(() => owners.close());
    owners.assigned([0]);
    let settled = false;
    const acquired = owners.acquire(0).finally(() => {
      settled = true;
    });
    // Long enough for the producer's initialisation and a plain offset read, many times over.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(settled).toBe(false);

    await held.commit();
    expect((await acquired)?.committed).toBe(7n);
  });
});
