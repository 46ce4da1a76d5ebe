// The broker-restart duplicate of the README's old known limitation, made on demand: a committed
// transaction whose CDRs and control records have their commit marker, while its cursor and
// running-totals records have none (a broker stopped mid-commit left cdr.cursor and
// cdr.control.totals so: those records stayed open until the producer's next commit). The state is
// written by hand, request by request (helpers/raw-transaction.ts), with the broker's partition
// verification off for that moment. A producer started on it must neither publish the batch again
// (the cursor topic alone says it is not published) nor stall (the open records hold the
// partitions' last stable offset).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { kcatReadCommitted } from '../../scripts/stack/kcat.ts';
import { avroType } from '../../src/codec/schemas.ts';
import { unframe } from '../../src/codec/wire.ts';
import { cleanupAfterEach } from '../helpers/cleanups.ts';
import { readTopics, testKafka } from '../helpers/kafka.ts';
import {
  cursorAt,
  decodeRaw,
  expectEachIdOnce,
  metricValue,
  producerEnv,
  startTestProducer,
  waitFor,
} from '../helpers/producer.ts';
import { partitionVerification, rawTransaction } from '../helpers/raw-transaction.ts';
import { SIM_ACCOUNTS, startTestSimulator } from '../helpers/simulator.ts';

const A = SIM_ACCOUNTS[0] as (typeof SIM_ACCOUNTS)[0];
const cleanups = cleanupAfterEach();
const controlType = avroType('cdr-control');
const idOf = (n: number) => A.firstId + n;
// Batches of 100 rows only (never cut by time), one slot: the same transactions in every run.
const BATCHES = { BATCH_MAX_ROWS: '100', BATCH_MAX_MS: '600000', PRODUCER_POOL_SIZE: '1', LOG_LEVEL: 'info' };

describe('producer: a committed transaction whose cursor and totals records have no marker', () => {
  it('goes on after that batch, neither publishing it again nor stalling', async () => {
    const feed300 = await startTestSimulator({ historyRows: 300 });
    const feed200 = await startTestSimulator({ historyRows: 200 });
    cleanups.push(
      () => feed300.close(),
      () => feed200.close(),
    );
    const kafka = testKafka();

    // The third transaction's records, as the producer writes them: a run of their own over 300 rows.
    const scratch = producerEnv(feed300.url, A, BATCHES);
    const first = await startTestProducer(scratch);
    await cursorAt(first.producer.ops.port, A.login, idOf(299));
    await first.producer.stop();
    const lastBatch = (await readTopics(kafka, [scratch.TOPIC_RAW])).filter(
      (r) => decodeRaw(r.message).id > idOf(199),
    );
    const ofThird = async (topic: string) =>
      (await readTopics(kafka, [topic])).filter(
        (r) =>
          (controlType.fromBuffer(unframe(r.message.value as Buffer).body) as { cursor: number }).cursor ===
          idOf(299),
      );
    const [control] = await ofThird(scratch.TOPIC_CONTROL);
    const [totals] = await ofThird(scratch.TOPIC_CONTROL_TOTALS);
    expect(lastBatch).toHaveLength(100);
    expect(control && totals).toBeTruthy();

    // The pipeline's own topics: the first 200 rows published by the producer, as usual.
    const env = producerEnv(feed200.url, A, { ...BATCHES, TRANSACTION_TIMEOUT_MS: '10000' });
    const before = await startTestProducer(env);
    await cursorAt(before.producer.ops.port, A.login, idOf(199));
    await before.producer.stop();
    const [claimed] = (await readTopics(kafka, [env.TOPIC_CURSOR])).slice(-1);
    const owner = (JSON.parse(claimed?.message.value?.toString() ?? '{}') as { owner: string }).owner;

    // The third batch committed by the slot's transactional id: its CDRs and control record added
    // to the transaction, its cursor and running totals written outside it.
    const [host, port] = inject('brokers').split(':') as [string, string];
    const cursorRecord = {
      account: A.login,
      lastId: idOf(299),
      deadLetteredAfter: 0,
      rows: 100,
      committedAt: new Date().toISOString(),
      owner,
      transactionalId: `${env.TRANSACTIONAL_ID_PREFIX}-slot-0`,
    };
    await partitionVerification(kafka, '1', false);
    try {
      await rawTransaction(host, Number(port), cursorRecord.transactionalId, [
        ...[0, 1, 2].map((partition) => ({
          topic: env.TOPIC_RAW,
          partition,
          added: true,
          messages: lastBatch
            .filter((r) => r.partition === partition)
            .map((r) => ({ key: r.message.key, value: r.message.value })),
        })),
        {
          topic: env.TOPIC_CONTROL,
          partition: 0,
          added: true,
          messages: [{ key: control?.message.key ?? null, value: control?.message.value ?? null }],
        },
        {
          topic: env.TOPIC_CURSOR,
          partition: 0,
          added: false,
          messages: [{ key: A.login, value: JSON.stringify(cursorRecord) }],
        },
        {
          topic: env.TOPIC_CONTROL_TOTALS,
          partition: 0,
          added: false,
          messages: [{ key: totals?.message.key ?? null, value: totals?.message.value ?? null }],
        },
      ]);
    } finally {
      await partitionVerification(kafka, '1', true);
    }
    // The state made: 300 CDRs committed, the cursor topic still at the 200th row, its last record open.
    expect(await kcatReadCommitted(inject('brokers'), env.TOPIC_RAW)).toHaveLength(300);
    const visible = await kcatReadCommitted(inject('brokers'), env.TOPIC_CURSOR);
    expect(JSON.parse(visible.at(-1)?.value?.toString() ?? '{}')).toMatchObject({ lastId: idOf(199) });

    // The producer started again on the whole feed: it goes on after the 300th row.
    const after = await startTestProducer({ ...env, FEED_URL: feed300.url });
    cleanups.push(() => after.producer.stop());
    await cursorAt(after.producer.ops.port, A.login, idOf(299), 60_000);
    // A few polls more: nothing published again meanwhile.
    const polls = async () =>
      (await metricValue(after.producer.ops.port, 'cdr_poll_duration_seconds_count').catch(() => 0)) ?? 0;
    const at = await polls();
    await waitFor('three more polls', async () => ((await polls()) >= at + 3 ? true : undefined), 30_000);
    await after.producer.stop();

    const ids = (await kcatReadCommitted(inject('brokers'), env.TOPIC_RAW)).map(
      (r) => decodeRaw({ value: r.value } as never).id,
    );
    expectEachIdOnce(ids, idOf(0), idOf(299));
    // The cursor topic says where the account is, and nothing is left open in it.
    const cursors = await kcatReadCommitted(inject('brokers'), env.TOPIC_CURSOR);
    expect(JSON.parse(cursors.at(-1)?.value?.toString() ?? '{}')).toMatchObject({ lastId: idOf(299) });
    const totalsNow = (await kcatReadCommitted(inject('brokers'), env.TOPIC_CONTROL_TOTALS)).map(
      (r) => controlType.fromBuffer(unframe(r.value as Buffer).body) as { cursor: number; count: number },
    );
    expect(totalsNow.at(-1)).toMatchObject({ cursor: idOf(299), count: 300 });
  });

  it("a slot left idle with its records open is initialised again when another slot's read waits on them", async () => {
    // Account A (slot 0 of 2) keeps publishing; account B (slot 1) has nothing new. B's slot then
    // gets a committed transaction with a cursor record left open (its producer fenced by that, but
    // idle, it does not notice); the open record holds cdr.cursor. A's slot is fenced next: A reads
    // where it stands, the read waits on B's open record, and the producer initialises B's idle
    // slot again, which ends it (committed, as its transaction was); A goes on.
    const [A2, B2] = SIM_ACCOUNTS as [(typeof SIM_ACCOUNTS)[0], (typeof SIM_ACCOUNTS)[0]];
    const growing = await startTestSimulator({ historyRows: 100, growthPerSecond: 20, epochMs: Date.now() });
    const still = await startTestSimulator({ historyRows: 100 });
    cleanups.push(
      () => growing.close(),
      () => still.close(),
    );
    // One feed URL for the producer: B's requests answered by the feed that does not grow.
    const router = createServer(async (req, res) => {
      const login = new URL(req.url ?? '/', 'http://x').searchParams.get('login');
      const upstream = await fetch(`${login === B2.login ? still.url : growing.url}${req.url}`);
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'text/csv' });
      res.end(Buffer.from(await upstream.arrayBuffer()));
    });
    router.listen(0, '127.0.0.1');
    await new Promise((resolve) => router.once('listening', resolve));
    cleanups.push(() => new Promise((resolve) => router.close(resolve)));
    const file = join(mkdtempSync(join(tmpdir(), 'strays-')), 'accounts.json');
    writeFileSync(file, JSON.stringify([A2, B2].map(({ login, password }) => ({ login, password }))));
    const env = producerEnv(`http://127.0.0.1:${(router.address() as AddressInfo).port}`, A2, {
      FEED_LOGIN: '',
      FEED_ACCOUNTS_FILE: file,
      PRODUCER_POOL_SIZE: '2',
      TRANSACTION_TIMEOUT_MS: '10000',
      LOG_LEVEL: 'info',
    });
    const { producer, log } = await startTestProducer(env);
    cleanups.push(() => producer.stop());
    const port = producer.ops.port;
    await cursorAt(port, B2.login, B2.firstId + 99);
    const cursorOf = async (login: string) =>
      (await metricValue(port, 'cdr_cursor_id', { account: login }).catch(() => 0)) ?? 0;
    await waitFor('A under way', async () =>
      (await cursorOf(A2.login)) > A2.firstId + 120 ? true : undefined,
    );

    const kafka = testKafka();
    const [host, brokerPort] = inject('brokers').split(':') as [string, string];
    const latest = async (topic: string, key: string) =>
      (await kcatReadCommitted(inject('brokers'), topic)).filter((r) => r.key?.toString() === key).at(-1);
    const bCursor = await latest(env.TOPIC_CURSOR, B2.login);
    const bTotals = (await kcatReadCommitted(inject('brokers'), env.TOPIC_CONTROL_TOTALS)).find((r) =>
      r.key?.toString().startsWith(`${B2.login}|`),
    );
    const aTotals = (await kcatReadCommitted(inject('brokers'), env.TOPIC_CONTROL_TOTALS)).find((r) =>
      r.key?.toString().startsWith(`${A2.login}|`),
    );
    expect(bCursor && bTotals && aTotals).toBeTruthy();
    const again = (r: NonNullable<typeof bTotals>) => ({ key: r.key, value: r.value });
    await partitionVerification(kafka, '1', false);
    try {
      // B's slot: its running totals written again (harmless), its cursor record left open.
      await rawTransaction(host, Number(brokerPort), `${env.TRANSACTIONAL_ID_PREFIX}-slot-1`, [
        { topic: env.TOPIC_CONTROL_TOTALS, partition: 0, added: true, messages: [again(bTotals as never)] },
        { topic: env.TOPIC_CURSOR, partition: 0, added: false, messages: [again(bCursor as never)] },
      ]);
    } finally {
      await partitionVerification(kafka, '1', true);
    }
    // A's slot fenced the same way (a transaction of its id, nothing changed by it).
    await rawTransaction(host, Number(brokerPort), `${env.TRANSACTIONAL_ID_PREFIX}-slot-0`, [
      { topic: env.TOPIC_CONTROL_TOTALS, partition: 0, added: true, messages: [again(aTotals as never)] },
    ]);
    const fencedAt = await cursorOf(A2.login);
    // A goes on (well before a hanging read would fail at 10 s + 15 s, and be tried again to no end).
    await waitFor(
      'A after its slot was fenced',
      async () => ((await cursorOf(A2.login)) > fencedAt + 100 ? true : undefined),
      40_000,
    );
    expect(log.entries().some((e) => /idle slots initialised again/.test(String(e.msg)))).toBe(true);
    expect(
      log
        .entries()
        .some(
          (e) =>
            e.msg ===
            'records of this transactional id were left open without their transaction marker (a broker fault): ended as their transaction did',
        ),
    ).toBe(true);
    await producer.stop();
    const ids = (await kcatReadCommitted(inject('brokers'), env.TOPIC_RAW)).map((r) =>
      decodeRaw({ value: r.value } as never),
    );
    const a = ids.filter((c) => c.account === A2.login).map((c) => c.id);
    expect(new Set(a).size).toBe(a.length);
    expectEachIdOnce(
      ids.filter((c) => c.account === B2.login).map((c) => c.id),
      B2.firstId,
      B2.firstId + 99,
    );
  });
});
