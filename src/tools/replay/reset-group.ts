// `cdr-pipeline replay reset-group`: moves a downstream consumer group's committed offsets on a
// CDR topic, as `kafka-consumer-groups --reset-offsets` does, showing per partition the current and
// the new offset and the records in between before anything moves; refused while the group has
// members; applied only with --execute. Never touches the producer's cursor.
//
// Record timestamps are ingest times, not call times: a billing period's CDRs can arrive after the
// period ends (late CDRs). So `--to 2026-11` is not "the first of November": it is, per partition,
// the first offset at which a CDR of that period appears: looked up in the period index (the
// producer's control records) when it covers the topic, else found by a bounded scan.
import type { Admin, Kafka } from 'kafkajs';
import type { RegistryOptions } from '../../codec/registry.ts';
import { CdrError, ErrorCodes } from '../../errors.ts';
import { topicOffsets, topicOffsetsAt } from '../../kafka/offsets.ts';
import { periodIndex } from '../../topics/control-read.ts';
import { scan } from '../read/scan.ts';

async function topicExists(admin: Admin, topic: string): Promise<boolean> {
  return (await admin.listTopics()).includes(topic);
}

export type ResetTarget =
  | { kind: 'earliest' }
  | { kind: 'instant'; at: number }
  | { kind: 'period'; period: string };

export interface ResetPlan {
  group: string;
  topic: string;
  to: string;
  state: string;
  members: number;
  partitions: Array<{ partition: number; current: string | null; target: string; between: number }>;
  /** For a billing period: where the offsets came from. */
  found?: 'period index' | 'scan';
}

export async function planReset(
  kafka: Kafka,
  registry: RegistryOptions,
  options: { group: string; topic: string; target: ResetTarget; label: string; totalsTopic: string },
): Promise<ResetPlan> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    if (!(await admin.listTopics()).includes(options.topic))
      throw new CdrError(
        ErrorCodes.CONFIG_INVALID,
        `invalid option: --topic: ${options.topic} does not exist`,
      );
    const ends = await topicOffsets(admin, options.topic);
    const [committed] = await admin.fetchOffsets({ groupId: options.group, topics: [options.topic] });
    const { groups } = await admin.describeGroups([options.group]);
    const info = groups[0];
    let targets: Map<number, string>;
    let found: ResetPlan['found'];
    if (options.target.kind === 'earliest') {
      targets = new Map(ends.map((e) => [e.partition, e.low]));
    } else if (options.target.kind === 'instant') {
      const byTime = await topicOffsetsAt(admin, options.topic, options.target.at);
      // No record at or after the instant: the end of the partition.
      targets = new Map(
        [...byTime].map(([partition, offset]) => [
          partition,
          offset === '-1' ? (ends.find((e) => e.partition === partition)?.high as string) : offset,
        ]),
      );
    } else {
      const lows = new Map(ends.filter((e) => e.high !== e.low).map((e) => [e.partition, BigInt(e.low)]));
      const index = (await topicExists(admin, options.totalsTopic))
        ? await periodIndex(
            kafka,
            registry,
            options.totalsTopic,
            options.topic,
            new Set([options.target.period]),
            lows,
          )
        : { complete: false, starts: new Map<number, bigint>() };
      found = index.complete ? 'period index' : 'scan';
      targets = index.complete
        ? new Map([...index.starts].map(([p, at]) => [p, String(at)]))
        : await firstOffsetsOfPeriod(kafka, registry, options.topic, options.target.period);
      for (const e of ends) if (!targets.has(e.partition)) targets.set(e.partition, e.high);
    }
    return {
      group: options.group,
      topic: options.topic,
      to: options.label,
      state: info?.state ?? 'Unknown',
      members: info?.members.length ?? 0,
      partitions: ends
        .map((e) => {
          const c = committed?.partitions.find((p) => p.partition === e.partition)?.offset;
          const current = c === undefined || c === '-1' ? null : c;
          const target = targets.get(e.partition) as string;
          // Records the group reads again (positive) or skips (negative) once moved.
          const between = Number(BigInt(current ?? e.low) - BigInt(target));
          return { partition: e.partition, current, target, between };
        })
        .sort((a, b) => a.partition - b.partition),
      ...(found ? { found } : {}),
    };
  } finally {
    await admin.disconnect();
  }
}

/** Per partition, the offset of the first record of `period` (records of other periods before it). */
async function firstOffsetsOfPeriod(
  kafka: Kafka,
  registry: RegistryOptions,
  topic: string,
  period: string,
): Promise<Map<number, string>> {
  const first = new Map<number, string>();
  await scan(kafka, {
    topics: [topic],
    registry,
    keep: (c) => c.billing_period === period,
    onMatch: (_c, at) => {
      const seen = first.get(at.partition);
      if (seen === undefined || BigInt(at.offset) < BigInt(seen)) first.set(at.partition, at.offset);
    },
  });
  return first;
}

export async function executeReset(kafka: Kafka, plan: ResetPlan): Promise<void> {
  if (plan.members > 0) {
    throw new CdrError(
      ErrorCodes.REFUSED,
      `group ${plan.group} has ${plan.members} active member(s) (${plan.state}): stop its consumers first; offsets of a live group cannot be moved`,
      { details: { group: plan.group, members: plan.members } },
    );
  }
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.setOffsets({
      groupId: plan.group,
      topic: plan.topic,
      partitions: plan.partitions.map((p) => ({ partition: p.partition, offset: p.target })),
    });
  } finally {
    await admin.disconnect();
  }
}
