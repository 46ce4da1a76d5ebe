// `cdr-pipeline reconcile`: control totals from Kafka, compared with the feed, a totals file or
// the enriched topics. Exit 0 when everything matches, 1 when anything differs, 2 on bad input or
// when the reconciliation could not run.
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import type { Command } from 'commander';
import type { Kafka } from 'kafkajs';
import { loadProducerOptions } from '../config/producer.ts';
import type { ToolsOptions } from '../config/tools.ts';
import { formatReport, REPORT_FORMATS, type ReportFormat } from '../tools/reconcile/format.ts';
import { type Against, reconcile } from '../tools/reconcile/index.ts';
import { DIFFERENCE_KINDS, type DifferenceKind } from '../tools/reconcile/report.ts';
import { type CdrScope, cdrScope } from '../tools/reconcile/scope.ts';
import { readTotalsFile } from '../tools/reconcile/totals-file.ts';
import type { CliContext } from './context.ts';
import { badOption, isBillingPeriod, wholeOption } from './options.ts';
import { EXIT, toolAction } from './run.ts';

interface ReconcileOptions {
  topic?: string;
  account?: string[];
  period?: string[];
  idFrom?: string;
  idTo?: string;
  fast?: boolean;
  feed?: boolean;
  fromId?: string;
  toId?: string;
  totalsFile?: string;
  enriched?: string[] | boolean;
  recordings?: boolean;
  hash: boolean;
  accept?: string[];
  ignoreColumn?: string[];
  format: string;
  output?: string;
  maxListed: string;
}

export function registerReconcile(program: Command, ctx: CliContext): void {
  program
    .command('reconcile')
    .description(
      'Control totals per billing period x account x billing group x call type from Kafka, with continuity, compared with the feed, a totals file or the enriched topics',
    )
    .option('--topic <name>', 'the CDR topic (default TOPIC_RAW)')
    .option('--account <login...>', 'accounts')
    .option('--period <YYYY-MM...>', 'billing periods')
    .option('--id-from <id>', 'ids from (inclusive)')
    .option('--id-to <id>', 'ids to (inclusive)')
    .option(
      '--fast',
      'the running control totals (TOPIC_CONTROL_TOTALS) instead of reading the CDRs: totals only',
    )
    .option(
      '--feed',
      "compare with the feed re-read from --from-id for --account (the producer's FEED_* settings)",
    )
    .option('--from-id <id>', 'with --feed: the first id re-read')
    .option('--to-id <id>', "with --feed: the last id compared (default the account's cursor)")
    .option(
      '--ignore-column <column...>',
      'with --feed: leave out a column the carrier is known to rewrite, by its feed header (e.g. "CLI Presentation") or field name',
    )
    .option(
      '--totals-file <csv>',
      'compare with a totals file: key columns and value columns, one line per key',
    )
    .option(
      '--enriched [topics...]',
      'compare with the enriched topics (default every topic named ENRICH_TOPIC_PREFIX*)',
    )
    .option(
      '--recordings',
      'the recordings instead: every CDR naming one has one reference, its object, the same size and SHA-256, and no object is orphaned',
    )
    .option(
      '--no-hash',
      "with --recordings: trust each object's SHA-256 metadata instead of reading its bytes",
    )
    .option(
      '--accept <kind...>',
      `kinds of difference listed but not failing the run (exit 0), e.g. dead_lettered: ${DIFFERENCE_KINDS.join(', ')}`,
    )
    .option('--format <format>', `output: ${REPORT_FORMATS.join(', ')}`, 'table')
    .option('--output <file>', 'write the report here (default stdout)')
    .option('--max-listed <n>', 'differences listed at most (the rest are counted)', '100000')
    // A reconciliation that could not run is not "it differs": exit 2.
    .action(toolAction('reconcile', (flags: ReconcileOptions) => runReconcile(ctx, flags), EXIT.USAGE));
}

async function runReconcile(ctx: CliContext, flags: ReconcileOptions): Promise<number> {
  if (!(REPORT_FORMATS as readonly string[]).includes(flags.format))
    badOption('--format', `"${flags.format}" is not one of ${REPORT_FORMATS.join(', ')}`);
  const chosen = [
    flags.feed === true,
    flags.totalsFile !== undefined,
    flags.enriched !== undefined,
    flags.recordings === true,
  ].filter(Boolean);
  if (chosen.length > 1)
    badOption('--feed', 'compare with one of --feed, --totals-file, --enriched, --recordings at a time');
  if (flags.ignoreColumn !== undefined && flags.feed !== true)
    badOption('--ignore-column', 'compares columns with the feed: give it with --feed');
  for (const p of flags.period ?? []) if (!isBillingPeriod(p)) badOption('--period', `"${p}" is not YYYY-MM`);
  const idMin = wholeOption('--id-from', flags.idFrom);
  const idMax = wholeOption('--id-to', flags.idTo);
  const maxListed = wholeOption('--max-listed', flags.maxListed) as number;
  const scope = cdrScope({
    ...(flags.account ? { accounts: new Set(flags.account) } : {}),
    ...(flags.period ? { periods: new Set(flags.period) } : {}),
    ...(idMin === undefined ? {} : { idMin }),
    ...(idMax === undefined ? {} : { idMax }),
  });
  if (flags.recordings === true) return reconcileRecordingsCommand(ctx, flags, scope, maxListed);
  const { options, kafka } = await ctx.tool();
  const registry = ctx.registry(options);
  const accept = new Set<DifferenceKind>();
  for (const kind of flags.accept ?? []) {
    if (!(DIFFERENCE_KINDS as readonly string[]).includes(kind))
      badOption('--accept', `"${kind}" is not one of ${DIFFERENCE_KINDS.join(', ')}`);
    accept.add(kind as DifferenceKind);
  }
  const report = await reconcile({
    kafka,
    registry,
    accept,
    topics: {
      raw: flags.topic ?? options.topics.raw,
      controlTotals: options.topics.controlTotals,
      dlq: options.topics.dlq,
      cursor: options.topics.cursor,
    },
    scope,
    fast: flags.fast === true,
    against: await against(ctx, flags, kafka, options),
    maxListed,
  });
  await writeReport(flags, formatReport(report, flags.format as ReportFormat));
  return report.ok ? EXIT.OK : EXIT.ATTENTION;
}

async function writeReport(flags: ReconcileOptions, text: string): Promise<void> {
  if (flags.output) {
    const out = createWriteStream(flags.output);
    out.end(text);
    await once(out, 'finish');
  } else process.stdout.write(text);
}

/** `reconcile --recordings`: cdr.raw, cdr.recordings and the DLQ against the objects in storage. */
async function reconcileRecordingsCommand(
  ctx: CliContext,
  flags: ReconcileOptions,
  scope: CdrScope,
  maxListed: number,
): Promise<number> {
  if (flags.format !== 'table' && flags.format !== 'json')
    badOption('--format', 'with --recordings: table or json');
  const { loadRecordingsToolOptions } = await import('../config/recordings.ts');
  const { ObjectStore } = await import('../recordings/store.ts');
  const { formatRecordingsReport, reconcileRecordings } = await import('../tools/recordings/reconcile.ts');
  const tools = loadRecordingsToolOptions(ctx.env);
  const store = new ObjectStore(tools.store);
  try {
    const report = await reconcileRecordings({
      kafka: (await ctx.tool()).kafka,
      registry: tools.registry,
      topics: { ...tools.topics, raw: flags.topic ?? tools.topics.raw },
      store,
      keyPrefix: tools.store.keyPrefix,
      scope,
      hashBytes: flags.hash,
      maxListed,
    });
    await writeReport(flags, formatRecordingsReport(report, flags.format));
    return report.ok ? EXIT.OK : EXIT.ATTENTION;
  } finally {
    store.close();
  }
}

/** What the totals are compared with. */
async function against(
  ctx: CliContext,
  flags: ReconcileOptions,
  kafka: Kafka,
  options: ToolsOptions,
): Promise<Against> {
  if (flags.feed === true) return feedAgainst(ctx, flags);
  if (flags.totalsFile !== undefined) return { kind: 'totals-file', file: readTotalsFile(flags.totalsFile) };
  if (flags.enriched === undefined) return { kind: 'nothing' };
  let topics = Array.isArray(flags.enriched) ? flags.enriched : [];
  if (topics.length === 0) {
    const prefix = options.enrichers.topicPrefix;
    const admin = kafka.admin();
    await admin.connect();
    try {
      topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix)).sort();
    } finally {
      await admin.disconnect();
    }
    if (topics.length === 0) badOption('--enriched', `no topic named ${prefix}*`);
  }
  return { kind: 'enriched', topics };
}

/** The feed of one configured account, read as the producer reads it (its FEED_* settings). */
function feedAgainst(ctx: CliContext, flags: ReconcileOptions): Against {
  const fromId = wholeOption('--from-id', flags.fromId) ?? badOption('--from-id', 'is required with --feed');
  const toId = wholeOption('--to-id', flags.toId);
  const producer = loadProducerOptions(ctx.env);
  const logins = producer.accounts.map((a) => a.login);
  const wanted =
    flags.account ??
    (logins.length === 1
      ? logins
      : badOption('--account', `one of ${logins.join(', ')} is required with --feed`));
  if (wanted.length !== 1) badOption('--account', 'the feed is reconciled one account at a time');
  const account =
    producer.accounts.find((a) => a.login === wanted[0]) ??
    badOption(
      '--account',
      `${wanted[0]} is not a configured feed account (FEED_LOGIN or FEED_ACCOUNTS_FILE)`,
    );
  return {
    kind: 'feed',
    fromId,
    ...(toId === undefined ? {} : { toId }),
    ...(flags.ignoreColumn ? { ignoreColumns: flags.ignoreColumn } : {}),
    side: { account, feed: producer.feed, rows: producer.rows },
  };
}
