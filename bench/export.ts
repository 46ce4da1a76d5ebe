// Export benchmark: `cdr-pipeline export --format csv` over a topic the producer benchmark filled,
// as a process of its own (the built CLI, as deployed): records/s over the whole run (start-up and
// the consumer group join included), peak RSS from /proc, and the file checked for every record.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { ADDRESSES } from '../scripts/stack/index.ts';
import { LOCAL, ROOT } from '../scripts/stack/paths.ts';
import { watchPeakRss } from './peak-rss.ts';

export interface ExportBenchResult {
  records: number;
  seconds: number;
  recordsPerSecond: number;
  peakRssMiB: number;
}

export async function benchExport(
  topic: string,
  records: number,
  nodeFlags: string[],
): Promise<ExportBenchResult> {
  const file = `${LOCAL}/bench/export-${topic}.csv`;
  const started = Date.now();
  const child = spawn(
    process.execPath,
    [...nodeFlags, `${ROOT}/dist/cli.js`, 'export', '--topic', topic, '--format', 'csv', '--output', file],
    {
      env: { ...process.env, KAFKA_BROKERS: ADDRESSES.brokers, SCHEMA_REGISTRY_URL: ADDRESSES.registry },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const rss = watchPeakRss(child.pid);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  const ms = Date.now() - started;
  const peakRssMiB = rss.stop();
  if (code !== 0) throw new Error(`export exited with ${code}: ${stderr}`);
  // Every record is in the file: one CSV record per CDR after the header (descriptions may hold
  // line breaks, so count records, not lines: the export's own count is checked against it too).
  let rows = -1;
  let open = false;
  for await (const line of createInterface({ input: createReadStream(file) })) {
    const quotes = (line.match(/"/g) ?? []).length;
    if (!open) rows++;
    if (quotes % 2 === 1) open = !open;
  }
  rmSync(file, { force: true });
  if (rows !== records || !stderr.includes(`exported ${records.toLocaleString('en')} of`))
    throw new Error(`exported ${rows} of ${records}: ${stderr}`);
  return {
    records,
    seconds: ms / 1000,
    recordsPerSecond: Math.round(records / (ms / 1000)),
    peakRssMiB,
  };
}
