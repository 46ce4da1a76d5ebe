// The pipeline's topics (their settings: topics/specs.ts), created at start when missing. An existing topic with the wrong cleanup
// policy is a start error: a compacted cdr.raw would silently drop CDRs sharing a billing group,
// and a cursor topic that is not compacted grows without bound.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { CdrError, ErrorCodes } from '../errors.ts';
import { retryStartup } from '../ops/retry.ts';
import { type ClientIdentity, rethrowAccess } from './access.ts';
import type { AclOperation } from './acls.ts';
import { kafkaIdentity } from './client.ts';

export interface TopicSpec {
  topic: string;
  numPartitions: number;
  replicationFactor: number;
  cleanupPolicy: 'delete' | 'compact';
  /** Topic configs set at creation (retention, min.insync.replicas, compaction...). */
  config: Record<string, string>;
}

export async function ensureTopics(
  admin: Admin,
  specs: readonly TopicSpec[],
  who?: ClientIdentity,
): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const missing = specs.filter((s) => !existing.has(s.topic));
  // A topic this client may not Describe is missing to it: its creation is refused as unauthorised.
  const refused = (operation: AclOperation, names: readonly string[]) => (err: unknown) =>
    rethrowAccess(err, who, { topic: { operation, names } });
  if (missing.length > 0) {
    await admin
      .createTopics({
        waitForLeaders: true,
        topics: missing.map((s) => ({
          topic: s.topic,
          numPartitions: s.numPartitions,
          replicationFactor: s.replicationFactor,
          configEntries: [
            { name: 'cleanup.policy', value: s.cleanupPolicy },
            ...Object.entries(s.config).map(([name, value]) => ({ name, value })),
          ],
        })),
      })
      .catch(
        refused(
          'Create',
          missing.map((s) => s.topic),
        ),
      );
  }
  const present = specs.filter((s) => existing.has(s.topic));
  if (present.length > 0) {
    const { resources } = await admin
      .describeConfigs({
        includeSynonyms: false,
        resources: present.map((s) => ({
          type: 2 /* TOPIC */,
          name: s.topic,
          configNames: ['cleanup.policy'],
        })),
      })
      .catch(
        refused(
          'DescribeConfigs',
          present.map((s) => s.topic),
        ),
      );
    for (const r of resources) {
      const spec = present.find((s) => s.topic === r.resourceName) as TopicSpec;
      const policy = r.configEntries.find((e) => e.configName === 'cleanup.policy')?.configValue ?? 'delete';
      if (
        policy
          .split(',')
          .map((p) => p.trim())
          .sort()
          .join(',') !== spec.cleanupPolicy
      ) {
        throw new CdrError(
          ErrorCodes.TOPIC_MISCONFIGURED,
          `topic ${spec.topic} has cleanup.policy=${policy}; the pipeline needs cleanup.policy=${spec.cleanupPolicy}`,
          { details: { topic: spec.topic, policy } },
        );
      }
    }
  }
  return missing.map((s) => s.topic);
}

/**
 * Creates the missing topics and checks the existing ones, retrying while Kafka is not ready.
 * With `waitFor`, first waits (without limit) until that topic exists: an enricher that starts
 * before the producer waits for cdr.raw.
 */
export async function setUpTopics(
  kafka: Kafka,
  specs: readonly TopicSpec[],
  log: Logger,
  waitFor?: string,
): Promise<void> {
  await retryStartup(
    'creating topics',
    async () => {
      const admin = kafka.admin();
      await admin.connect();
      try {
        // A wait without limit for another process (the producer creates cdr.raw), not a retry.
        for (let waited = 0; waitFor && !(await admin.listTopics()).includes(waitFor); waited += 1000) {
          if (waited % 10_000 === 0)
            log.info(
              { topic: waitFor },
              'waiting for the input topic to exist (and to be one this client may Describe)',
            );
          await sleep(1000);
        }
        const created = await ensureTopics(admin, specs, kafkaIdentity(kafka));
        if (created.length > 0) log.info({ topics: created }, 'topics created');
      } finally {
        await admin.disconnect();
      }
    },
    log,
  );
}

/** The topic's max.message.bytes: the largest record batch, so the largest record, it takes. */
export async function topicMaxMessageBytes(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: 2 /* TOPIC */, name: topic, configNames: ['max.message.bytes'] }],
    });
    const value = resources[0]?.configEntries.find((e) => e.configName === 'max.message.bytes')?.configValue;
    return value === undefined ? 1_048_588 : Number(value);
  } finally {
    await admin.disconnect();
  }
}

/** How many partitions the topic has now. */
export async function topicPartitionCount(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    const n = topics[0]?.partitions.length ?? 0;
    if (n === 0) throw new Error(`${topic} has no partitions in the metadata yet`);
    return n;
  } finally {
    await admin.disconnect();
  }
}
