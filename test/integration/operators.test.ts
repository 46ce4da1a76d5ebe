// The operators' commands against the real stack: status, cursor show|set against a running
// producer, dlq list|show; and a healthy start that logs nothing at error.
import { describe, expect, inject, it } from 'vitest';
import { loadEnricherOptions } from '../../src/config/enricher.ts';
import { startEnricher } from '../../src/enrich/index.ts';
import { slotOf } from '../../src/producer/pool.ts';
import { cleanupAfterEach } from '../helpers/cleanups.ts';
import { runCli, spawnCli } from '../helpers/cli-process.ts';
import { enricherEnv } from '../helpers/enricher.ts';
import { readTopics, testKafka } from '../helpers/kafka.ts';
import {
  decodeRaw,
  memoryLogger,
  metricValue,
  producerEnv,
  startTestProducer,
  waitFor,
} from '../helpers/producer.ts';
import { SIM_ACCOUNTS, startTestSimulator } from '../helpers/simulator.ts';

const [A, B] = SIM_ACCOUNTS as [(typeof SIM_ACCOUNTS)[0], (typeof SIM_ACCOUNTS)[0]];
const cleanups = cleanupAfterEach();

/** The environment the tools read: the same variables as the services. */
function toolEnv(
  p: { TOPIC_RAW: string; TOPIC_CURSOR: string; TOPIC_DLQ: string; TRANSACTIONAL_ID_PREFIX: string },
  group?: string,
) {
  return {
    KAFKA_BROKERS: inject('brokers'),
    SCHEMA_REGISTRY_URL: inject('registryUrl'),
    TOPIC_RAW: p.TOPIC_RAW,
    TOPIC_CURSOR: p.TOPIC_CURSOR,
    TOPIC_DLQ: p.TOPIC_DLQ,
    TRANSACTIONAL_ID_PREFIX: p.TRANSACTIONAL_ID_PREFIX,
    ...(group ? { ENRICH_GROUP_ID: group } : {}),
  };
}

describe('operators: a healthy start', () => {
  it('logs nothing at error when a producer and an enricher start and work on the real broker', async () => {
    const s = await startTestSimulator({ historyRows: 3000 });
    cleanups.push(() => s.close());
    const penv = producerEnv(s.url, A, { LOG_LEVEL: 'info' });
    const { producer, log: plog } = await startTestProducer(penv);
    cleanups.push(() => producer.stop());
    // Two enrichers in one group, as ./dev start runs them: the second one's arrival rebalances.
    const eenv = { ...enricherEnv(penv), LOG_LEVEL: 'info' };
    const { logger, log: elog } = memoryLogger();
    const enricher = await startEnricher(loadEnricherOptions(eenv), logger);
    cleanups.push(() => enricher.stop());
    await waitFor('first enricher working', async () =>
      ((await metricValue(enricher.ops.port, 'cdr_enrich_records_in_total')) ?? 0) > 0 ? true : undefined,
    );
    const { logger: logger2, log: elog2 } = memoryLogger();
    const second = await startEnricher(loadEnricherOptions(eenv), logger2);
    cleanups.push(() => second.stop());
    const assignments = (l: typeof elog) => l.entries().filter((e) => e.msg === 'partitions assigned').length;
    await waitFor('a rebalance: both assigned', () =>
      assignments(elog) >= 2 && assignments(elog2) >= 1 ? true : undefined,
    );
    const inOf = async (port: number) => (await metricValue(port, 'cdr_enrich_records_in_total')) ?? 0;
    await waitFor('enriched', async () =>
      (await inOf(enricher.ops.port)) + (await inOf(second.ops.port)) >= 3000 ? true : undefined,
    );
    const loud = [...plog.entries(), ...elog.entries(), ...elog2.entries()].filter(
      (e) => Number(e.level) >= 50,
    );
    expect(loud.map((e) => `${e.msg} ${JSON.stringify(e.error ?? '')}`)).toEqual([]);
    // The chatter is still there, at the level it is worth.
    expect(elog.entries().some((e) => e.component === 'kafkajs' || e.msg === 'partitions assigned')).toBe(
      true,
    );
  });
});

describe('operators: status', () => {
  it('reports cursors, how far behind, dead letters and lag; exits 1 on a stale account or too much lag', async () => {
    // Account A's feed ended three days ago; account B's grows now.
    const old = await startTestSimulator({
      historyRows: 200,
      malformedShare: 0.05,
      epochMs: Date.now() - 3 * 86_400_000,
    });
    const live = await startTestSimulator({ historyRows: 200, growthPerSecond: 200, epochMs: Date.now() });
    cleanups.push(
      () => old.close(),
      () => live.close(),
    );
    const penv = producerEnv(old.url, A);
    const shared = {
      TOPIC_RAW: penv.TOPIC_RAW,
      TOPIC_CURSOR: penv.TOPIC_CURSOR,
      TOPIC_DLQ: penv.TOPIC_DLQ,
      TRANSACTIONAL_ID_PREFIX: penv.TRANSACTIONAL_ID_PREFIX,
    };
    const a = await startTestProducer(penv);
    cleanups.push(() => a.producer.stop());
    const b = await startTestProducer(producerEnv(live.url, B, shared));
    cleanups.push(() => b.producer.stop());
    await waitFor('A done', async () =>
      (await metricValue(a.producer.ops.port, 'cdr_cursor_id', { account: A.login })) === A.firstId + 199
        ? true
        : undefined,
    );
    const eenv = enricherEnv(penv);
    const { logger } = memoryLogger();
    const enricher = await startEnricher(loadEnricherOptions(eenv), logger);
    await waitFor('enricher joined', async () =>
      ((await metricValue(enricher.ops.port, 'cdr_enrich_records_in_total')) ?? 0) > 200 ? true : undefined,
    );
    // The enricher stops while B's records keep coming: its group falls behind.
    await enricher.stop();
    const stoppedAt = (await metricValue(b.producer.ops.port, 'cdr_cursor_id', {
      account: B.login,
    })) as number;
    await waitFor('records after the enricher stopped', async () =>
      ((await metricValue(b.producer.ops.port, 'cdr_cursor_id', { account: B.login })) ?? 0) > stoppedAt + 300
        ? true
        : undefined,
    );
    const dead = (await metricValue(a.producer.ops.port, 'cdr_rows_dead_lettered_total', {
      account: A.login,
    })) as number;
    expect(dead).toBeGreaterThan(0);

    const env = toolEnv(shared, eenv.ENRICH_GROUP_ID);
    const ok = await runCli(['status', '--json', '--stale-after', '7d'], env);
    expect(ok.code, ok.stderr).toBe(0);
    const report = JSON.parse(ok.stdout) as {
      accounts: Array<{
        account: string;
        lastId: number;
        behindMs: number;
        deadLetters24h: number;
        stale: boolean;
      }>;
      groups: Array<{
        group: string;
        totalLag: number;
        partitions: Array<{ partition: number; committed: string | null; end: string; lag: number }>;
      }>;
      subjects: Array<{ subject: string; version: number }>;
    };
    const byAccount = new Map(report.accounts.map((x) => [x.account, x]));
    expect(byAccount.get(A.login)).toMatchObject({
      lastId: A.firstId + 199,
      deadLetters24h: dead,
      stale: false,
    });
    expect(byAccount.get(A.login)?.behindMs).toBeGreaterThan(2.9 * 86_400_000);
    expect(byAccount.get(B.login)?.behindMs).toBeLessThan(60_000);
    // Lag per partition is the end offset less the committed one, as Kafka reports them.
    const admin = testKafka().admin();
    await admin.connect();
    cleanups.push(() => admin.disconnect());
    const [committed] = await admin.fetchOffsets({ groupId: eenv.ENRICH_GROUP_ID, topics: [penv.TOPIC_RAW] });
    const group = report.groups[0];
    expect(group?.group).toBe(eenv.ENRICH_GROUP_ID);
    for (const p of group?.partitions ?? []) {
      // A partition the enricher had committed nothing in yet: Kafka says -1, status says none (null).
      const kafkaSays = committed?.partitions.find((c) => c.partition === p.partition)?.offset;
      expect(p.committed).toBe(kafkaSays === '-1' ? null : kafkaSays);
      expect(p.lag).toBe(Number(p.end) - Number(p.committed));
    }
    // At least the records B published after the enricher stopped (markers count too).
    expect(group?.totalLag).toBeGreaterThanOrEqual(300);
    expect(report.subjects.some((x) => x.subject === `${penv.TOPIC_RAW}-value`)).toBe(true);

    const stale = await runCli(['status', '--stale-after', '1h'], env);
    expect(stale.code).toBe(1);
    expect(stale.stdout).toMatch(new RegExp(`${A.login} .*STALE`));
    expect(stale.stdout).toContain('ATTENTION');
    const lagging = await runCli(['status', '--max-lag', '10'], env);
    expect(lagging.code).toBe(1);
    expect(lagging.stdout).toContain('OVER LIMIT');
  });
});

describe('operators: cursor', () => {
  it('moves a cursor under a running producer: the producer stops with its fenced code, the cursor holds, a restart resumes from it', async () => {
    const s = await startTestSimulator({ historyRows: 500, growthPerSecond: 200, epochMs: Date.now() });
    cleanups.push(() => s.close());
    const penv = producerEnv(s.url, A, { LOG_PROGRESS: 'false' });
    const env = toolEnv(penv);
    const first = spawnCli('produce', { ...penv, LOG_LEVEL: 'info' });
    cleanups.push(first.kill);
    const port = await first.port;
    await waitFor('history published', async () =>
      ((await metricValue(port, 'cdr_cursor_id', { account: A.login }).catch(() => 0)) ?? 0) >=
      A.firstId + 499
        ? true
        : undefined,
    );
    const now = (await metricValue(port, 'cdr_cursor_id', { account: A.login })) as number;

    // Backwards without the flag: refused, with how many ids it would publish again.
    const back = await runCli(
      ['cursor', 'set', '--account', A.login, '--last-id', String(A.firstId + 99)],
      env,
    );
    expect(back.code).toBe(1);
    expect(back.stderr).toMatch(new RegExp(`republishes up to \\d+ ids \\(${A.firstId + 100}\\.\\.\\d+\\)`));
    expect(back.stderr).toContain('--allow-backwards');

    // Forward past what the feed has: skips ahead.
    const target = now + 2000;
    const set = await runCli(
      ['cursor', 'set', '--account', A.login, '--last-id', String(target), '--json'],
      env,
    );
    expect(set.code, set.stderr).toBe(0);
    const moved = JSON.parse(set.stdout) as {
      from: number;
      to: number;
      direction: string;
      between: number;
      transactionalId: string;
    };
    // It fenced the producer's pool slot that wrote the account's cursor (default pool of 4).
    const slotId = `${penv.TRANSACTIONAL_ID_PREFIX}-slot-${slotOf(A.login, 4)}`;
    expect(moved).toMatchObject({ to: target, direction: 'forward', transactionalId: slotId });
    expect(moved.between).toBe(target - moved.from);
    expect(await first.exit).toBe(3);

    const shown = await runCli(['cursor', 'show', '--json'], env);
    const cursors = JSON.parse(shown.stdout) as Array<{ account: string; lastId: number; owner: string }>;
    expect(cursors.find((c) => c.account === A.login)).toMatchObject({
      lastId: target,
      owner: expect.stringMatching(/^cursor-set:/),
      transactionalId: slotId,
    });
    const table = await runCli(['cursor', 'show'], env);
    expect(table.stdout).toMatch(new RegExp(`${A.login} .*${slotId}`));

    const second = spawnCli('produce', { ...penv, LOG_LEVEL: 'info' });
    cleanups.push(second.kill);
    const port2 = await second.port;
    await waitFor(
      'past the new cursor',
      async () =>
        ((await metricValue(port2, 'cdr_cursor_id', { account: A.login }).catch(() => 0)) ?? 0) > target + 100
          ? true
          : undefined,
      60_000,
    );
    second.child.kill('SIGTERM');
    expect(await second.exit).toBe(0);
    const ids = (await readTopics(testKafka(), [penv.TOPIC_RAW]))
      .map((r) => decodeRaw(r.message).id)
      .sort((x, y) => x - y);
    expect(new Set(ids).size).toBe(ids.length);
    // Everything up to the cursor the move found, nothing between it and the new one, then on from there.
    expect(ids.filter((id) => id <= moved.from)).toHaveLength(moved.from - A.firstId + 1);
    expect(ids.filter((id) => id > moved.from && id <= target)).toEqual([]);
    expect(ids.find((id) => id > target)).toBe(target + 1);
  });
});

describe('operators: dlq', () => {
  it('lists dead letters by account and reason with counts, and shows one with its raw row', async () => {
    const s = await startTestSimulator({ historyRows: 1000, malformedShare: 0.05 });
    cleanups.push(() => s.close());
    const penv = producerEnv(s.url, A);
    const { producer } = await startTestProducer(penv);
    cleanups.push(() => producer.stop());
    await waitFor('all read', async () =>
      (await metricValue(producer.ops.port, 'cdr_cursor_id', { account: A.login })) === A.firstId + 999
        ? true
        : undefined,
    );
    const dead = (await metricValue(producer.ops.port, 'cdr_rows_dead_lettered_total', {
      account: A.login,
    })) as number;
    const env = toolEnv(penv);
    const list = await runCli(['dlq', 'list', '--account', A.login, '--since', '1h', '--json'], env);
    expect(list.code, list.stderr).toBe(0);
    const { deadLetters, counts } = JSON.parse(list.stdout) as {
      deadLetters: Array<{ id: string; errorCode: string; field: string; raw: string }>;
      counts: Array<{ errorCode: string; field: string; count: number }>;
    };
    expect(deadLetters).toHaveLength(dead);
    expect(counts.reduce((n, c) => n + c.count, 0)).toBe(dead);
    const field = counts[0]?.field as string;
    const byField = await runCli(
      ['dlq', 'list', '--code', 'CDR_ROW_INVALID', '--reason', field, '--json'],
      env,
    );
    expect(
      (JSON.parse(byField.stdout) as { deadLetters: unknown[] }).deadLetters.length,
    ).toBeGreaterThanOrEqual(counts[0]?.count as number);
    const none = await runCli(['dlq', 'list', '--account', 'nobody', '--json'], env);
    expect((JSON.parse(none.stdout) as { deadLetters: unknown[] }).deadLetters).toEqual([]);
    const table = await runCli(['dlq', 'list', '--account', A.login], env);
    expect(table.stdout).toContain('per reason');

    const one = deadLetters[0] as { id: string; raw: string };
    const show = await runCli(['dlq', 'show', '--account', A.login, '--id', one.id], env);
    expect(show.code).toBe(0);
    expect(JSON.parse(show.stdout)).toEqual([
      expect.objectContaining({ id: one.id, raw: one.raw, account: A.login }),
    ]);
    expect(show.stdout).not.toContain(A.password);
  });
});
