// `cdr-pipeline dlq list|show`: dead letters, counted by reason, and one in full with its raw row.
import type { Command } from 'commander';
import { countByReason, formatDeadLetters } from '../tools/admin/dlq.ts';
import { readDeadLetters } from '../topics/dlq.ts';
import type { CliContext } from './context.ts';
import { badOption, instantOption, wholeOption } from './options.ts';
import { print } from './print.ts';
import { EXIT, toolAction } from './run.ts';

interface ListFlags {
  account?: string;
  code?: string;
  reason?: string;
  since?: string;
  until?: string;
  limit: string;
  json?: boolean;
}

export function registerDlq(program: Command, ctx: CliContext): void {
  const dlq = program
    .command('dlq')
    .description('Dead letters: list and count them, show one with its raw row');
  dlq
    .command('list')
    .description('Dead letters by account, error code, reason and time window, with counts per reason')
    .option('--account <login>', 'only this account')
    .option('--code <errorCode>', 'only this error code (e.g. CDR_ROW_INVALID)')
    .option('--reason <text>', 'only reasons containing this text')
    .option('--since <when>', 'written at or after: ISO 8601 with a zone, or a duration ago (24h)')
    .option('--until <when>', 'written at or before: ISO 8601 with a zone, or a duration ago')
    .option('--limit <n>', 'rows of the table at most (counts cover all)', '50')
    .option('--json', 'JSON for scripts: every match and the counts')
    .action(
      toolAction('dlq list', async (flags: ListFlags) => {
        const since = instantOption('--since', flags.since);
        const until = instantOption('--until', flags.until);
        const limit = wholeOption('--limit', flags.limit) as number;
        const { options, kafka } = await ctx.tool();
        const letters = await readDeadLetters(kafka, options.topics.dlq, {
          ...(flags.account === undefined ? {} : { account: flags.account }),
          ...(flags.code === undefined ? {} : { code: flags.code }),
          ...(flags.reason === undefined ? {} : { reason: flags.reason }),
          ...(since === undefined ? {} : { since }),
          ...(until === undefined ? {} : { until }),
        });
        print(
          flags.json === true,
          { deadLetters: letters.map(({ entry: _e, ...d }) => d), counts: countByReason(letters) },
          () => formatDeadLetters(letters, limit),
        );
      }),
    );
  dlq
    .command('show')
    .description('One dead letter in full, raw row included: by account and id, or by its place in the topic')
    .option('--account <login>', 'the account')
    .option('--id <id>', 'the CDR id')
    .option('--at <partition:offset>', 'its place in the dead-letter topic (from dlq list)')
    .action(
      toolAction('dlq show', async (flags: { account?: string; id?: string; at?: string }) => {
        if (flags.at === undefined && flags.id === undefined)
          badOption('--id', 'give --id (with --account) or --at');
        const { options, kafka } = await ctx.tool();
        const letters = await readDeadLetters(kafka, options.topics.dlq, {
          ...(flags.account === undefined ? {} : { account: flags.account }),
          ...(flags.id === undefined ? {} : { id: flags.id }),
          ...(flags.at === undefined ? {} : { at: flags.at }),
        });
        if (letters.length === 0) {
          console.log('no such dead letter');
          return EXIT.ATTENTION;
        }
        console.log(
          JSON.stringify(
            letters.map((d) => ({ at: d.at, time: d.time, ...d.entry })),
            null,
            2,
          ),
        );
      }),
    );
}
