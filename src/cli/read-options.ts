// What search, export and replay copy share: the feed's criteria as options, the filter they
// make (every bad value named), where a read starts for billing periods, and progress on stderr
// (only when stderr is a terminal: never into the output).
import type { Command } from 'commander';
import { PhoneNumbers } from '../cdr/phone.ts';
import { isValidTimeZone, TimeZone } from '../cdr/time-zone.ts';
import { boundary, type CdrFilter } from '../tools/read/filter.ts';
import type { ScanProgress } from '../tools/read/scan.ts';
import { periodStartOffsets } from '../tools/replay/period-start.ts';
import type { CliContext } from './context.ts';
import { badOption, isBillingPeriod, wholeOption } from './options.ts';

export interface FilterOptions {
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
export function filterFromOptions(flags: FilterOptions): CdrFilter {
  if (!isValidTimeZone(flags.zone)) badOption('--zone', `"${flags.zone}" is not an IANA time zone`);
  const zone = new TimeZone(flags.zone);
  const f: CdrFilter = {};
  if (flags.startFrom !== undefined)
    f.startFrom =
      boundary(flags.startFrom, zone, false) ??
      badOption('--start-from', `"${flags.startFrom}" is not YYYY-MM-DD nor ISO 8601 with a zone`);
  if (flags.startTo !== undefined)
    f.startBefore =
      boundary(flags.startTo, zone, true) ??
      badOption('--start-to', `"${flags.startTo}" is not YYYY-MM-DD nor ISO 8601 with a zone`);
  if (flags.period) {
    for (const p of flags.period) if (!isBillingPeriod(p)) badOption('--period', `"${p}" is not YYYY-MM`);
    f.periods = new Set(flags.period);
  }
  if (flags.group) f.groups = new Set(flags.group);
  if (flags.account) f.accounts = new Set(flags.account);
  if (flags.type)
    f.types = flags.type.map((t) => {
      const [type, subType] = t.split('/') as [string, string | undefined];
      return subType === undefined ? { type } : { type, subType };
    });
  const secondsMin = wholeOption('--seconds-min', flags.secondsMin);
  const secondsMax = wholeOption('--seconds-max', flags.secondsMax);
  const idMin = wholeOption('--id-from', flags.idFrom);
  const idMax = wholeOption('--id-to', flags.idTo);
  if (secondsMin !== undefined) f.secondsMin = secondsMin;
  if (secondsMax !== undefined) f.secondsMax = secondsMax;
  if (idMin !== undefined) f.idMin = idMin;
  if (idMax !== undefined) f.idMax = idMax;
  if (flags.from !== undefined && flags.fromPrefix !== undefined)
    badOption('--from', 'give --from or --from-prefix, not both');
  if (flags.to !== undefined && flags.toPrefix !== undefined)
    badOption('--to', 'give --to or --to-prefix, not both');
  if (flags.from !== undefined || flags.fromPrefix !== undefined)
    f.from = { value: (flags.from ?? flags.fromPrefix) as string, prefix: flags.fromPrefix !== undefined };
  if (flags.to !== undefined || flags.toPrefix !== undefined)
    f.to = { value: (flags.to ?? flags.toPrefix) as string, prefix: flags.toPrefix !== undefined };
  return f;
}

export function withFilterOptions(c: Command): Command {
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
export function filterText(flags: FilterOptions): string {
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
  return JSON.stringify(
    Object.fromEntries(keys.filter((k) => flags[k] !== undefined).map((k) => [k, flags[k]])),
  );
}

/** What a reading command works with: its filter, its options, a Kafka client, the registry, the topics read. */
export async function readSetup(ctx: CliContext, flags: FilterOptions) {
  const filter = filterFromOptions(flags);
  const { options, kafka } = await ctx.tool();
  // Numbers are matched on their E.164 form too, read in the accounts' home country.
  if (filter.from || filter.to) filter.phones = new PhoneNumbers(options.country);
  return {
    filter,
    options,
    kafka,
    registry: ctx.registry(options),
    topics: flags.topic ?? [options.topics.raw],
  };
}

export type ReadSetup = Awaited<ReturnType<typeof readSetup>>;

/**
 * With billing periods asked for on cdr.raw: where they begin per partition, from the period index
 * (undefined when it does not cover the topic: everything is read).
 */
export async function periodStarts(s: ReadSetup): Promise<{ fromOffsets?: Map<string, bigint> }> {
  const raw = s.options.topics.raw;
  if (!s.filter.periods || s.topics.length !== 1 || s.topics[0] !== raw) return {};
  const starts = await periodStartOffsets(
    s.kafka,
    s.registry,
    raw,
    s.options.topics.controlTotals,
    s.filter.periods,
  );
  return starts ? { fromOffsets: starts } : {};
}

/** A progress line on stderr about once a second, when stderr is a terminal. */
export function progressReporter(): ((p: ScanProgress) => void) | undefined {
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
