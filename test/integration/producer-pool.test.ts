// Many accounts over a pool of transactional producers (producer/pool.ts, ownership.ts), on the real
// broker: exactly once across a SIGKILL and restart, two processes started for the same accounts,
// a process taking accounts over from writers under other transactional ids (a larger pool, the
// per-account ids of the version before the pool).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kafka } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { isCdrError } from '../../src/errors.ts';
import { TransactionalSender } from '../../src/kafka/transactions.ts';
import { slotOf } from '../../src/producer/pool.ts';
import { cursorMessage } from '../../src/topics/cursor.ts';
import { cleanupAfterEach } from '../helpers/cleanups.ts';
import { type CliProcess, spawnCli } from '../helpers/cli-process.ts';
import { expectControlsMatchRaw } from '../helpers/control.ts';
import { readTopics, testKafka } from '../helpers/kafka.ts';
import { decodeRaw, expectEachIdOnce, producerEnv, startTestProducer, waitFor } from '../helpers/producer.ts';
import { startTestSimulator } from '../helpers/simulator.ts';

const cleanups = cleanupAfterEach();

interface Account {
  login: string;
  password: string;
  firstId: number;
}

function accounts(n: number, base: number): Account[] {
  return Array.from({ length: n }, (_, i) => ({
    login: String(base + i),
    password: `pw-${base + i}-secret`,
    firstId: 1 + i * 10_000_000,
  }));
}

function accountsFileOf(list: readonly Account[]): string {
  const file = join(mkdtempSync(join(tmpdir(), 'pool-')), 'accounts.json');
  writeFileSync(file, JSON.stringify(list.map((a) => ({ login: a.login, password: a.password }))));
  return file;
}

function accountsEnv(feedUrl: string, list: readonly Account[], overrides: Record<string, string> = {}) {
  return producerEnv(feedUrl, list[0] as Account, {
    FEED_LOGIN: '',
    FEED_ACCOUNTS_FILE: accountsFileOf(list),
    LOG_PROGRESS: 'false',
    ...overrides,
  });
}

/** The simulator serving `list`: `rows` of history each, growing by `perSecond` from now. */
async function simulator(list: readonly Account[], rows: number, perSecond = 0) {
  const s = await startTestSimulator({
    historyRows: rows,
    ...(perSecond > 0 ? { growthPerSecond: perSecond, epochMs: Date.now() } : {}),
    accounts: list.map((a) => ({ ...a })),
  });
  cleanups.push(() => s.close());
  return s;
}

function spawnProducer(env: Record<string, string>): CliProcess {
  const p = spawnCli('produce', { ...env, LOG_LEVEL: 'info' });
  cleanups.push(p.kill);
  return p;
}

/** Every account's cursor (cdr_cursor_id) as the process reports it. */
async function cursorIds(port: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const ids = new Map<string, number>();
  for (const m of text.matchAll(/^cdr_cursor_id\{account="([^"]+)"\} (\d+)$/gm))
    ids.set(m[1] as string, Number(m[2]));
  return ids;
}

/** Until every account's cursor is at (or, on a growing feed, past) the end of its first `rows`. */
async function allCursorsAt(port: number, list: readonly Account[], rows: number, timeoutMs = 120_000) {
  await waitFor(
    'every cursor at the end of its history',
    async () => {
      const ids = await cursorIds(port).catch(() => new Map<string, number>());
      return list.every((a) => (ids.get(a.login) ?? 0) >= a.firstId + rows - 1) ? true : undefined;
    },
    timeoutMs,
  );
}

/** The CDR ids of cdr.raw by account; fails on any id published twice. */
async function idsByAccount(kafka: Kafka, topic: string): Promise<Map<string, number[]>> {
  const by = new Map<string, number[]>();
  for (const r of await readTopics(kafka, [topic])) {
    const c = decodeRaw(r.message);
    const account = String(c.account);
    const ids = by.get(account) ?? [];
    ids.push(c.id);
    by.set(account, ids);
  }
  return by;
}

async function lastCursors(kafka: Kafka, topic: string) {
  type Cursor = { account: string; lastId: number; owner: string; transactionalId?: string };
  const last = new Map<string, Cursor>();
  for (const r of await readTopics(kafka, [topic])) {
    const c = JSON.parse(r.message.value?.toString() ?? '{}') as Cursor;
    last.set(c.account, c);
  }
  return last;
}

/**
 * Per account, only the few series an operator alerts on (one each, or one per error kind or skip
 * reason); histograms are per process or per slot, never per account.
 */
function expectBoundedSeries(metrics: string, accounts: number): void {
  const perAccount = new Map<string, number>();
  const withAccount = new Set<string>();
  for (const line of metrics.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const m = /^(\w+)\{[^}]*account="([^"]+)"/.exec(line);
    if (!m) continue;
    withAccount.add(m[1] as string);
    perAccount.set(m[2] as string, (perAccount.get(m[2] as string) ?? 0) + 1);
  }
  expect(perAccount.size).toBe(accounts);
  expect([...withAccount].filter((name) => name.endsWith('_bucket') || name.endsWith('_sum'))).toEqual([]);
  for (const [account, n] of perAccount) expect(n, account).toBeLessThanOrEqual(12);
}

function fatalAccounts(lines: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const l of lines) {
    const e = JSON.parse(l) as { level?: string; msg?: string; account?: string };
    if (e.level === 'fatal' && e.msg?.startsWith('fenced') && e.account) out.add(e.account);
  }
  return out;
}

describe('producer pool: many accounts, few producers', () => {
  it('50 accounts over a pool of 4: every CDR once across a SIGKILL and restart, 4 transactional ids', async () => {
    const list = accounts(50, 61000);
    const rows = 3000;
    const s = await simulator(list, rows);
    const env = accountsEnv(s.url, list, { PRODUCER_POOL_SIZE: '4', BATCH_MAX_ROWS: '200' });

    const first = spawnProducer(env);
    const firstPort = await first.port;
    // Killed with a good part of the history committed and most of it still to come.
    const total = list.length * rows;
    await waitFor(
      'a fifth of the history committed',
      async () => {
        const ids = await cursorIds(firstPort).catch(() => new Map<string, number>());
        let done = 0;
        for (const a of list) done += Math.max(0, (ids.get(a.login) ?? 0) - a.firstId + 1);
        return done >= total / 5 ? true : undefined;
      },
      120_000,
    );
    first.child.kill('SIGKILL');
    expect(await first.exit).toBeNull();

    const second = spawnProducer(env);
    const secondPort = await second.port;
    await allCursorsAt(secondPort, list, rows);
    expectBoundedSeries(await (await fetch(`http://127.0.0.1:${secondPort}/metrics`)).text(), list.length);
    second.child.kill('SIGTERM');
    expect(await second.exit).toBe(0);

    const kafka = testKafka();
    const by = await idsByAccount(kafka, env.TOPIC_RAW);
    for (const a of list) expectEachIdOnce(by.get(a.login) ?? [], a.firstId, a.firstId + rows - 1);
    const cursors = await lastCursors(kafka, env.TOPIC_CURSOR);
    const slotIds = new Set([0, 1, 2, 3].map((i) => `${env.TRANSACTIONAL_ID_PREFIX}-slot-${i}`));
    for (const a of list) {
      const c = cursors.get(a.login);
      expect(c?.lastId).toBe(a.firstId + rows - 1);
      expect(c?.transactionalId).toBe(`${env.TRANSACTIONAL_ID_PREFIX}-slot-${slotOf(a.login, 4)}`);
    }
    // 50 accounts, 4 producers: the records name no other transactional id.
    expect(new Set([...cursors.values()].map((c) => c.transactionalId))).toEqual(slotIds);
    await expectControlsMatchRaw(kafka, env);
    for (const line of [...first.lines, ...second.lines]) expect(line).not.toContain('-secret');
  });

  it('two processes for the same accounts: the newer one takes every account, the older one stops (exit 3), every CDR once', async () => {
    const list = accounts(10, 62000);
    const s = await simulator(list, 1000, 40);
    const env = accountsEnv(s.url, list, { PRODUCER_POOL_SIZE: '4', TRANSACTION_TIMEOUT_MS: '5000' });
    const older = spawnProducer(env);
    const olderPort = await older.port;
    await allCursorsAt(olderPort, list, 1000);

    const newer = spawnProducer(env);
    const newerPort = await newer.port;
    // The older process finds each account claimed at its next commit, stops it, and exits with
    // the fenced code when none is left.
    expect(await older.exit).toBe(3);
    expect(fatalAccounts(older.lines)).toEqual(new Set(list.map((a) => a.login)));
    // The newer one goes on with all of them.
    const at = await cursorIds(newerPort);
    await waitFor('every account moving in the newer process', async () => {
      const now = await cursorIds(newerPort);
      return list.every((a) => (now.get(a.login) ?? 0) >= (at.get(a.login) ?? 0) + 40) ? true : undefined;
    });
    expect(fatalAccounts(newer.lines).size).toBe(0);
    newer.child.kill('SIGTERM');
    expect(await newer.exit).toBe(0);

    const kafka = testKafka();
    const by = await idsByAccount(kafka, env.TOPIC_RAW);
    const cursors = await lastCursors(kafka, env.TOPIC_CURSOR);
    const newerId = (
      newer.lines.map((l) => JSON.parse(l) as { msg?: string }).find((e) => e.msg === 'producer started') as {
        instanceId?: string;
      }
    ).instanceId;
    for (const a of list) {
      const c = cursors.get(a.login);
      expect(c?.owner).toBe(newerId);
      expectEachIdOnce(by.get(a.login) ?? [], a.firstId, c?.lastId as number);
    }
    await expectControlsMatchRaw(kafka, env);
  });

  it('gives a process that fenced its slot time to claim the accounts before initialising the slot again', async () => {
    // Three accounts on one slot, committing several times a second. A newcomer initialises the
    // slot (fencing this process) and commits its claims 700 ms later, as a process that reads
    // many cursors first does. Initialising the slot again meanwhile, for the next account's
    // commit, would fence the newcomer before it claims, and the two would take turns forever.
    const list = accounts(3, 64000);
    const s = await simulator(list, 200, 40);
    const env = accountsEnv(s.url, list, { PRODUCER_POOL_SIZE: '1', FEED_POLL_INTERVAL_MS: '100' });
    const older = spawnProducer(env);
    await allCursorsAt(await older.port, list, 200);

    const kafka = testKafka();
    const slot0 = `${env.TRANSACTIONAL_ID_PREFIX}-slot-0`;
    const newcomer = new TransactionalSender(kafka, { transactionalId: slot0, transactionTimeoutMs: 30_000 });
    cleanups.push(() => newcomer.discard());
    await newcomer.connect();
    const before = await lastCursors(kafka, env.TOPIC_CURSOR);
    // The scenario: a newcomer claims 700 ms after its fence (as ownership.ts does after reading
    // every cursor), while the older process keeps committing.
    await new Promise((resolve) => setTimeout(resolve, 700));
    const claimed = list.map((a) => ({
      account: a.login,
      lastId: before.get(a.login)?.lastId as number,
      rows: 0,
      committedAt: new Date().toISOString(),
      owner: 'the-newcomer',
      transactionalId: slot0,
    }));
    await newcomer.commit([{ topic: env.TOPIC_CURSOR, messages: claimed.map(cursorMessage) }]);

    // The older process finds the claims and stops every account: nothing published after them.
    expect(await older.exit).toBe(3);
    expect(fatalAccounts(older.lines)).toEqual(new Set(list.map((a) => a.login)));
    const by = await idsByAccount(kafka, env.TOPIC_RAW);
    const after = await lastCursors(kafka, env.TOPIC_CURSOR);
    for (const c of claimed) {
      expect(after.get(c.account)?.owner).toBe('the-newcomer');
      expectEachIdOnce(
        by.get(c.account) ?? [],
        (list.find((a) => a.login === c.account) as Account).firstId,
        c.lastId,
      );
    }
  });

  it('takes accounts over from a larger pool and from the per-account ids of the version before the pool', async () => {
    const list = accounts(6, 63000);
    const s = await simulator(list, 500, 30);
    const env = accountsEnv(s.url, list, { PRODUCER_POOL_SIZE: '8' });
    const kafka = testKafka();
    // The version before the pool wrote the last account's cursor under `<prefix>-<login>` (no
    // transactionalId in the record), and is still connected.
    const legacyAccount = list[5] as Account;
    const legacy = new TransactionalSender(kafka, {
      transactionalId: `${env.TRANSACTIONAL_ID_PREFIX}-${legacyAccount.login}`,
      transactionTimeoutMs: 30_000,
    });
    cleanups.push(() => legacy.discard());
    const large = await startTestProducer({ ...env, FEED_ACCOUNTS_FILE: accountsFileOf(list.slice(0, 5)) });
    cleanups.push(() => large.producer.stop());
    await waitFor('the larger pool at the end of the history', async () => {
      const ids = await cursorIds(large.producer.ops.port);
      return list.slice(0, 5).every((a) => (ids.get(a.login) ?? 0) >= a.firstId + 499) ? true : undefined;
    });
    const legacyCursor = legacyAccount.firstId + 199;
    await legacy.commit([
      {
        topic: env.TOPIC_CURSOR,
        messages: [
          cursorMessage({
            account: legacyAccount.login,
            lastId: legacyCursor,
            rows: 0,
            committedAt: new Date().toISOString(),
            owner: 'the-version-before',
          }),
        ],
      },
    ]);

    // A process with a pool of 1 for all six: its slot-0 may be one of the larger pool's; the other
    // slots and the legacy id are fenced as the writers of their accounts' cursors.
    const outcome = large.producer.done.then(
      () => 'stopped',
      (err: unknown) => (isCdrError(err) ? err.code : String(err)),
    );
    const small = await startTestProducer({ ...env, PRODUCER_POOL_SIZE: '1' });
    cleanups.push(() => small.producer.stop());
    expect(await outcome).toBe('CDR_FENCED');
    // The legacy writer was fenced: it can commit nothing any more.
    await expect(
      legacy.commit([{ topic: env.TOPIC_CURSOR, messages: [{ key: 'x', value: 'not a cursor' }] }]),
    ).rejects.toThrow();
    await waitFor('every account moving in the small pool', async () => {
      const ids = await cursorIds(small.producer.ops.port);
      return list.every((a) => (ids.get(a.login) ?? 0) >= a.firstId + 520) ? true : undefined;
    });
    await small.producer.stop();
    const by = await idsByAccount(kafka, env.TOPIC_RAW);
    const cursors = await lastCursors(kafka, env.TOPIC_CURSOR);
    for (const a of list) {
      const c = cursors.get(a.login);
      expect(c?.transactionalId).toBe(`${env.TRANSACTIONAL_ID_PREFIX}-slot-0`);
      // The legacy account resumed from the cursor its old writer left.
      const first = a === legacyAccount ? legacyCursor + 1 : a.firstId;
      expectEachIdOnce(by.get(a.login) ?? [], first, c?.lastId as number);
    }
  });
});
