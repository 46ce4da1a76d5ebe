// replay reset-group on a real group: a plan first, refused while the group is live, then a
// consumer re-reads exactly from the first ingested CDR of a billing period in each partition.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, inject, it } from 'vitest';
import { topicOffsets } from '../../src/kafka/offsets.ts';
import { cleanupAfterEach } from '../helpers/cleanups.ts';
import { runCli } from '../helpers/cli-process.ts';
import { readTopics, testKafka, uniqueName } from '../helpers/kafka.ts';
import {
  cursorAt,
  decodeRaw,
  metricValue,
  producerEnv,
  startTestProducer,
  waitFor,
} from '../helpers/producer.ts';
import { SIM_ACCOUNTS, startTestSimulator } from '../helpers/simulator.ts';

const A = SIM_ACCOUNTS[0] as (typeof SIM_ACCOUNTS)[0];
const cleanups = cleanupAfterEach();

describe('replay reset-group', () => {
  it('moves a stopped group to a billing period, refuses a live one, and the group then reads exactly from there', async () => {
    // 3,000 calls 45 minutes apart: about three billing periods, and late CDRs of the period before.
    const s = await startTestSimulator({ historyRows: 3000, historySpacingMs: 45 * 60_000, lateShare: 0.05 });
    cleanups.push(() => s.close());
    const penv = producerEnv(s.url, A);
    const { producer } = await startTestProducer(penv);
    cleanups.push(() => producer.stop());
    await waitFor('all published', async () =>
      (await metricValue(producer.ops.port, 'cdr_cursor_id', { account: A.login })) === A.firstId + 2999
        ? true
        : undefined,
    );
    await producer.stop();
    const kafka = testKafka();
    const records = (await readTopics(kafka, [penv.TOPIC_RAW])).map((r) => ({
      at: `${r.partition}:${r.message.offset}`,
      partition: r.partition,
      offset: BigInt(r.message.offset),
      period: decodeRaw(r.message).billing_period,
    }));
    const periods = [...new Set(records.map((r) => r.period))].sort();
    expect(periods.length).toBeGreaterThanOrEqual(3);
    const period = periods[1] as string;

    // A billing system's group has read everything.
    const group = uniqueName('billing');
    const consumer = kafka.consumer({ groupId: group, maxWaitTimeInMs: 100 });
    await consumer.connect();
    cleanups.push(() => consumer.disconnect());
    await consumer.subscribe({ topic: penv.TOPIC_RAW, fromBeginning: true });
    let read = 0;
    await consumer.run({ eachMessage: async () => void read++ });
    await waitFor('group caught up', () => (read >= 3000 ? true : undefined));
    const admin = kafka.admin();
    await admin.connect();
    cleanups.push(() => admin.disconnect());
    const committed = async () =>
      new Map(
        ((await admin.fetchOffsets({ groupId: group, topics: [penv.TOPIC_RAW] }))[0]?.partitions ?? []).map(
          (p) => [p.partition, p.offset],
        ),
      );
    const ends = new Map((await topicOffsets(admin, penv.TOPIC_RAW)).map((o) => [o.partition, o.high]));
    await waitFor('offsets committed', async () => {
      const c = await committed();
      return [...ends].every(([p, high]) => Number(c.get(p)) >= Number(high) - 1) ? true : undefined;
    });

    const env = {
      KAFKA_BROKERS: inject('brokers'),
      SCHEMA_REGISTRY_URL: inject('registryUrl'),
      TOPIC_RAW: penv.TOPIC_RAW,
      TOPIC_CONTROL_TOTALS: penv.TOPIC_CONTROL_TOTALS,
    };
    const args = ['replay', 'reset-group', '--group', group, '--to', period];
    const refused = await runCli([...args, '--execute'], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/has 1 active member/);
    await consumer.disconnect();
    await waitFor('group empty', async () =>
      (await admin.describeGroups([group])).groups[0]?.state === 'Empty' ? true : undefined,
    );

    // The plan: nothing moves without --execute.
    const before = await committed();
    const dry = await runCli([...args, '--json'], env);
    expect(dry.code, dry.stderr).toBe(0);
    const plan = JSON.parse(dry.stdout) as {
      executed: boolean;
      found: string;
      partitions: Array<{ partition: number; current: string; target: string; between: number }>;
    };
    expect(plan.executed).toBe(false);
    // Looked up in the control records; a bounded scan (no control records) finds the same offsets.
    expect(plan.found).toBe('period index');
    const scanned = await runCli([...args, '--json'], {
      ...env,
      TOPIC_CONTROL_TOTALS: `${penv.TOPIC_CONTROL_TOTALS}-none`,
    });
    expect(JSON.parse(scanned.stdout)).toMatchObject({ found: 'scan', partitions: plan.partitions });
    expect(await committed()).toEqual(before);
    // Per partition: the first record of the period, and the records read again from there.
    for (const p of plan.partitions) {
      const inPartition = records.filter((r) => r.partition === p.partition);
      const first = inPartition.find((r) => r.period === period);
      expect(p.target, `partition ${p.partition}`).toBe(String(first?.offset ?? ends.get(p.partition)));
      expect(p.between).toBe(Number(BigInt(p.current) - BigInt(p.target)));
    }
    const table = await runCli(args, env);
    expect(table.stdout).toContain('nothing moved: --execute applies this plan');

    const done = await runCli([...args, '--execute', '--json'], env);
    expect(done.code, done.stderr).toBe(0);
    const after = await committed();
    for (const p of plan.partitions) expect(after.get(p.partition)).toBe(p.target);

    // The group reads again exactly the records from there: every CDR of the period, the late ones too.
    const again = kafka.consumer({ groupId: group, maxWaitTimeInMs: 100 });
    await again.connect();
    cleanups.push(() => again.disconnect());
    await again.subscribe({ topic: penv.TOPIC_RAW, fromBeginning: true });
    const reread: string[] = [];
    await again.run({
      eachMessage: async ({ partition, message }) => void reread.push(`${partition}:${message.offset}`),
    });
    const expected = records.filter(
      (r) => r.offset >= BigInt(plan.partitions.find((p) => p.partition === r.partition)?.target as string),
    );
    await waitFor('re-read', () => (reread.length >= expected.length ? true : undefined));
    expect(reread.sort()).toEqual(expected.map((r) => r.at).sort());
    const ofPeriod = new Set(records.filter((r) => r.period === period).map((r) => r.at));
    for (const at of ofPeriod) expect(reread).toContain(at);

    const bad = await runCli(['replay', 'reset-group', '--group', group, '--to', 'last week'], env);
    expect(bad.code).toBe(2);
  });

  it('copies matching records exactly once to a target topic, resuming after SIGKILL without duplicates', async () => {
    const rows = 200_000;
    const s = await startTestSimulator({ historyRows: rows });
    cleanups.push(() => s.close());
    const penv = producerEnv(s.url, A, { BATCH_MAX_ROWS: '5000', LOG_PROGRESS: 'false', LOG_LEVEL: 'info' });
    const { producer } = await startTestProducer(penv);
    cleanups.push(() => producer.stop());
    await cursorAt(producer.ops.port, A.login, A.firstId + rows - 1, 120_000);
    await producer.stop();
    const kafka = testKafka();
    const source = await readTopics(kafka, [penv.TOPIC_RAW]);
    const expected = new Map(
      source
        .filter((r) => (decodeRaw(r.message).seconds as number) >= 600)
        .map((r) => [`${r.partition}:${r.message.offset}`, r.message.value?.toString('base64')]),
    );
    expect(expected.size).toBeGreaterThan(rows / 2);

    const target = uniqueName('billing-replay');
    const env = {
      KAFKA_BROKERS: inject('brokers'),
      SCHEMA_REGISTRY_URL: inject('registryUrl'),
      TOPIC_RAW: penv.TOPIC_RAW,
      TOPIC_REPLAY: `${penv.TOPIC_RAW}.replay`,
    };
    const args = [
      'replay',
      'copy',
      '--to-topic',
      target,
      '--replay-id',
      'month-end-1',
      '--seconds-min',
      '600',
    ];
    const first = spawn(process.execPath, ['src/cli.ts', ...args], {
      env: { ...process.env, ...env },
      stdio: 'ignore',
    });
    cleanups.push(async () => void (first.exitCode === null && first.kill('SIGKILL')));
    const admin = kafka.admin();
    await admin.connect();
    cleanups.push(() => admin.disconnect());
    const written = async () =>
      (await admin.listTopics()).includes(target)
        ? (await topicOffsets(admin, target)).reduce((n, o) => n + Number(o.high), 0)
        : 0;
    await waitFor('the copy under way', async () => ((await written()) > 5000 ? true : undefined), 60_000);
    first.kill('SIGKILL');
    const [code, signal] = (await once(first, 'exit')) as [number | null, string | null];
    expect([code, signal]).toEqual([null, 'SIGKILL']);
    // Killed mid-copy: the target does not hold everything yet.
    expect(await written()).toBeLessThan(expected.size);

    const second = await runCli(args, env);
    expect(second.code, second.stderr).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({ replayId: 'month-end-1', resumed: true });

    const copies = await readTopics(kafka, [target]);
    const seen = new Set<string>();
    for (const c of copies) {
      const h = c.message.headers ?? {};
      const at = `${h['cdr-source-partition']?.toString()}:${h['cdr-source-offset']?.toString()}`;
      expect(h['cdr-replay-id']?.toString()).toBe('month-end-1');
      expect(h['cdr-source-topic']?.toString()).toBe(penv.TOPIC_RAW);
      expect(seen.has(at), `${at} copied twice`).toBe(false);
      seen.add(at);
      // Unchanged: the same bytes as the source record.
      expect(c.message.value?.toString('base64')).toBe(expected.get(at));
    }
    expect(seen.size).toBe(expected.size);

    // Another run with other criteria under the same id is refused.
    const other = await runCli(['replay', 'copy', '--to-topic', target, '--replay-id', 'month-end-1'], env);
    expect(other.code).toBe(1);
    expect(other.stderr).toContain('re-run it the same way');
  });
});
