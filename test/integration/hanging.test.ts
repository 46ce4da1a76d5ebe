// Hanging transactions: records no coordinator will end, holding a partition's last stable offset.
// Made on demand (helpers/raw-transaction.ts: a committed transaction with one record written
// outside it, the broker's partition verification off for that moment), then seen by the service's
// watch (a line at error, the partition reported), by `cdr-pipeline status` (listed, exit 1), and
// ended by a TransactionalSender of the same transactional id as its transaction ended (committed).
import { describe, expect, inject, it } from 'vitest';
import { kcatReadCommitted } from '../../scripts/stack/kcat.ts';
import { HangingWatch } from '../../src/kafka/hanging.ts';
import { TransactionalSender } from '../../src/kafka/transactions.ts';
import { cleanupAfterEach } from '../helpers/cleanups.ts';
import { runCli } from '../helpers/cli-process.ts';
import { createTopics, testKafka, uniqueName } from '../helpers/kafka.ts';
import { memoryLogger } from '../helpers/producer.ts';
import { partitionVerification, rawTransaction } from '../helpers/raw-transaction.ts';

const cleanups = cleanupAfterEach();

describe('hanging transactions', () => {
  it('are reported by the watch and by status, and ended by their own transactional id as their transaction ended', async () => {
    const kafka = testKafka();
    const run = uniqueName('hang');
    const topics = { raw: `${run}.raw`, cursor: `${run}.cursor`, dlq: `${run}.dlq` };
    const admin = kafka.admin();
    await admin.connect();
    cleanups.push(() => admin.disconnect());
    await createTopics(admin, [{ topic: topics.raw }, { topic: topics.cursor }, { topic: topics.dlq }]);
    const transactionalId = `${run}-slot-0`;
    const [host, port] = inject('brokers').split(':') as [string, string];
    // Written ten minutes ago, as far as its record time says: status sees it as hanging at once.
    const old = String(Date.now() - 600_000);
    await partitionVerification(kafka, '1', false);
    try {
      await rawTransaction(host, Number(port), transactionalId, [
        { topic: topics.raw, partition: 0, added: true, messages: [{ value: 'committed' }] },
        {
          topic: topics.cursor,
          partition: 0,
          added: false,
          messages: [{ key: 'a', value: 'left-open', timestamp: old }],
        },
      ]);
    } finally {
      await partitionVerification(kafka, '1', true);
    }
    expect(await kcatReadCommitted(inject('brokers'), topics.cursor)).toEqual([]);

    // The watch: first sight starts the clock; held past the threshold, it is reported at error.
    const { logger, log } = memoryLogger();
    const watch = new HangingWatch(
      kafka,
      () => Object.values(topics),
      { thresholdMs: 60_000, intervalMs: 60_000 },
      logger,
    );
    cleanups.push(() => watch.stop());
    const now = Date.now();
    expect(await watch.look(now)).toEqual([]);
    const seen = await watch.look(now + 61_000);
    expect(seen.map((h) => `${h.topic}/${h.partition}@${h.lastStableOffset}`)).toEqual([
      `${topics.cursor}/0@0`,
    ]);
    const line = log.entries().find((e) => /a hanging transaction/.test(String(e.msg)));
    expect(line).toMatchObject({ level: 50, topic: topics.cursor, partition: 0, lastStableOffset: '0' });

    // status: listed with its offset and producer, exit 1.
    const env = {
      KAFKA_BROKERS: inject('brokers'),
      TOPIC_RAW: topics.raw,
      TOPIC_CURSOR: topics.cursor,
      TOPIC_DLQ: topics.dlq,
      TRANSACTION_TIMEOUT_MS: '60000',
    };
    const status = await runCli(['status', '--json'], env);
    expect(status.code).toBe(1);
    const report = JSON.parse(status.stdout) as { hanging: Array<Record<string, unknown>>; ok: boolean };
    expect(report.ok).toBe(false);
    expect(report.hanging).toEqual([
      expect.objectContaining({
        topic: topics.cursor,
        partition: 0,
        lastStableOffset: '0',
        highWatermark: '1',
      }),
    ]);

    // The same transactional id initialised again: its last transaction was committed, so is the
    // record it left open; the partition moves on.
    const sender = new TransactionalSender(kafka, {
      transactionalId,
      transactionTimeoutMs: 60_000,
      writes: { topics: () => Object.values(topics) },
      log: logger,
    });
    cleanups.push(() => sender.discard());
    await sender.connect();
    const cursor = await kcatReadCommitted(inject('brokers'), topics.cursor);
    expect(cursor.map((r) => r.value?.toString())).toEqual(['left-open']);
    expect(await watch.look(now + 62_000)).toEqual([]);
    expect(
      log.entries().find((e) => /left open without their transaction marker/.test(String(e.msg))),
    ).toMatchObject({
      level: 40,
      ended: 'committed',
      partitions: [`${topics.cursor}/0@0`],
    });
    const after = JSON.parse((await runCli(['status', '--json'], env)).stdout) as { hanging: unknown[] };
    expect(after.hanging).toEqual([]);
  });
});
