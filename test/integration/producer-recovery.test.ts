// Faults injected at the edges: the producer process killed with SIGKILL, a second producer for
// the same account, the broker stopped and started again. Nothing lost, nothing twice.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kafka } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { down, up } from '../../scripts/stack/index.ts';
import { isCdrError } from '../../src/errors.ts';
import { openPartitionsNow } from '../../src/kafka/hanging.ts';
import { cleanupAfterEach } from '../helpers/cleanups.ts';
import { type CliProcess, spawnCli } from '../helpers/cli-process.ts';
import { expectControlsMatchRaw } from '../helpers/control.ts';
import { readTopics, testKafka } from '../helpers/kafka.ts';
import {
  cursorAtLeast,
  decodeRaw,
  expectEachIdOnce,
  metricValue,
  producerEnv,
  startTestProducer,
  waitFor,
} from '../helpers/producer.ts';
import { SIM_ACCOUNTS, startTestSimulator } from '../helpers/simulator.ts';

const A = SIM_ACCOUNTS[0] as (typeof SIM_ACCOUNTS)[0];
const cleanups = cleanupAfterEach();

function spawnProducer(env: Record<string, string>): CliProcess {
  const p = spawnCli('produce', { ...env, LOG_LEVEL: 'info' });
  cleanups.push(p.kill);
  return p;
}

async function lastCursor(kafka: Kafka, topic: string): Promise<number> {
  const records = await readTopics(kafka, [topic]);
  const values = records.map((r) => JSON.parse(r.message.value?.toString() ?? '{}') as { lastId: number });
  return values[values.length - 1]?.lastId ?? 0;
}

async function publishedIds(kafka: Kafka, topic: string): Promise<number[]> {
  const records = await readTopics(kafka, [topic]);
  const where = new Map<number, string[]>();
  for (const r of records) {
    const id = decodeRaw(r.message).id;
    where.set(id, [...(where.get(id) ?? []), `${r.partition}:${r.message.offset}`]);
  }
  // A duplicate says where it is: the same offset twice is the reader, two offsets the producer.
  const twice = [...where].filter(([, at]) => at.length > 1);
  expect(twice.slice(0, 5), 'ids published more than once, with partition:offset').toEqual([]);
  return records.map((r) => decodeRaw(r.message).id);
}

describe('producer recovery', () => {
  it('survives SIGKILL in the middle of a large response: every id once, cursor at the last id', async () => {
    const rows = 150_000;
    const s = await startTestSimulator({ historyRows: rows });
    cleanups.push(() => s.close());
    const env = producerEnv(s.url, A, { BATCH_MAX_ROWS: '2000', LOG_PROGRESS: 'false' });

    const first = spawnProducer(env);
    const firstPort = await first.port;
    const before = await cursorAtLeast(firstPort, A.login, A.firstId + 20_000);
    first.child.kill('SIGKILL');
    expect(await first.exit).toBeNull();
    // Killed mid-response: the feed had rows left to send.
    expect(before).toBeLessThan(A.firstId + rows - 1);

    const second = spawnProducer(env);
    const secondPort = await second.port;
    await cursorAtLeast(secondPort, A.login, A.firstId + rows - 1);
    second.child.kill('SIGTERM');
    expect(await second.exit).toBe(0);
    expect(second.lines.some((l) => l.includes('"msg":"stopped"'))).toBe(true);

    const kafka = testKafka();
    expect(await lastCursor(kafka, env.TOPIC_CURSOR)).toBe(A.firstId + rows - 1);
    expectEachIdOnce(await publishedIds(kafka, env.TOPIC_RAW), A.firstId, A.firstId + rows - 1);
    // The control records and running totals, carried across the crash, still add up to cdr.raw.
    await expectControlsMatchRaw(kafka, env);
    for (const line of [...first.lines, ...second.lines]) expect(line).not.toContain(A.password);
  });

  it('lets a second producer on the same account fence the first, which stops with a clear log line', async () => {
    const s = await startTestSimulator({ historyRows: 2000, growthPerSecond: 200, epochMs: Date.now() });
    cleanups.push(() => s.close());
    const env = producerEnv(s.url, A);
    const one = await startTestProducer(env);
    cleanups.push(() => one.producer.stop());
    await cursorAtLeast(one.producer.ops.port, A.login, A.firstId + 1999);

    // Watched from before the second starts: its claim can stop the first while it is starting.
    const outcome = one.producer.done.then(
      () => 'stopped',
      (err: unknown) => (isCdrError(err) ? err.code : String(err)),
    );
    const two = await startTestProducer(env);
    cleanups.push(() => two.producer.stop());
    expect(await outcome).toBe('CDR_FENCED');
    expect(one.log.entries().some((e) => e.level === 60 && String(e.msg).startsWith('fenced'))).toBe(true);

    const reached = await cursorAtLeast(two.producer.ops.port, A.login, A.firstId + 2500);
    await two.producer.stop();
    const kafka = testKafka();
    const last = await lastCursor(kafka, env.TOPIC_CURSOR);
    expect(last).toBeGreaterThanOrEqual(reached);
    expectEachIdOnce(await publishedIds(kafka, env.TOPIC_RAW), A.firstId, last);
  });

  it('goes on after a transaction that timed out while frozen: an expired epoch is not a takeover', async () => {
    const rows = 400_000;
    const s = await startTestSimulator({ historyRows: rows });
    cleanups.push(() => s.close());
    const env = producerEnv(s.url, A, {
      BATCH_MAX_ROWS: '2000',
      LOG_PROGRESS: 'false',
      TRANSACTION_TIMEOUT_MS: '2000',
    });
    const p = spawnProducer(env);
    const port = await p.port;
    await cursorAtLeast(port, A.login, A.firstId + 10_000);
    // Freeze past the transaction timeout (the broker aborts it and bumps the epoch), thaw, and
    // repeat until a freeze caught a transaction open: the producer says so when it resumes. Kafka
    // 4.4's coordinator sometimes answers the thawed EndTxn with UNKNOWN_SERVER_ERROR (its epoch
    // fence is still pending) instead of an epoch error: the producer then recovers as from any
    // Kafka failure. Either way it must go on, not stop the account.
    const expired = () =>
      p.lines.some(
        (l) =>
          (l.includes('"level":"warn"') && l.includes('"code":"CDR_PRODUCER_EPOCH"')) ||
          (l.includes('"msg":"poll failed"') && l.includes('"code":"CDR_KAFKA"')),
      );
    const cursorNow = async () =>
      (await metricValue(port, 'cdr_cursor_id', { account: A.login }).catch(() => undefined)) ?? 0;
    const kafka = testKafka();
    const written = [
      env.TOPIC_RAW,
      env.TOPIC_DLQ,
      env.TOPIC_CURSOR,
      env.TOPIC_CONTROL,
      env.TOPIC_CONTROL_TOTALS,
    ];
    for (let i = 0; i < 20 && !expired(); i++) {
      p.child.kill('SIGSTOP');
      // Frozen until the broker has aborted what the producer left open, past the transaction
      // timeout (a freeze between two transactions left nothing open: thawed at once, tried again).
      await waitFor(
        'the frozen transaction aborted by the broker',
        async () => ((await openPartitionsNow(kafka, written)).length === 0 ? true : undefined),
        60_000,
      );
      p.child.kill('SIGCONT');
      // The next commit after the thaw (not the end of the feed: a freeze that caught no open
      // transaction must leave rows for the next try).
      const before = await cursorNow();
      await waitFor(
        'a commit after the thaw',
        async () => (expired() || (await cursorNow()) > before ? true : undefined),
        60_000,
      );
    }
    expect(expired()).toBe(true);
    await cursorAtLeast(port, A.login, A.firstId + rows - 1, 180_000);
    // Still running: the account was not given up.
    expect(p.child.exitCode).toBeNull();
    expect(p.lines.some((l) => l.includes('"msg":"fenced'))).toBe(false);
    p.child.kill('SIGTERM');
    expect(await p.exit).toBe(0);
    expect(await lastCursor(kafka, env.TOPIC_CURSOR)).toBe(A.firstId + rows - 1);
    expectEachIdOnce(await publishedIds(kafka, env.TOPIC_RAW), A.firstId, A.firstId + rows - 1);
  });

  it('stops a producer thawed after another took its account over (exit 3), every CDR once', async () => {
    const s = await startTestSimulator({ historyRows: 3000, growthPerSecond: 300, epochMs: Date.now() });
    cleanups.push(() => s.close());
    const env = producerEnv(s.url, A, { LOG_PROGRESS: 'false', TRANSACTION_TIMEOUT_MS: '2000' });
    const zombie = spawnProducer(env);
    const zombiePort = await zombie.port;
    await cursorAtLeast(zombiePort, A.login, A.firstId + 2999);
    zombie.child.kill('SIGSTOP');
    const successor = await startTestProducer(env);
    cleanups.push(() => successor.producer.stop());
    const claimedAt = await cursorAtLeast(successor.producer.ops.port, A.login, A.firstId + 3500);
    // What the zombie had open was ended by its successor's InitProducerId (the same slot id): a
    // moment comes with nothing open (the successor's own transactions open and close all the
    // time; once, checked at one instant, one of them was in flight); a record the zombie left
    // open would hold its partition for good. Thawed, the zombie finds the account claimed by another.
    await waitFor(
      'nothing left open',
      async () =>
        (await openPartitionsNow(testKafka(), [env.TOPIC_RAW, env.TOPIC_CURSOR])).length === 0
          ? true
          : undefined,
      30_000,
    );
    zombie.child.kill('SIGCONT');
    expect(await zombie.exit).toBe(3);
    const fatal = zombie.lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((e) => e.level === 'fatal');
    expect(fatal).toMatchObject({ account: A.login });
    expect(String(fatal?.msg)).toMatch(/^fenced/);
    const reached = await cursorAtLeast(successor.producer.ops.port, A.login, claimedAt + 1000);
    await successor.producer.stop();
    const kafka = testKafka();
    const last = await lastCursor(kafka, env.TOPIC_CURSOR);
    expect(last).toBeGreaterThanOrEqual(reached);
    expectEachIdOnce(await publishedIds(kafka, env.TOPIC_RAW), A.firstId, last);
  });

  it('stops only the account another process took over; the process goes on with the others, even on the same producer', async () => {
    const B = SIM_ACCOUNTS[1] as (typeof SIM_ACCOUNTS)[0];
    const s = await startTestSimulator({ historyRows: 1000, growthPerSecond: 200, epochMs: Date.now() });
    cleanups.push(() => s.close());
    const dir = mkdtempSync(join(tmpdir(), 'accounts-'));
    const file = join(dir, 'accounts.json');
    writeFileSync(file, JSON.stringify([A, B].map((a) => ({ login: a.login, password: a.password }))));
    const env = producerEnv(s.url, A, { LOG_PROGRESS: 'false', TRANSACTION_TIMEOUT_MS: '2000' });
    // One producer for both accounts: A and B share a transactional id.
    const both = spawnProducer({ ...env, FEED_LOGIN: '', FEED_ACCOUNTS_FILE: file, PRODUCER_POOL_SIZE: '1' });
    const port = await both.port;
    await cursorAtLeast(port, A.login, A.firstId + 999);
    // Another process (its own prefix) takes account A over: it fences the transactional id that
    // wrote A's cursor, which the first process's B uses too.
    const other = await startTestProducer({
      ...env,
      TRANSACTIONAL_ID_PREFIX: `${env.TRANSACTIONAL_ID_PREFIX}-other`,
    });
    cleanups.push(() => other.producer.stop());
    await waitFor('account A stopped in the first process', () =>
      both.lines.some((l) => l.includes('"level":"fatal"') && l.includes(`"account":"${A.login}"`))
        ? true
        : undefined,
    );
    const bBefore = (await metricValue(port, 'cdr_cursor_id', { account: B.login })) as number;
    await waitFor('account B still moving', async () =>
      ((await metricValue(port, 'cdr_cursor_id', { account: B.login })) ?? 0) >= bBefore + 200
        ? true
        : undefined,
    );
    expect(both.child.exitCode).toBeNull();
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    both.child.kill('SIGTERM');
    expect(await both.exit).toBe(0);
    await other.producer.stop();
    const kafka = testKafka();
    const ids = await publishedIds(kafka, env.TOPIC_RAW);
    const last = (await readTopics(kafka, [env.TOPIC_CURSOR]))
      .map((r) => JSON.parse(r.message.value?.toString() ?? '{}') as { account: string; lastId: number })
      .filter((c) => c.account === A.login)
      .at(-1)?.lastId as number;
    expectEachIdOnce(
      ids.filter((id) => id < B.firstId),
      A.firstId,
      last,
    );
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('rides out the broker stopped and started again mid-run', async () => {
    const s = await startTestSimulator({ historyRows: 5000, growthPerSecond: 300, epochMs: Date.now() });
    cleanups.push(() => s.close());
    const env = producerEnv(s.url, A);
    const { producer: p, log } = await startTestProducer(env);
    cleanups.push(() => p.stop());
    await cursorAtLeast(p.ops.port, A.login, A.firstId + 4999);

    await down(['kafka']);
    cleanups.push(() => up(['kafka']));
    // With the broker gone, polls fail on Kafka and readiness stays false until it is back.
    await waitFor(
      'a Kafka failure',
      () => (log.entries().some((e) => e.code === 'CDR_KAFKA') ? true : undefined),
      60_000,
    );
    const ready = await fetch(`http://127.0.0.1:${p.ops.port}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ kafka: false });
    await up(['kafka']);

    const before = (await metricValue(p.ops.port, 'cdr_cursor_id', { account: A.login })) as number;
    await cursorAtLeast(p.ops.port, A.login, before + 1000);
    await p.stop();
    const kafka = testKafka();
    const last = await lastCursor(kafka, env.TOPIC_CURSOR);
    expectEachIdOnce(await publishedIds(kafka, env.TOPIC_RAW), A.firstId, last);
    await expectControlsMatchRaw(kafka, env);
  });
});
