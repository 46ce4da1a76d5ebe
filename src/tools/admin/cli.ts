// The operators' commands of `cdr-pipeline`: status, cursor show|set, dlq list|show. Wiring only:
// options to typed requests, results to a table or JSON on stdout. Their own logs (kafkajs) go to
// stderr at warn. Exit codes: 0 fine, 1 something needs attention (stale, refused), 2 bad input.
import type { Command } from 'commander';
import { badOption } from '../../config/cli-options.ts';
import { loadToolsConfig, parseDuration, parseInstant } from '../../config/tools.ts';
import { createKafka } from '../../kafka/client.ts';
import { toolLogger } from '../../ops/logger.ts';
import { readCursors } from '../../topics/cursor.ts';
import { readDeadLetters } from '../../topics/dlq.ts';
import { formatCursors, setCursor } from './cursor.ts';
import { countByReason, formatDeadLetters } from './dlq.ts';
import { formatStatus, gatherStatus } from './status.ts';

type Env = Record<string, string | undefined>;

function tools(env: Env) {
  const config = loadToolsConfig(env);
  const logger = toolLogger(env);
  return { config, kafka: createKafka(config.kafka, logger) };
}

function duration(option: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  return parseDuration(text) ?? badOption(option, `"${text}" is not a duration (90s, 15m, 2h, 1d)`);
}

function instant(option: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  return (
    parseInstant(text, Date.now()) ??
    badOption(option, `"${text}" is not ISO 8601 with a zone, nor a duration ago (24h)`)
  );
}

function count(option: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  return /^\d+$/.test(text) && Number.isSafeInteger(n)
    ? n
    : badOption(option, `"${text}" is not a whole number`);
}

const print = (json: boolean, value: unknown, text: () => string) =>
  console.log(json ? JSON.stringify(value, null, 2) : text());

export function registerAdminCommands(program: Command, env: Env): void {
  program
    .command('status')
    .description(
      'Is it working? Cursors, how far behind, dead letters, enricher lag, registry subjects: from Kafka alone',
    )
    .option('--json', 'JSON for scripts')
    .option('--stale-after <duration>', "exit 1 when an account's newest CDR is older than this (e.g. 2h)")
    .option('--max-lag <records>', 'exit 1 when an enricher group is more records behind than this')
    .option('--group <id...>', 'enricher consumer groups (default ENRICH_GROUP_ID)')
    .action(async (o: { json?: boolean; staleAfter?: string; maxLag?: string; group?: string[] }) => {
      const { config, kafka } = tools(env);
      const staleAfterMs = duration('--stale-after', o.staleAfter);
      const maxLag = count('--max-lag', o.maxLag);
      const report = await gatherStatus(kafka, config, {
        groups: o.group ?? [config.env.ENRICH_GROUP_ID],
        ...(staleAfterMs === undefined ? {} : { staleAfterMs }),
        ...(maxLag === undefined ? {} : { maxLag }),
      });
      print(o.json === true, report, () => formatStatus(report));
      process.exitCode = report.ok ? 0 : 1;
    });

  const cursor = program.command('cursor').description("Show or move the producers' per-account cursors");
  cursor
    .command('show')
    .description("Each account's cursor: the last id published")
    .option('--json', 'JSON for scripts')
    .action(async (o: { json?: boolean }) => {
      const { config, kafka } = tools(env);
      const cursors = await readCursors(kafka, config.env.TOPIC_CURSOR, {
        timeoutMs: 60_000,
        groupPrefix: 'cdr-cursor-tool',
      });
      print(o.json === true, [...cursors.values()], () => formatCursors(cursors));
    });
  cursor
    .command('set')
    .description("Move an account's cursor, fencing its running producer first (it stops at its next commit)")
    .requiredOption('--account <login>', 'the account (feed login)')
    .requiredOption('--last-id <id>', 'the last id to count as published; the next poll asks from it')
    .option('--allow-backwards', 'allow a move back, which publishes the ids in between again')
    .option('--json', 'JSON for scripts')
    .action(async (o: { account: string; lastId: string; allowBackwards?: boolean; json?: boolean }) => {
      const lastId = count('--last-id', o.lastId) as number;
      const { config, kafka } = tools(env);
      const result = await setCursor(kafka, config, {
        account: o.account,
        lastId,
        allowBackwards: o.allowBackwards === true,
      });
      print(o.json === true, result, () =>
        [
          `account ${result.account}: cursor ${result.from ?? '(none)'} -> ${result.to} (${result.direction}, ${result.between} ids between)`,
          `its producer (transactional id ${result.transactionalId}) was fenced; a running producer stops this account at its next commit (its other accounts go on); start it again to resume from ${result.to}`,
        ].join('\n'),
      );
    });

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
      async (o: {
        account?: string;
        code?: string;
        reason?: string;
        since?: string;
        until?: string;
        limit: string;
        json?: boolean;
      }) => {
        const since = instant('--since', o.since);
        const until = instant('--until', o.until);
        const limit = count('--limit', o.limit) as number;
        const { config, kafka } = tools(env);
        const letters = await readDeadLetters(kafka, config.env.TOPIC_DLQ, {
          ...(o.account === undefined ? {} : { account: o.account }),
          ...(o.code === undefined ? {} : { code: o.code }),
          ...(o.reason === undefined ? {} : { reason: o.reason }),
          ...(since === undefined ? {} : { since }),
          ...(until === undefined ? {} : { until }),
        });
        print(
          o.json === true,
          { deadLetters: letters.map(({ entry: _e, ...d }) => d), counts: countByReason(letters) },
          () => formatDeadLetters(letters, limit),
        );
      },
    );
  dlq
    .command('show')
    .description('One dead letter in full, raw row included: by account and id, or by its place in the topic')
    .option('--account <login>', 'the account')
    .option('--id <id>', 'the CDR id')
    .option('--at <partition:offset>', 'its place in the dead-letter topic (from dlq list)')
    .action(async (o: { account?: string; id?: string; at?: string }) => {
      if (o.at === undefined && o.id === undefined) badOption('--id', 'give --id (with --account) or --at');
      const { config, kafka } = tools(env);
      const letters = await readDeadLetters(kafka, config.env.TOPIC_DLQ, {
        ...(o.account === undefined ? {} : { account: o.account }),
        ...(o.id === undefined ? {} : { id: o.id }),
        ...(o.at === undefined ? {} : { at: o.at }),
      });
      if (letters.length === 0) {
        console.log('no such dead letter');
        process.exitCode = 1;
        return;
      }
      console.log(
        JSON.stringify(
          letters.map((d) => ({ at: d.at, time: d.time, ...d.entry })),
          null,
          2,
        ),
      );
    });
}
