// `cdr-pipeline search` and `export`: the CDRs of a topic matching the feed's criteria, as a table
// of the first matches and the count, or as CSV or JSON Lines to a file or stdout. Progress goes
// to stderr, and only when stderr is a terminal: never into the output.

import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import type { Command } from 'commander';
import { bytesToDecimalString } from '../../cdr/decimal.ts';
import type { RawCdr } from '../../cdr/row.ts';
import { isValidTimeZone, TimeZone } from '../../cdr/time-zone.ts';
import { badOption, isBillingPeriod, wholeOption } from '../../config/cli-options.ts';
import { loadToolsConfig } from '../../config/tools.ts';
import { createKafka } from '../../kafka/client.ts';
import { toolLogger } from '../../ops/logger.ts';
import { boundary, type CdrFilter, matches } from '../read/filter.ts';
import { jsonLine } from '../read/formats.ts';
import { type ScanProgress, scan } from '../read/scan.ts';
import { renderTable } from '../read/table.ts';
import { copyRecords } from './copy.ts';
import { exportCsv } from './csv-export.ts';
import { periodStartOffsets } from './period-start.ts';
import { executeReset, planReset, type ResetTarget } from './reset-group.ts';

type Env = Record<string, string | undefined>;

interface FilterOptions {
  topic?: string[];
  zone: string;
  startFrom?: string;
  startTo?: string;
  period?: string[];
  group?: string[];
  account?: string[];
  type?: string[];
  secondsMin?: string;
  secondsMax?: string;
  from?: string;
  fromPrefix?: string;
  to?: string;
  toPrefix?: string;
  idFrom?: string;
  idTo?: string;
}

/** The filter the options describe; every bad value is named. */
export function filterFromOptions(o: FilterOptions): CdrFilter {
  if (!isValidTimeZone(o.zone)) badOption('--zone', `"${o.zone}" is not an IANA time zone`);
  const zone = new TimeZone(o.zone);
  const f: CdrFilter = {};
  if (o.startFrom !== undefined)
    f.startFrom =
      boundary(o.startFrom, zone, false) ??
      badOption('--start-from', `"${o.startFrom}" is not YYYY-MM-DD nor ISO 8601 with a zone`);
  if (o.startTo !== undefined)
    f.startBefore =
      boundary(o.startTo, zone, true) ??
      badOption('--start-to', `"${o.startTo}" is not YYYY-MM-DD nor ISO 8601 with a zone`);
  if (o.period) {
    for (const p of o.period) if (!isBillingPeriod(p)) badOption('--period', `"${p}" is not YYYY-MM`);
    f.periods = new Set(o.period);
  }
  if (o.group) f.groups = new Set(o.group);
  if (o.account) f.accounts = new Set(o.account);
  if (o.type)
    f.types = o.type.map((t) => {
      const [type, subType] = t.split('/') as [string, string | undefined];
      return subType === undefined ? { type } : { type, subType };
    });
  const secondsMin = wholeOption('--seconds-min', o.secondsMin);
  const secondsMax = wholeOption('--seconds-max', o.secondsMax);
  const idMin = wholeOption('--id-from', o.idFrom);
  const idMax = wholeOption('--id-to', o.idTo);
  if (secondsMin !== undefined) f.secondsMin = secondsMin;
  if (secondsMax !== undefined) f.secondsMax = secondsMax;
  if (idMin !== undefined) f.idMin = idMin;
  if (idMax !== undefined) f.idMax = idMax;
  if (o.from !== undefined && o.fromPrefix !== undefined)
    badOption('--from', 'give --from or --from-prefix, not both');
  if (o.to !== undefined && o.toPrefix !== undefined) badOption('--to', 'give --to or --to-prefix, not both');
  if (o.from !== undefined || o.fromPrefix !== undefined)
    f.from = { value: (o.from ?? o.fromPrefix) as string, prefix: o.fromPrefix !== undefined };
  if (o.to !== undefined || o.toPrefix !== undefined)
    f.to = { value: (o.to ?? o.toPrefix) as string, prefix: o.toPrefix !== undefined };
  return f;
}

function withFilterOptions(c: Command): Command {
  return c
    .option('--topic <name...>', 'topics to read (default TOPIC_RAW; an enriched topic works too)')
    .option('--zone <iana>', 'zone of dates given as YYYY-MM-DD', 'UTC')
    .option('--start-from <when>', 'call start at or after: YYYY-MM-DD (in --zone) or ISO 8601 with a zone')
    .option('--start-to <when>', 'call start before; a date includes that whole day')
    .option('--period <YYYY-MM...>', 'billing periods')
    .option('--group <name...>', 'billing groups ("" for none)')
    .option('--account <login...>', 'accounts')
    .option('--type <types...>', 'call types: type or type/sub_type, e.g. M or M/M3')
    .option('--seconds-min <n>', 'duration at least')
    .option('--seconds-max <n>', 'duration at most')
    .option('--from <number>', 'calling party, exactly')
    .option('--from-prefix <digits>', 'calling party starting with')
    .option('--to <number>', 'called party, exactly')
    .option('--to-prefix <digits>', 'called party starting with')
    .option('--id-from <id>', 'ids from (inclusive)')
    .option('--id-to <id>', 'ids to (inclusive)');
}

/** The criteria as text, for a replay to be re-run with the same ones. */
function filterText(o: FilterOptions): string {
  const keys = [
    'zone',
    'startFrom',
    'startTo',
    'period',
    'group',
    'account',
    'type',
    'secondsMin',
    'secondsMax',
    'from',
    'fromPrefix',
    'to',
    'toPrefix',
    'idFrom',
    'idTo',
  ] as const;
  return JSON.stringify(Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]])));
}

function setup(env: Env, o: FilterOptions) {
  const filter = filterFromOptions(o);
  const config = loadToolsConfig(env);
  const url =
    config.env.SCHEMA_REGISTRY_URL ?? badOption('SCHEMA_REGISTRY_URL', 'is required to decode records');
  const logger = toolLogger(env);
  return {
    filter,
    config,
    kafka: createKafka(config.kafka, logger),
    registry: { url },
    topics: o.topic ?? [config.env.TOPIC_RAW],
  };
}

/**
 * With billing periods asked for on cdr.raw: where they begin per partition, from the period index
 * (undefined when it does not cover the topic: everything is read).
 */
async function periodStarts(s: ReturnType<typeof setup>): Promise<{ fromOffsets?: Map<string, bigint> }> {
  const raw = s.config.env.TOPIC_RAW;
  if (!s.filter.periods || s.topics.length !== 1 || s.topics[0] !== raw) return {};
  const starts = await periodStartOffsets(
    s.kafka,
    s.registry,
    raw,
    s.config.env.TOPIC_CONTROL_TOTALS,
    s.filter.periods,
  );
  return starts ? { fromOffsets: starts } : {};
}

/** A progress line on stderr about once a second, when stderr is a terminal. */
function progressReporter(): ((p: ScanProgress) => void) | undefined {
  if (process.stderr.isTTY !== true) return undefined;
  let last = 0;
  return (p) => {
    const now = Date.now();
    if (now - last < 1000) return;
    last = now;
    const rate = p.scanned / Math.max((now - p.startedAt) / 1000, 0.001);
    const eta = p.total > p.scanned ? Math.round((p.total - p.scanned) / Math.max(rate, 1)) : 0;
    process.stderr.write(
      `\rscanned ${p.scanned.toLocaleString('en')} of ~${p.total.toLocaleString('en')}, matched ${p.matched.toLocaleString('en')}, ${Math.round(rate).toLocaleString('en')}/s, ETA ${eta}s   `,
    );
  };
}

export function registerReplayCommands(program: Command, env: Env): void {
  withFilterOptions(
    program
      .command('search')
      .description('The CDRs of a topic matching the criteria: the first matches as a table, and the count'),
  )
    .option('--limit <n>', 'matches shown', '20')
    .option('--json', 'the count and the first matches as JSON')
    .action(async (o: FilterOptions & { limit: string; json?: boolean }) => {
      const limit = wholeOption('--limit', o.limit) as number;
      const s = setup(env, o);
      const { filter, kafka, registry, topics } = s;
      const first: RawCdr[] = [];
      const report = progressReporter();
      const done = await scan(kafka, {
        topics,
        registry,
        keep: (c) => matches(c, filter),
        onMatch: (c) => void (first.length < limit && first.push(c)),
        ...(report ? { onProgress: report } : {}),
        ...(await periodStarts(s)),
      });
      if (report) process.stderr.write('\n');
      if (o.json === true) {
        console.log(
          JSON.stringify(
            {
              matched: done.matched,
              scanned: done.scanned,
              undecodable: done.undecodable,
              first: first.map((c) => JSON.parse(jsonLine(c))),
            },
            null,
            2,
          ),
        );
        return;
      }
      console.log(
        renderTable(
          ['id', 'account', 'group', 'period', 'start', 'from', 'to', 'seconds', 'type', 'cost'],
          first.map((c) => [
            c.id,
            c.account,
            c.billing_group,
            c.billing_period,
            c.start_time_text,
            c.from,
            c.to,
            c.seconds,
            `${c.type}/${c.sub_type}`,
            bytesToDecimalString(c.cost),
          ]),
        ),
      );
      console.log(
        `${done.matched.toLocaleString('en')} matching of ${done.scanned.toLocaleString('en')} records read${first.length < done.matched ? ` (the first ${first.length} shown; --limit shows more)` : ''}${done.undecodable ? `; ${done.undecodable} could not be decoded` : ''}`,
      );
    });

  withFilterOptions(
    program
      .command('export')
      .description('The CDRs of a topic matching the criteria, as CSV, JSON Lines or Parquet'),
  )
    .option('--format <format>', 'csv, jsonl or parquet', 'csv')
    .option('--output <file>', 'write here (default stdout; required for parquet)')
    .action(async (o: FilterOptions & { format: string; output?: string }) => {
      if (o.format !== 'csv' && o.format !== 'jsonl' && o.format !== 'parquet')
        badOption('--format', `"${o.format}" is not csv, jsonl or parquet`);
      if (o.format === 'parquet' && o.output === undefined)
        badOption('--output', 'is required with --format parquet (a Parquet file is not a stream)');
      const s = setup(env, o);
      const { filter, kafka, registry, topics } = s;
      const report = progressReporter();
      const scanFor = async (onMatch: (c: RawCdr) => Promise<unknown> | undefined) =>
        scan(kafka, {
          topics,
          registry,
          keep: (c) => matches(c, filter),
          onMatch,
          ...(report ? { onProgress: report } : {}),
          ...(await periodStarts(s)),
        });
      let done: ScanProgress;
      if (o.format === 'parquet') {
        // DuckDB (a native library of its own) is loaded only for a Parquet export.
        const { ParquetExport } = await import('./parquet.ts');
        const parquet = await ParquetExport.open(o.output as string);
        try {
          done = await scanFor((c) => {
            parquet.write(c);
            return undefined;
          });
        } finally {
          await parquet.close();
        }
      } else {
        const out = o.output ? createWriteStream(o.output) : process.stdout;
        if (o.format === 'csv')
          done = await exportCsv(kafka, {
            topics,
            registry,
            filter,
            out,
            ...(report ? { onProgress: report } : {}),
            ...(await periodStarts(s)),
          });
        else {
          // Lines gathered into writes of about 64 KiB; a promise only when the stream asks to drain.
          let pending = '';
          const flush = (): Promise<unknown> | undefined => {
            const text = pending;
            pending = '';
            return out.write(text) ? undefined : once(out, 'drain');
          };
          done = await scanFor((c) => {
            pending += jsonLine(c);
            return pending.length >= 65_536 ? flush() : undefined;
          });
          if (pending.length > 0) await flush();
        }
        if (o.output) {
          out.end();
          await once(out, 'finish');
        }
      }
      process.stderr.write(
        `${report ? '\n' : ''}exported ${done.matched.toLocaleString('en')} of ${done.scanned.toLocaleString('en')} records${o.output ? ` to ${o.output}` : ''}${done.undecodable ? `; ${done.undecodable} could not be decoded` : ''}\n`,
      );
    });

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
    .action(async (o: { group: string; to: string; topic?: string; execute?: boolean; json?: boolean }) => {
      let target: ResetTarget;
      if (o.to === 'earliest') target = { kind: 'earliest' };
      else if (isBillingPeriod(o.to)) target = { kind: 'period', period: o.to };
      else {
        const at = /(Z|[+-]\d{2}:\d{2})$/.test(o.to) ? Date.parse(o.to) : Number.NaN;
        if (Number.isNaN(at))
          badOption('--to', `"${o.to}" is not earliest, YYYY-MM, nor ISO 8601 with a zone`);
        target = { kind: 'instant', at };
      }
      const { config, kafka, registry, topics } = setup(env, {
        zone: 'UTC',
        ...(o.topic ? { topic: [o.topic] } : {}),
      });
      const plan = await planReset(kafka, registry, {
        group: o.group,
        topic: topics[0] as string,
        target,
        label: o.to,
        totalsTopic: config.env.TOPIC_CONTROL_TOTALS,
      });
      if (o.execute === true) await executeReset(kafka, plan);
      if (o.json === true) {
        console.log(JSON.stringify({ ...plan, executed: o.execute === true }, null, 2));
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
      console.log(o.execute === true ? 'offsets moved' : 'nothing moved: --execute applies this plan');
    });

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
    .action(async (o: FilterOptions & { toTopic: string; replayId?: string }) => {
      const replayId = o.replayId ?? `r-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      if (!/^[A-Za-z0-9._-]{1,100}$/.test(replayId))
        badOption('--replay-id', 'letters, digits, dot, dash and underscore only');
      const { filter, config, kafka, registry, topics } = setup(env, o);
      process.stderr.write(
        `replay ${replayId}: ${topics[0]} -> ${o.toTopic} (re-run with --replay-id ${replayId} to resume)\n`,
      );
      const result = await copyRecords(kafka, {
        replayId,
        source: topics[0] as string,
        target: o.toTopic,
        filterText: filterText(o),
        filter,
        registry,
        stateTopic: config.env.TOPIC_REPLAY,
        transactionTimeoutMs: config.env.TRANSACTION_TIMEOUT_MS,
      });
      console.log(JSON.stringify(result));
    });
}
