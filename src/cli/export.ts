// `cdr-pipeline export`: the CDRs of a topic matching the feed's criteria, as CSV, JSON Lines or
// Parquet, to a file or stdout. What was exported goes to stderr.
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import type { Command } from 'commander';
import type { ScanProgress } from '../tools/read/scan.ts';
import { exportRecords, parquetWriter, textWriter } from '../tools/replay/stream-export.ts';
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
        const done = await exportTo(s, from, flags.format, flags.output);
        const undecodable = done.undecodable ? `; ${done.undecodable} could not be decoded` : '';
        process.stderr.write(
          `${report ? '\n' : ''}exported ${done.matched.toLocaleString('en')} of ${done.scanned.toLocaleString('en')} records${flags.output ? ` to ${flags.output}` : ''}${undecodable}\n`,
        );
      }),
    );
}

type ReadFrom = { onProgress?: (p: ScanProgress) => void; fromOffsets?: Map<string, bigint> };

async function exportTo(
  s: ReadSetup,
  from: ReadFrom,
  format: 'csv' | 'jsonl' | 'parquet',
  file: string | undefined,
): Promise<ScanProgress> {
  const out: Writable | undefined =
    format === 'parquet' ? undefined : file ? createWriteStream(file) : process.stdout;
  const writer = out ? textWriter(format as 'csv' | 'jsonl', out) : parquetWriter(file as string);
  const done = await exportRecords(s.kafka, {
    topics: s.topics,
    registry: s.registry,
    filter: s.filter,
    writer,
    ...from,
  });
  if (file && out) {
    out.end();
    await once(out, 'finish');
  }
  return done;
}
