// The Kafka client on three brokers: transactional sends to partitions led by different brokers,
// right after one another (so AddPartitionsToTxn meets CONCURRENT_TRANSACTIONS while the last
// commit's markers are written), while a leader is killed and comes back. kafkajs 2.2.4 doubled
// records here (its retry sent again, with new sequence numbers, requests still in flight to other
// brokers) and lost some (partitions that moved to a broker that had already answered were never
// sent); patches/kafkajs+2.2.4.patch makes a transactional send all or nothing, and
// TransactionalSender aborts on any failure. Read back with kcat: every record exactly once.
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import pino from 'pino';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import {
  groupCoordinator,
  leaderOf,
  startNode,
  stopNode,
  waitClusterHealthy,
} from '../../scripts/stack/cluster.ts';
import { kcatReadCommitted } from '../../scripts/stack/kcat.ts';
import { sleep } from '../../scripts/stack/processes.ts';
import { createKafka } from '../../src/kafka/client.ts';
import { consumeGroup, type GroupConsumer } from '../../src/kafka/group-consumer.ts';
import { TransactionalSender } from '../../src/kafka/transactions.ts';
import { clusterKafka, clusterUp } from '../helpers/cluster.ts';
import { waitFor } from '../helpers/producer.ts';

const PARTITIONS = 6;
/** The rejoin test's group sessions (the broker allows up to 30 min). */
const SESSION_MS = 120_000;

beforeAll(clusterUp);

describe('client conformance on three brokers', () => {
  it('sends to partitions of several leaders while a leader moves and AddPartitionsToTxn answers CONCURRENT_TRANSACTIONS: every record once', async () => {
    const topic = `conform-leaders-${randomUUID().slice(0, 8)}`;
    const admin = clusterKafka().admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 3 }],
    });
    await admin.disconnect();

    // kafkajs's own debug lines say when AddPartitionsToTxn was answered CONCURRENT_TRANSACTIONS.
    let concurrent = 0;
    const kafka = new Kafka({
      clientId: 'conformance',
      brokers: inject('clusterBrokers').split(','),
      logLevel: logLevel.DEBUG,
      logCreator: () => (entry) => {
        const text = `${entry.log.message} ${String(entry.log.error ?? '')}`;
        if (/AddPartitionsToTxn/.test(text) && /concurrent/i.test(text)) concurrent++;
      },
    });
    const sender = new TransactionalSender(kafka, {
      transactionalId: `conformance-${randomUUID().slice(0, 8)}`,
      transactionTimeoutMs: 30_000,
    });

    const TRANSACTIONS = 300;
    let failed = 0;
    let moved: Promise<void> | undefined;
    for (let i = 0; i < TRANSACTIONS; i++) {
      if (i === 60) {
        // The leader of partition 0 killed while transactions go on; started again 10 s later.
        const node = await leaderOf(topic, 0);
        await stopNode(node, 'SIGKILL');
        moved = sleep(10_000).then(() => startNode(node));
      }
      // A failed transaction is aborted and done again, on a newly initialised producer.
      for (let attempt = 1; ; attempt++) {
        try {
          await sender.commit([
            {
              topic,
              messages: [...Array(PARTITIONS).keys()].map((p) => ({ partition: p, value: `${i}-${p}` })),
            },
          ]);
          break;
        } catch (err) {
          failed++;
          if (attempt > 60) throw err;
          // The client's own backoff between tries, as an application's would be.
          await sleep(500);
        }
      }
    }
    await moved;
    await sender.discard();
    await waitClusterHealthy();

    const seen = new Map<string, number>();
    for (const r of await kcatReadCommitted(inject('clusterBrokers'), topic)) {
      const v = r.value?.toString() ?? '';
      seen.set(v, (seen.get(v) ?? 0) + 1);
      expect(v.endsWith(`-${r.partition}`), `${v} in partition ${r.partition}`).toBe(true);
    }
    const twice = [...seen].filter(([, n]) => n > 1).map(([v]) => v);
    const missing: string[] = [];
    for (let i = 0; i < TRANSACTIONS; i++)
      for (let p = 0; p < PARTITIONS; p++) if (!seen.has(`${i}-${p}`)) missing.push(`${i}-${p}`);
    expect({ twice: twice.slice(0, 10), missing: missing.slice(0, 10) }).toEqual({ twice: [], missing: [] });
    expect(seen.size).toBe(TRANSACTIONS * PARTITIONS);
    // What the test is about happened: commits answered CONCURRENT_TRANSACTIONS, and transactions
    // failed while the leader moved.
    expect(concurrent).toBeGreaterThan(0);
    expect(failed).toBeGreaterThan(0);
  });

  it('group members that crashed while their coordinator was down rejoin without waiting out their old sessions', async () => {
    // kafkajs started a crashed consumer again as a new member (its LeaveGroup had gone to the
    // dead coordinator): the group kept the old member until its session timed out after the new
    // coordinator loaded the group, and the rebalance waited for it (enrichers resumed 46 s after
    // such a kill in the fault campaign). The patch rejoins with the member id the group knows (a
    // member whose LeaveGroup did reach the new coordinator joins as new: nothing is left behind).
    // Sessions of 120 s: the old behaviour cannot rejoin within the 60 s this test allows.
    const topic = `conform-rejoin-${randomUUID().slice(0, 8)}`;
    const groupId = `conform-rejoin-${randomUUID().slice(0, 8)}`;
    const admin = clusterKafka().admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic, numPartitions: 2, replicationFactor: 3 }],
    });
    const log = pino({ level: 'silent' });
    const kafka = createKafka(
      { clientId: 'conformance-rejoin', brokers: inject('clusterBrokers').split(',') },
      log,
    );
    const members: GroupConsumer[] = [];
    let killed: number | undefined;
    try {
      for (let i = 0; i < 2; i++) {
        members.push(
          await consumeGroup(
            kafka,
            { groupId, inputTopic: topic, sessionTimeoutMs: SESSION_MS },
            { assigned: () => {} },
            log,
            { eachBatch: async () => {} },
          ),
        );
      }
      const memberIds = async () => {
        const [group] = (await admin.describeGroups([groupId])).groups;
        return { state: group?.state, ids: (group?.members ?? []).map((m) => m.memberId).sort() };
      };
      const rejoined = async () => members.every((m) => m.joined()) && (await memberIds()).state === 'Stable';
      await waitFor('both members in a stable group', rejoined);
      const before = await memberIds();
      expect(before.ids).toHaveLength(2);

      killed = await groupCoordinator(groupId);
      await stopNode(killed, 'SIGKILL');
      // Both members lose their coordinator; kafkajs gives each up and it is started again.
      await waitFor('both members to lose the group', () => members.every((m) => !m.joined()), 60_000);
      await waitFor('both members back in a stable group', rejoined, SESSION_MS / 2);
      // Two members, the live ones: no old member left in the group.
      expect((await memberIds()).ids).toHaveLength(2);
    } finally {
      for (const m of members) await m.stop();
      if (killed !== undefined) await startNode(killed);
      await admin.disconnect();
      await waitClusterHealthy();
    }
  });
});
