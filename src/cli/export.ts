// `cdr-pipeline export`: the CDRs of a topic matching the feed's criteria, as CSV, JSON Lines or
// Parquet, to a file or stdout. What was exported goes to stderr.
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import type { Command } from 'commander';
import type { RawCdr } from '../cdr/row.ts';
import { matches } from '../tools/read/filter.ts';
import { type ScanProgress, scan } from '../tools/read/scan.ts';
import { exportRecords } from '../tools/replay/stream-export.ts';
import type { CliContext } from './context.ts';
import { badOption } from './options.ts';
import {
  type FilterOptions,
  periodStarts,
  progressReporter,
  type ReadSetup,
  readSetup,
  withFilterOptions,
} from './read-options.ts';
import { toolAction } from './run.ts';

type ExportFlags = FilterOptions & { format: string; output?: string };

export function registerExport(program: Command, ctx: CliContext): void {
  withFilterOptions(
    program
      .command('export')
      .description('The CDRs of a topic matching the criteria, as CSV, JSON Lines or Parquet'),
  )
    .option('--format <format>', 'csv, jsonl or parquet', 'csv')
    .option('--output <file>', 'write here (default stdout; required for parquet)')
    .action(
      toolAction('export', async (flags: ExportFlags) => {
        if (flags.format !== 'csv' && flags.format !== 'jsonl' && flags.format !== 'parquet')
          badOption('--format', `"${flags.format}" is not csv, jsonl or parquet`);
        if (flags.format === 'parquet' && flags.output === undefined)
          badOption('--output', 'is required with --format parquet (a Parquet file is not a stream)');
        const s = await readSetup(ctx, flags);
        const report = progressReporter();
        const from = { ...(report ? { onProgress: report } : {}), ...(await periodStarts(s)) };
        const done =
          flags.format === 'parquet'
            ? await exportParquet(s, from, flags.output as string)
            : await exportStream(s, from, flags.format as 'csv' | 'jsonl', flags.output);
        const undecodable = done.undecodable ? `; ${done.undecodable} could not be decoded` : '';
        process.stderr.write(
          `${report ? '\n' : ''}exported ${done.matched.toLocaleString('en')} of ${done.scanned.toLocaleString('en')} records${flags.output ? ` to ${flags.output}` : ''}${undecodable}\n`,
        );
      }),
    );
}

type ReadFrom = { onProgress?: (p: ScanProgress) => void; fromOffsets?: Map<string, bigint> };

function scanFor(s: ReadSetup, from: ReadFrom, onMatch: (c: RawCdr) => Promise<unknown> | undefined) {
  return scan(s.kafka, {
    topics: s.topics,
    registry: s.registry,
    keep: (c) => matches(c, s.filter),
    onMatch,
    ...from,
  });
}

async function exportParquet(s: ReadSetup, from: ReadFrom, file: string): Promise<ScanProgress> {
  // DuckDB (a native library of its own) is loaded only for a Parquet export.
  const { ParquetExport } = await import('../tools/replay/parquet.ts');
  const parquet = await ParquetExport.open(file);
  try {
    return await scanFor(s, from, (c) => {
      parquet.write(c);
      return undefined;
    });
  } finally {
    await parquet.close();
  }
}

async function exportStream(
  s: ReadSetup,
  from: ReadFrom,
  format: 'csv' | 'jsonl',
  file: string | undefined,
): Promise<ScanProgress> {
  const out: Writable = file ? createWriteStream(file) : process.stdout;
  const done = await exportRecords(s.kafka, {
    format,
    topics: s.topics,
    registry: s.registry,
    filter: s.filter,
    out,
    ...from,
  });
  if (file) {
    out.end();
    await once(out, 'finish');
  }
  return done;
}
