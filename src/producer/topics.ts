// The producer's topics, created at start when missing. An existing topic with the wrong cleanup
// policy is a start error: a compacted cdr.raw would silently drop CDRs sharing a billing group,
// and a cursor topic that is not compacted grows without bound.
import type { Admin } from 'kafkajs';
import { CdrError, ErrorCodes } from '../errors.ts';

export interface TopicSpec {
  topic: string;
  numPartitions: number;
  replicationFactor: number;
  cleanupPolicy: 'delete' | 'compact';
  retentionMs?: number;
}

export async function ensureTopics(admin: Admin, specs: readonly TopicSpec[]): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const missing = specs.filter((s) => !existing.has(s.topic));
  if (missing.length > 0) {
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((s) => ({
        topic: s.topic,
        numPartitions: s.numPartitions,
        replicationFactor: s.replicationFactor,
        configEntries: [
          { name: 'cleanup.policy', value: s.cleanupPolicy },
          ...(s.retentionMs === undefined ? [] : [{ name: 'retention.ms', value: String(s.retentionMs) }]),
        ],
      })),
    });
  }
  const present = specs.filter((s) => existing.has(s.topic));
  if (present.length > 0) {
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: present.map((s) => ({
        type: 2 /* TOPIC */,
        name: s.topic,
        configNames: ['cleanup.policy'],
      })),
    });
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
