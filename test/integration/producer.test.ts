// The producer against the real broker and registry, fed by the simulator in this process.
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import type { Kafka } from 'kafkajs';
import { describe, expect, inject, it } from 'vitest';
import { canonicalCost } from '../../src/cdr/decimal.ts';
import type { CdrError } from '../../src/errors.ts';
import { topicOffsets } from '../../src/kafka/offsets.ts';
import type { RunningSimulator, SimulatorOptions } from '../../src/simulator/index.ts';
import { CURSOR_TOPIC_CONFIG } from '../../src/topics/specs.ts';
import { cleanupAfterEach } from '../helpers/cleanups.ts';
import { expectControlsMatchRaw } from '../helpers/control.ts';
import { readTopics, testKafka } from '../helpers/kafka.ts';
import {
  decodeRaw,
  expectEachIdOnce,
  metricValue,
  producerEnv,
  startTestProducer,
  waitFor,
} from '../helpers/producer.ts';
import { SIM_ACCOUNTS, startTestSimulator } from '../helpers/simulator.ts';

const A = SIM_ACCOUNTS[0] as (typeof SIM_ACCOUNTS)[0];
const B = SIM_ACCOUNTS[1] as (typeof SIM_ACCOUNTS)[0];
const cleanups = cleanupAfterEach();

async function sim(overrides: Partial<SimulatorOptions>): Promise<RunningSimulator> {
  const s = await startTestSimulator(overrides);
  cleanups.push(() => s.close());
  return s;
}

async function producer(env: Record<string, string>) {
  const started = await startTestProducer(env);
  cleanups.push(() => started.producer.stop());
  return started;
}

async function cursorReaches(port: number, login: string, id: number, timeoutMs = 90_000, atLeast = false) {
  await waitFor(
    `cursor ${id}`,
    async () => {
      const cursor = (await metricValue(port, 'cdr_cursor_id', { account: login })) ?? -1;
      return cursor === id || (atLeast && cursor > id) ? true : undefined;
    },
    timeoutMs,
  );
}

/** Every record of the topic up to its current end (the cursor was reached first, so all is committed). */
async function readRaw(kafka: Kafka, topic: string) {
  const received = await readTopics(kafka, [topic]);
  return received.map((r) => ({
    key: r.message.key?.toString(),
    cdr: decodeRaw(r.message),
    partition: r.partition,
  }));
}

describe('producer: feed to cdr.raw', () => {
  it('publishes every CDR exactly once with the feed values, keyed by billing group', async () => {
    const s = await sim({ historyRows: 3000, unknownShare: 0.05 });
    const env = producerEnv(s.url, A);
    const { producer: p, log } = await producer(env);
    await cursorReaches(p.ops.port, A.login, A.firstId + 2999);

    const records = await readRaw(testKafka(), env.TOPIC_RAW);
    expectEachIdOnce(
      records.map((r) => r.cdr.id),
      A.firstId,
      A.firstId + 3000 - 1,
    );
    const account = { login: A.login, firstId: A.firstId, index: 0 };
    for (const { key, cdr } of records) {
      const row = s.generator.row(account, cdr.id - A.firstId);
      expect(cdr).toMatchObject({
        account: row.account,
        billing_group: row.billing_group,
        billing_period: row.billing_period,
        start_time_text: row.start_time,
        from: row.from,
        to: row.to,
        seconds: Number(row.seconds),
        type: row.type,
        sub_type: row.sub_type,
        cost_text: row.cost,
        description: row.description,
        extra: { carrier_ref: row.carrier_ref },
      });
      expect(cdr.cost).toBe(canonicalCost(row.cost));
      if (row.start_time.includes('T')) expect(cdr.start_time).toBe(Date.parse(row.start_time));
      expect(key).toBe(row.billing_group === '' ? `account:${row.account}` : row.billing_group);
    }
    // The hard values really were in the feed: quotes, commas, line breaks, non-ASCII, credits.
    const descriptions = records.map((r) => r.cdr.description);
    expect(descriptions.some((d) => d.includes('\r\n') && d.includes('"'))).toBe(true);
    expect(descriptions.some((d) => d.includes('東京'))).toBe(true);
    expect(records.some((r) => r.cdr.cost.startsWith('-'))).toBe(true);
    // Same billing group, same partition.
    const partitions = new Map<string, Set<number>>();
    for (const r of records)
      partitions.set(r.key as string, (partitions.get(r.key as string) ?? new Set()).add(r.partition));
    for (const set of partitions.values()) expect(set.size).toBe(1);
    // Control records in the same transactions: their sum and running totals are cdr.raw's.
    await expectControlsMatchRaw(testKafka(), env);

    const metrics = await (await fetch(`http://127.0.0.1:${p.ops.port}/metrics`)).text();
    expect(await metricValue(p.ops.port, 'cdr_rows_published_total', { account: A.login })).toBe(3000);
    expect((await fetch(`http://127.0.0.1:${p.ops.port}/readyz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${p.ops.port}/healthz`)).status).toBe(200);
    // The password is nowhere: logs, metrics, records.
    expect(log.lines.join('\n')).not.toContain(A.password);
    expect(metrics).not.toContain(A.password);
    expect(records.some((r) => JSON.stringify(r.cdr).includes(A.password))).toBe(false);
  });

  it('keeps ids past 2^32 whole and resumes from the cursor as the feed grows', async () => {
    const s = await sim({ historyRows: 200, growthPerSecond: 100, epochMs: Date.now() });
    const env = producerEnv(s.url, B);
    const { producer: p } = await producer(env);
    await cursorReaches(p.ops.port, B.login, B.firstId + 399, 30_000, true);
    await p.stop();

    // A second run picks up at the committed cursor: no id twice, none missing.
    const second = await producer(env);
    await cursorReaches(second.producer.ops.port, B.login, B.firstId + 699, 30_000, true);
    await second.producer.stop();
    const cursorNow = (await readTopics(testKafka(), [env.TOPIC_CURSOR])).map(
      (r) => JSON.parse(r.message.value?.toString() ?? '{}') as { lastId: number },
    );
    const last = cursorNow[cursorNow.length - 1]?.lastId as number;
    const records = await readRaw(testKafka(), env.TOPIC_RAW);
    expectEachIdOnce(
      records.map((r) => r.cdr.id),
      B.firstId,
      B.firstId + last - B.firstId + 1 - 1,
    );
    expect(records.some((r) => r.cdr.id === 5_000_000_000_000)).toBe(true);
  });

  it('dead-letters invalid rows with their reasons and publishes the rows after them', async () => {
    const s = await sim({ historyRows: 2000, malformedShare: 0.05 });
    const env = producerEnv(s.url, A);
    const { producer: p } = await producer(env);
    await cursorReaches(p.ops.port, A.login, A.firstId + 1999);
    const dead = await metricValue(p.ops.port, 'cdr_rows_dead_lettered_total', { account: A.login });
    expect(dead).toBeGreaterThan(40);

    const kafka = testKafka();
    const records = await readRaw(kafka, env.TOPIC_RAW);
    const dlq = (await readTopics(kafka, [env.TOPIC_DLQ])).map(
      (r) => JSON.parse(r.message.value?.toString() ?? '') as Record<string, string | number>,
    );
    expect(dlq).toHaveLength(dead as number);
    const published = new Set(records.map((r) => r.cdr.id));
    const deadIds = dlq.map((d) => Number(d.id));
    // Every id exactly once across cdr.raw and cdr.dlq.
    expect(published.size + deadIds.length).toBe(2000);
    for (const id of deadIds) expect(published.has(id)).toBe(false);
    for (const d of dlq) {
      expect(d.errorCode).toBe('CDR_ROW_INVALID');
      expect(['seconds', 'billing_period', 'cost', 'start_time', 'account', '(row)']).toContain(d.field);
      expect(String(d.reason)).toContain(`id ${d.id}`);
      expect(String(d.raw)).toContain(String(d.id));
      expect(d.account).toBe(A.login);
      expect(JSON.stringify(d)).not.toContain(A.password);
    }
    expect(new Set(dlq.map((d) => d.field)).size).toBeGreaterThanOrEqual(4);
  });
});

describe('producer: feed faults', () => {
  it('backs off on 503 with Retry-After, then publishes everything once', async () => {
    const s = await sim({
      historyRows: 1000,
      faults: { latencyMs: 0, rules: [{ kind: 'status', status: 503, retryAfterSeconds: 1, count: 2 }] },
    });
    const env = producerEnv(s.url, A);
    const { producer: p, log } = await producer(env);
    await cursorReaches(p.ops.port, A.login, A.firstId + 999);
    const failures = log.entries().filter((e) => e.msg === 'poll failed');
    expect(failures.map((e) => [e.code, e.retryInMs])).toEqual([
      ['CDR_FEED_UNAVAILABLE', 1000],
      ['CDR_FEED_UNAVAILABLE', 1000],
    ]);
    expect(await metricValue(p.ops.port, 'cdr_feed_errors_total', { kind: 'CDR_FEED_UNAVAILABLE' })).toBe(2);
    const records = await readRaw(testKafka(), env.TOPIC_RAW);
    expectEachIdOnce(
      records.map((r) => r.cdr.id),
      A.firstId,
      A.firstId + 1000 - 1,
    );
  });

  it('treats 401 as an auth failure: not ready, cursor untouched, slow retries, no password anywhere', async () => {
    const s = await sim({ historyRows: 100 });
    const env = producerEnv(
      s.url,
      { login: A.login, password: 'a-wrong-password-xyz' },
      { FEED_AUTH_RETRY_MS: '700' },
    );
    const { producer: p, log } = await producer(env);
    await waitFor('two auth failures', () => (s.stats.requests >= 2 ? true : undefined), 10_000);
    const ready = await fetch(`http://127.0.0.1:${p.ops.port}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({
      accounts: [{ account: A.login, authFailing: true, lastError: 'CDR_FEED_AUTH' }],
    });
    const failures = log.entries().filter((e) => e.msg === 'poll failed');
    expect(failures.every((e) => e.code === 'CDR_FEED_AUTH' && e.retryInMs === 700)).toBe(true);
    expect(await metricValue(p.ops.port, 'cdr_rows_published_total', { account: A.login })).toBeUndefined();
    // Only the claim of the account at start was written to the cursor topic: one record at the
    // start position, no rows (end offset 2: the record and its commit marker, an exact check, not
    // a read that would also pass when it fetched nothing).
    const admin = testKafka().admin();
    await admin.connect();
    const offsets = await topicOffsets(admin, env.TOPIC_CURSOR);
    await admin.disconnect();
    expect(offsets.map((o) => o.high)).toEqual(['2']);
    const cursors = (await readTopics(testKafka(), [env.TOPIC_CURSOR])).map((r) =>
      JSON.parse(r.message.value?.toString() ?? '{}'),
    );
    expect(cursors).toMatchObject([{ account: A.login, lastId: 0, rows: 0 }]);
    const metrics = await (await fetch(`http://127.0.0.1:${p.ops.port}/metrics`)).text();
    for (const text of [log.lines.join('\n'), metrics]) expect(text).not.toContain('a-wrong-password-xyz');
  });

  it('rejects an HTML page sent with status 200 and recovers on the next poll', async () => {
    const s = await sim({ historyRows: 800, faults: { latencyMs: 0, rules: [{ kind: 'html', count: 1 }] } });
    const env = producerEnv(s.url, A);
    const { producer: p } = await producer(env);
    await cursorReaches(p.ops.port, A.login, A.firstId + 799);
    expect(await metricValue(p.ops.port, 'cdr_feed_errors_total', { kind: 'CDR_FEED_NOT_CSV' })).toBe(1);
    const records = await readRaw(testKafka(), env.TOPIC_RAW);
    expectEachIdOnce(
      records.map((r) => r.cdr.id),
      A.firstId,
      A.firstId + 800 - 1,
    );
  });

  it('keeps the rows received before a body cut mid-row, then resumes from the cursor', async () => {
    const s = await sim({
      historyRows: 3000,
      faults: { latencyMs: 0, rules: [{ kind: 'truncate', afterRows: 1700, count: 1 }] },
    });
    const env = producerEnv(s.url, A);
    const { producer: p, log } = await producer(env);
    await cursorReaches(p.ops.port, A.login, A.firstId + 2999);
    expect(await metricValue(p.ops.port, 'cdr_feed_errors_total', { kind: 'CDR_FEED_NETWORK' })).toBe(1);
    // The first poll committed the rows before the cut; the second asked from there.
    const committed = log.entries().filter((e) => e.msg === 'poll committed');
    expect(committed.length).toBeGreaterThanOrEqual(1);
    const records = await readRaw(testKafka(), env.TOPIC_RAW);
    expectEachIdOnce(
      records.map((r) => r.cdr.id),
      A.firstId,
      A.firstId + 3000 - 1,
    );
  });

  it('times out a body that goes idle and resumes from the cursor', async () => {
    const s = await sim({
      historyRows: 1500,
      faults: { latencyMs: 0, rules: [{ kind: 'stall', afterRows: 600, stallMs: 3000, count: 1 }] },
    });
    const env = producerEnv(s.url, A, { FEED_BODY_IDLE_TIMEOUT_MS: '500' });
    const { producer: p } = await producer(env);
    await cursorReaches(p.ops.port, A.login, A.firstId + 1499);
    expect(await metricValue(p.ops.port, 'cdr_feed_errors_total', { kind: 'CDR_FEED_TIMEOUT' })).toBe(1);
    const records = await readRaw(testKafka(), env.TOPIC_RAW);
    expectEachIdOnce(
      records.map((r) => r.cdr.id),
      A.firstId,
      A.firstId + 1500 - 1,
    );
  });
});

describe('producer: start checks and odd feeds', () => {
  it('refuses to start on a cursor topic that is not compacted', async () => {
    const s = await sim({ historyRows: 10 });
    const env = producerEnv(s.url, A);
    const admin = testKafka().admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic: env.TOPIC_CURSOR,
          numPartitions: 1,
          replicationFactor: 1,
          configEntries: [{ name: 'cleanup.policy', value: 'delete' }],
        },
      ],
    });
    await admin.disconnect();
    const failure = await startTestProducer(env).then(
      () => undefined,
      (err: unknown) => err as CdrError,
    );
    expect(failure?.code).toBe('CDR_TOPIC_MISCONFIGURED');
    expect(failure?.message).toContain(env.TOPIC_CURSOR);
  });

  it('counts and logs ids that go backwards, and never publishes an id twice', async () => {
    // A feed that repeats ids out of order: 1, 2, 3, then 2 again, then 4.
    const header =
      'id,account,billing_group,billing_period,start_time,from,to,seconds,type,sub_type,cost,description\n';
    const row = (id: number) =>
      `${id},40021,Sales,2026-11,2026-11-03T09:15:02+11:00,6129,6141,60,M,M,0.5,call ${id}\n`;
    // Only the first response goes backwards; later polls (from the cursor, 4) get row 4 alone,
    // as the contract's inclusive fromid says, so the skip counted below is that one row.
    let requests = 0;
    const server = createServer((_req, res) => {
      requests++;
      res.writeHead(200, { 'content-type': 'text/csv' });
      res.end(header + (requests === 1 ? [1, 2, 3, 2, 4] : [4]).map(row).join(''));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const env = producerEnv(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, A);
    const { producer: p, log } = await producer(env);
    await cursorReaches(p.ops.port, A.login, 4, 30_000);
    await waitFor('a later poll', () => (requests >= 3 ? true : undefined), 10_000);
    const records = await readRaw(testKafka(), env.TOPIC_RAW);
    expectEachIdOnce(
      records.map((r) => r.cdr.id),
      1,
      4,
    );
    expect(await metricValue(p.ops.port, 'cdr_rows_skipped_total', { account: A.login })).toBe(1);
    expect(log.entries().some((e) => e.msg === 'rows with ids not above the cursor were skipped')).toBe(true);
  });

  it('reads the cursor topic once for all accounts, skips a record that is not a cursor, and creates topics with their settings', async () => {
    const s = await sim({ historyRows: 300 });
    const dir = mkdtempSync(join(tmpdir(), 'accounts-'));
    const file = join(dir, 'accounts.json');
    writeFileSync(file, JSON.stringify([A, B].map((a) => ({ login: a.login, password: a.password }))));
    const env = producerEnv(s.url, A, { FEED_ACCOUNTS_FILE: file });
    delete (env as Partial<typeof env>).FEED_LOGIN;
    // A record in the cursor topic that is not a cursor (a hand-written mistake, another tool).
    const kafka = testKafka();
    const admin = kafka.admin();
    await admin.connect();
    cleanups.push(() => admin.disconnect());
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic: env.TOPIC_CURSOR,
          numPartitions: 1,
          replicationFactor: 1,
          configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
        },
      ],
    });
    const writer = kafka.producer();
    await writer.connect();
    await writer.send({
      topic: env.TOPIC_CURSOR,
      messages: [
        { key: A.login, value: 'not json {' },
        { key: B.login, value: '{"account":"40022"}' },
      ],
    });
    await writer.disconnect();

    const { producer: p, log } = await producer(env);
    await cursorReaches(p.ops.port, A.login, A.firstId + 299);
    await cursorReaches(p.ops.port, B.login, B.firstId + 299);
    const skipped = log.entries().filter((e) => e.msg === 'skipped a cursor record that is not a cursor');
    expect(skipped.map((e) => e.offset)).toEqual(['0', '1']);
    // One read at start for both accounts: one throwaway group of this producer's cursor reads.
    const groups = (await admin.listGroups()).groups.filter((g) =>
      g.groupId.startsWith(`${env.TRANSACTIONAL_ID_PREFIX}-cursor-read`),
    );
    expect(groups).toHaveLength(1);

    const config = async (topic: string, names: string[]) => {
      const { resources } = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: 2, name: topic, configNames: names }],
      });
      return Object.fromEntries(
        (resources[0]?.configEntries ?? []).map((e) => [e.configName, e.configValue]),
      );
    };
    expect(await config(env.TOPIC_RAW, ['min.insync.replicas', 'retention.ms'])).toEqual({
      'min.insync.replicas': '1',
      'retention.ms': String(400 * 24 * 3600 * 1000),
    });
    expect(await config(env.TOPIC_DLQ, ['retention.ms'])).toEqual({
      'retention.ms': String(90 * 24 * 3600 * 1000),
    });
  });

  it('creates the cursor topic with settings that let compaction run', async () => {
    const s = await sim({ historyRows: 10 });
    const env = producerEnv(s.url, A);
    const { producer: p } = await producer(env);
    await cursorReaches(p.ops.port, A.login, A.firstId + 9);
    const admin = testKafka().admin();
    await admin.connect();
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: 2, name: env.TOPIC_CURSOR, configNames: Object.keys(CURSOR_TOPIC_CONFIG) }],
    });
    await admin.disconnect();
    const got = Object.fromEntries(
      (resources[0]?.configEntries ?? []).map((e) => [e.configName, e.configValue]),
    );
    expect(got).toEqual(CURSOR_TOPIC_CONFIG);
  });

  it('stops at once, without retries, when the registry refuses the schema as incompatible (409)', async () => {
    const s = await sim({ historyRows: 10 });
    const env = producerEnv(s.url, A);
    // An earlier "version" of the subject that today's schema cannot read under BACKWARD rules:
    // today's required fields have no defaults.
    const registry = new SchemaRegistry({ host: inject('registryUrl') });
    const older = {
      type: 'record',
      name: 'CdrRaw',
      namespace: 'cdr',
      fields: [{ name: 'legacy', type: 'string' }],
    };
    await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(older) },
      { subject: `${env.TOPIC_RAW}-value`, compatibility: COMPATIBILITY.BACKWARD },
    );
    const started = Date.now();
    const failure = await startTestProducer(env).then(
      () => undefined,
      (err: unknown) => err as CdrError,
    );
    expect(failure?.code).toBe('CDR_SCHEMA_INCOMPATIBLE');
    expect(failure?.message).toContain(`${env.TOPIC_RAW}-value`);
    // retryStartup's 8 attempts would take well over 10 s.
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('stays ready during a long backfill: progress is commits, not finished polls', async () => {
    const rows = 400_000;
    const s = await sim({ historyRows: rows });
    const env = producerEnv(s.url, A, {
      READY_POLL_STALE_MS: '1000',
      BATCH_MAX_ROWS: '2000',
      LOG_LEVEL: 'info',
      LOG_PROGRESS: 'false',
    });
    const { producer: p } = await producer(env);
    await waitFor('the backfill under way', async () => {
      const c = (await metricValue(p.ops.port, 'cdr_cursor_id', { account: A.login })) ?? 0;
      return c >= A.firstId + 20_000 ? true : undefined;
    });
    // Longer than READY_POLL_STALE_MS into the one poll, which has not finished.
    await waitFor('the poll running past READY_POLL_STALE_MS', async () =>
      Date.now() - (s.stats.log[0]?.at ?? Date.now()) > 1500 ? true : undefined,
    );
    const during = await fetch(`http://127.0.0.1:${p.ops.port}/readyz`);
    const cursor = (await metricValue(p.ops.port, 'cdr_cursor_id', { account: A.login })) as number;
    expect(cursor).toBeLessThan(A.firstId + rows - 1);
    expect(s.stats.requests).toBe(1);
    expect(during.status).toBe(200);
  });
});
