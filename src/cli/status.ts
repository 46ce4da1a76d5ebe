// `cdr-pipeline status`: is it working? From Kafka (and the registry) alone. Exit 1 when an account
// is stale, a group lags too far, or a transaction hangs.
import type { Command } from 'commander';
import { formatStatus, gatherStatus } from '../tools/admin/status.ts';
import type { CliContext } from './context.ts';
import { durationOption, wholeOption } from './options.ts';
import { print } from './print.ts';
import { EXIT, toolAction } from './run.ts';

interface StatusFlags {
  json?: boolean;
  staleAfter?: string;
  maxLag?: string;
  group?: string[];
}

export function registerStatus(program: Command, ctx: CliContext): void {
  program
    .command('status')
    .description(
      'Is it working? Cursors, how far behind, dead letters, enricher lag, registry subjects: from Kafka alone',
    )
    .option('--json', 'JSON for scripts')
    .option('--stale-after <duration>', "exit 1 when an account's newest CDR is older than this (e.g. 2h)")
    .option('--max-lag <records>', 'exit 1 when an enricher group is more records behind than this')
    .option('--group <id...>', 'enricher consumer groups (default ENRICH_GROUP_ID)')
    .action(
      toolAction('status', async (flags: StatusFlags) => {
        const staleAfterMs = durationOption('--stale-after', flags.staleAfter);
        const maxLag = wholeOption('--max-lag', flags.maxLag);
        const { options, kafka } = await ctx.tool();
        const report = await gatherStatus(kafka, options, {
          groups: flags.group ?? [options.enrichers.groupId],
          ...(staleAfterMs === undefined ? {} : { staleAfterMs }),
          ...(maxLag === undefined ? {} : { maxLag }),
        });
        print(flags.json === true, report, () => formatStatus(report));
        return report.ok ? EXIT.OK : EXIT.ATTENTION;
      }),
    );
}
