// `cdr-pipeline cursor show|set`: the producers' per-account cursors; moving one fences its
// running producer first (tools/admin/cursor.ts). A backwards move without --allow-backwards is
// refused (exit 1).
import type { Command } from 'commander';
import { formatCursors, setCursor } from '../tools/admin/cursor.ts';
import { readCursors } from '../topics/cursor.ts';
import type { CliContext } from './context.ts';
import { wholeOption } from './options.ts';
import { print } from './print.ts';
import { toolAction } from './run.ts';

interface SetFlags {
  account: string;
  lastId: string;
  allowBackwards?: boolean;
  json?: boolean;
}

export function registerCursor(program: Command, ctx: CliContext): void {
  const cursor = program.command('cursor').description("Show or move the producers' per-account cursors");
  cursor
    .command('show')
    .description("Each account's cursor: the last id published")
    .option('--json', 'JSON for scripts')
    .action(
      toolAction('cursor show', async (flags: { json?: boolean }) => {
        const { options, kafka } = await ctx.tool();
        const cursors = await readCursors(kafka, options.topics.cursor, {
          timeoutMs: 60_000,
          groupPrefix: 'cdr-cursor-tool',
        });
        print(flags.json === true, [...cursors.values()], () => formatCursors(cursors));
      }),
    );
  cursor
    .command('set')
    .description("Move an account's cursor, fencing its running producer first (it stops at its next commit)")
    .requiredOption('--account <login>', 'the account (feed login)')
    .requiredOption('--last-id <id>', 'the last id to count as published; the next poll asks from it')
    .option('--allow-backwards', 'allow a move back, which publishes the ids in between again')
    .option('--json', 'JSON for scripts')
    .action(
      toolAction('cursor set', async (flags: SetFlags) => {
        const lastId = wholeOption('--last-id', flags.lastId) as number;
        const { options, kafka } = await ctx.tool();
        const result = await setCursor(kafka, options, {
          account: flags.account,
          lastId,
          allowBackwards: flags.allowBackwards === true,
        });
        print(flags.json === true, result, () =>
          [
            `account ${result.account}: cursor ${result.from ?? '(none)'} -> ${result.to} (${result.direction}, ${result.between} ids between)`,
            `its producer (transactional id ${result.transactionalId}) was fenced; a running producer stops this account at its next commit (its other accounts go on); start it again to resume from ${result.to}`,
          ].join('\n'),
        );
      }),
    );
}
