// `cdr-pipeline replay reset-group|copy`: replays for billing systems (the producer's cursor is
// never touched). Moving a group with members is refused (exit 1).
import type { Command } from 'commander';
import { zonedInstant } from '../cdr/time-zone.ts';
import { renderTable } from '../tools/read/table.ts';
import { copyRecords } from '../tools/replay/copy.ts';
import { executeReset, planReset, type ResetTarget } from '../tools/replay/reset-group.ts';
import type { CliContext } from './context.ts';
import { badOption, isBillingPeriod } from './options.ts';
import { type FilterOptions, filterText, readSetup, withFilterOptions } from './read-options.ts';
import { toolAction } from './run.ts';

interface ResetFlags {
  group: string;
  to: string;
  topic?: string;
  execute?: boolean;
  json?: boolean;
}

/** earliest, a billing period, or an instant with its zone. */
export function resetTarget(to: string): ResetTarget {
  if (to === 'earliest') return { kind: 'earliest' };
  if (isBillingPeriod(to)) return { kind: 'period', period: to };
  const at =
    zonedInstant(to) ?? badOption('--to', `"${to}" is not earliest, YYYY-MM, nor ISO 8601 with a zone`);
  return { kind: 'instant', at };
}

export function registerReplay(program: Command, ctx: CliContext): void {
  const replay = program
    .command('replay')
    .description("Replays for billing systems (the producer's cursor is never touched)");
  replay
    .command('reset-group')
    .description("Move a consumer group's offsets on a CDR topic: shows the plan; --execute applies it")
    .requiredOption('--group <id>', 'the consumer group')
    .requiredOption(
      '--to <where>',
      'earliest, an instant (ISO 8601 with a zone), or a billing period YYYY-MM (its first ingested CDR)',
    )
    .option('--topic <name>', 'the CDR topic (default TOPIC_RAW)')
    .option('--execute', 'move the offsets (refused while the group has members)')
    .option('--json', 'the plan as JSON')
    .action(toolAction('replay reset-group', (flags: ResetFlags) => resetGroup(ctx, flags)));
  withFilterOptions(
    replay
      .command('copy')
      .description(
        'Copy the matching records, unchanged, to a topic for a billing system to re-consume: exactly once, resumable',
      ),
  )
    .requiredOption(
      '--to-topic <name>',
      "the target topic (created with the source's partition count when missing)",
    )
    .option(
      '--replay-id <id>',
      'names the copy; re-run with the same id (and criteria) to resume after a crash',
    )
    .action(
      toolAction('replay copy', async (flags: FilterOptions & { toTopic: string; replayId?: string }) => {
        const replayId = flags.replayId ?? `r-${new Date().toISOString().replace(/[:.]/g, '-')}`;
        if (!/^[A-Za-z0-9._-]{1,100}$/.test(replayId))
          badOption('--replay-id', 'letters, digits, dot, dash and underscore only');
        const { filter, options, kafka, registry, topics } = await readSetup(ctx, flags);
        process.stderr.write(
          `replay ${replayId}: ${topics[0]} -> ${flags.toTopic} (re-run with --replay-id ${replayId} to resume)\n`,
        );
        const result = await copyRecords(kafka, {
          replayId,
          source: topics[0] as string,
          target: flags.toTopic,
          filterText: filterText(flags),
          filter,
          registry,
          stateTopic: options.topics.replay,
          transactionTimeoutMs: options.producers.transactionTimeoutMs,
        });
        console.log(JSON.stringify(result));
      }),
    );
}

async function resetGroup(ctx: CliContext, flags: ResetFlags): Promise<void> {
  const target = resetTarget(flags.to);
  const { options, kafka, registry, topics } = await readSetup(ctx, {
    zone: 'UTC',
    ...(flags.topic ? { topic: [flags.topic] } : {}),
  });
  const plan = await planReset(kafka, registry, {
    group: flags.group,
    topic: topics[0] as string,
    target,
    label: flags.to,
    totalsTopic: options.topics.controlTotals,
  });
  if (flags.execute === true) await executeReset(kafka, plan);
  if (flags.json === true) {
    console.log(JSON.stringify({ ...plan, executed: flags.execute === true }, null, 2));
    return;
  }
  console.log(
    `group ${plan.group} on ${plan.topic} to ${plan.to}${plan.found ? ` (offsets from the ${plan.found})` : ''} (${plan.state}, ${plan.members} member(s))`,
  );
  console.log(
    renderTable(
      ['partition', 'current', 'new', 'records read again'],
      plan.partitions.map((p) => [p.partition, p.current ?? '-', p.target, p.between]),
    ),
  );
  console.log(flags.execute === true ? 'offsets moved' : 'nothing moved: --execute applies this plan');
}
