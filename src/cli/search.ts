// `cdr-pipeline search`: the CDRs of a topic matching the feed's criteria: the first matches as a
// table (or JSON) and the count.
import type { Command } from 'commander';
import { bytesToDecimalString } from '../cdr/decimal.ts';
import type { RawCdr } from '../cdr/row.ts';
import { FILTER_FIELDS, matches } from '../tools/read/filter.ts';
import { jsonLine } from '../tools/read/formats.ts';
import { type ScanProgress, scan } from '../tools/read/scan.ts';
import { renderTable } from '../tools/read/table.ts';
import type { CliContext } from './context.ts';
import { wholeOption } from './options.ts';
import { print } from './print.ts';
import {
  type FilterOptions,
  periodStarts,
  progressReporter,
  readSetup,
  withFilterOptions,
} from './read-options.ts';
import { toolAction } from './run.ts';

export function registerSearch(program: Command, ctx: CliContext): void {
  withFilterOptions(
    program
      .command('search')
      .description('The CDRs of a topic matching the criteria: the first matches as a table, and the count'),
  )
    .option('--limit <n>', 'matches shown', '20')
    .option('--json', 'the count and the first matches as JSON')
    .action(
      toolAction('search', async (flags: FilterOptions & { limit: string; json?: boolean }) => {
        const limit = wholeOption('--limit', flags.limit) as number;
        const s = await readSetup(ctx, flags);
        const first: RawCdr[] = [];
        const report = progressReporter();
        const done = await scan(s.kafka, {
          topics: s.topics,
          registry: s.registry,
          // Every record is decoded only as far as the filter reads; the matches shown, whole.
          keepFields: FILTER_FIELDS,
          keep: (c) => matches(c, s.filter),
          onMatch: (_c, at) => void (first.length < limit && first.push(at.whole())),
          ...(report ? { onProgress: report } : {}),
          ...(await periodStarts(s)),
        });
        if (report) process.stderr.write('\n');
        const json = {
          matched: done.matched,
          scanned: done.scanned,
          undecodable: done.undecodable,
          first: first.map((c) => JSON.parse(jsonLine(c))),
        };
        print(flags.json === true, json, () => searchTable(first, done));
      }),
    );
}

function searchTable(first: readonly RawCdr[], done: ScanProgress): string {
  const table = renderTable(
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
  );
  const shown = first.length < done.matched ? ` (the first ${first.length} shown; --limit shows more)` : '';
  const undecodable = done.undecodable ? `; ${done.undecodable} could not be decoded` : '';
  return `${table}\n${done.matched.toLocaleString('en')} matching of ${done.scanned.toLocaleString('en')} records read${shown}${undecodable}`;
}
