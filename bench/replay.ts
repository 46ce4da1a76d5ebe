// Benchmarks of the billing teams' tools, each run as a process of its own (the built CLI, as
// deployed): export to CSV and Parquet, reconcile (full scan) and reconcile --fast. Records/s over
// the whole run (start-up and the consumer group join included) and peak RSS from /proc; every
// run is checked (the exported file, the reconciled count).

import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, rmSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Kafka, logLevel } from 'kafkajs';
import { ADDRESSES } from '../scripts/stack/index.ts';
import { kcatBin } from '../scripts/stack/kcat.ts';
import { LOCAL, ROOT, STACK_REPLICATION } from '../scripts/stack/paths.ts';
import { registerSchema, registryClient } from '../src/codec/registry.ts';
import { avroType } from '../src/codec/schemas.ts';
import { ensureTopics } from '../src/kafka/topics.ts';
import { type ControlValue, totalsMessage } from '../src/topics/control.ts';
import { topicSpecs } from '../src/topics/specs.ts';
import { watchPeakRss } from './peak-rss.ts';

export interface ToolBenchResult {
  records: number;
  seconds: number;
  recordsPerSecond: number;
  peakRssMiB: number;
}

async function runTool(
  args: string[],
  nodeFlags: string[],
  env: Record<string, string> = {},
): Promise<{ ms: number; stdout: string; stderr: string; peakRssMiB: number; code: number | null }> {
  const started = Date.now();
  const child = spawn(process.execPath, [...nodeFlags, `${ROOT}/dist/cli.js`, ...args], {
    env: {
      ...process.env,
      KAFKA_BROKERS: ADDRESSES.brokers,
      SCHEMA_REGISTRY_URL: ADDRESSES.registry,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const rss = watchPeakRss(child.pid);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  return { ms: Date.now() - started, stdout, stderr, peakRssMiB: rss.stop(), code };
}

const result = (records: number, ms: number, peakRssMiB: number): ToolBenchResult => ({
  records,
  seconds: ms / 1000,
  recordsPerSecond: Math.round(records / (ms / 1000)),
  peakRssMiB,
});

/**
 * kcat (librdkafka) reading the whole topic at read_committed, every key and value written out
 * (to /dev/null): the reference the tools' scans are held against, on the same topic in the same run.
 */
export async function benchKcat(topic: string, records: number): Promise<ToolBenchResult> {
  const started = Date.now();
  const child = spawn(
    kcatBin(),
    [
      '-C',
      '-b',
      ADDRESSES.brokers,
      '-t',
      topic,
      '-o',
      'beginning',
      '-e',
      '-q',
      '-X',
      'isolation.level=read_committed',
      '-f',
      '%o %k%s\n',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const rss = watchPeakRss(child.pid);
  // Offsets are counted from the output (each record's line starts with its offset and a space).
  let lines = 0;
  child.stdout?.on('data', (d: Buffer) => {
    for (let i = d.indexOf(10); i !== -1; i = d.indexOf(10, i + 1)) lines++;
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`kcat exited with ${code}: ${stderr}`);
  if (lines < records) throw new Error(`kcat read ${lines} lines for ${records} records`);
  return result(records, Date.now() - started, rss.stop());
}

/** `search` over a whole topic for a number no CDR has: every record read and matched against it. */
export async function benchSearch(
  topic: string,
  records: number,
  nodeFlags: string[],
): Promise<ToolBenchResult> {
  const run = await runTool(['search', '--topic', topic, '--to-prefix', '+999', '--json'], nodeFlags);
  if (run.code !== 0) throw new Error(`search exited with ${run.code}: ${run.stderr}`);
  const out = JSON.parse(run.stdout) as { scanned: number; matched: number };
  if (out.scanned !== records) throw new Error(`search read ${out.scanned} of ${records}`);
  return result(records, run.ms, run.peakRssMiB);
}

/** `export --format csv|jsonl|parquet` of a whole topic; the file is checked for every record. */
export async function benchExport(
  topic: string,
  records: number,
  nodeFlags: string[],
  format: 'csv' | 'jsonl' | 'parquet' = 'csv',
): Promise<ToolBenchResult & { fileMiB: number }> {
  const file = `${LOCAL}/bench/export-${topic}.${format}`;
  const run = await runTool(['export', '--topic', topic, '--format', format, '--output', file], nodeFlags);
  if (run.code !== 0) throw new Error(`export exited with ${run.code}: ${run.stderr}`);
  const fileMiB = Math.round(statSync(file).size / 2 ** 20);
  if (format === 'csv') {
    // One CSV record per CDR after the header (descriptions may hold line breaks: count records).
    let rows = -1;
    let open = false;
    for await (const line of createInterface({ input: createReadStream(file) })) {
      const quotes = (line.match(/"/g) ?? []).length;
      if (!open) rows++;
      if (quotes % 2 === 1) open = !open;
    }
    if (rows !== records) throw new Error(`exported ${rows} of ${records}: ${run.stderr}`);
  }
  if (format === 'jsonl') {
    let rows = 0;
    for await (const line of createInterface({ input: createReadStream(file) })) if (line !== '') rows++;
    if (rows !== records) throw new Error(`exported ${rows} of ${records}: ${run.stderr}`);
  }
  if (format === 'parquet') {
    const python = process.env.PYARROW_PYTHON ?? '';
    if (python === '') throw new Error('PYARROW_PYTHON is not set: run through ./dev bench');
    const read = spawnSync(
      python,
      ['-c', 'import sys, pyarrow.parquet as pq; print(pq.ParquetFile(sys.argv[1]).metadata.num_rows)', file],
      { encoding: 'utf8' },
    );
    const rows = Number(read.stdout.trim());
    if (rows !== records) throw new Error(`pyarrow read ${rows} of ${records} rows: ${read.stderr}`);
  }
  rmSync(file, { force: true });
  if (!run.stderr.includes(`exported ${records.toLocaleString('en')} of`))
    throw new Error(`export did not report ${records}: ${run.stderr}`);
  return { ...result(records, run.ms, run.peakRssMiB), fileMiB };
}

/** `reconcile` over a whole topic (full scan, or --fast from the running totals). */
export async function benchReconcile(
  rawTopic: string,
  totalsTopic: string,
  records: number,
  nodeFlags: string[],
  fast = false,
): Promise<ToolBenchResult> {
  const run = await runTool(
    ['reconcile', '--topic', rawTopic, '--format', 'json', ...(fast ? ['--fast'] : [])],
    nodeFlags,
    { TOPIC_CONTROL_TOTALS: totalsTopic },
  );
  if (run.code !== 0)
    throw new Error(`reconcile exited with ${run.code}: ${run.stderr}${run.stdout.slice(-2000)}`);
  const report = JSON.parse(run.stdout) as { records: number; ok: boolean };
  if (report.records !== records) throw new Error(`reconciled ${report.records} of ${records}`);
  return result(records, run.ms, run.peakRssMiB);
}

/**
 * `reconcile --fast` over a month of running totals as an uncompacted topic holds them at worst:
 * `accounts` accounts, one transaction a minute for 30 days, each writing its period's total
 * (43,200 records per account; compaction would leave one per account and period).
 */
export async function benchReconcileFastMonth(
  accounts: number,
  nodeFlags: string[],
): Promise<{ controlRecords: number; seconds: number; cdrs: number }> {
  const topic = `bench-totals-${Date.now()}`;
  const kafka = new Kafka({
    clientId: 'bench',
    brokers: ADDRESSES.brokers.split(','),
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [topicSpecs.controlTotals(topic, { replicationFactor: STACK_REPLICATION })]);
  await admin.disconnect();
  const schemaId = await registerSchema(
    registryClient({ url: ADDRESSES.registry }),
    'cdr-control',
    `${topic}-value`,
  );
  const type = avroType('cdr-control');
  const producer = kafka.producer();
  await producer.connect();
  const perAccount = 30 * 24 * 60;
  const groups = ['Sales', 'Support', 'Operations', 'Field Team', ''];
  const types = ['M/M', 'M/M3', 'L/L', 'L/LO', 'IB/IB', 'S/S', '8/8', '0/0'];
  let cdrs = 0;
  for (let a = 0; a < accounts; a++) {
    const totals = new Map<string, ControlValue>();
    for (let i = 0; i < perAccount; i += 200) {
      const messages = [];
      for (let j = i; j < Math.min(i + 200, perAccount); j++) {
        const period = j < perAccount / 2 ? '2026-10' : '2026-11';
        const before = totals.get(period);
        const count = (before?.count ?? 0) + 40;
        const value: ControlValue = {
          account: `acct-${a}`,
          billing_period: period,
          topic: 'cdr.raw',
          count,
          seconds: count * 90,
          cost: BigInt(count) * 1_234_567n,
          first_id: before?.first_id ?? j * 40,
          last_id: j * 40 + 39,
          lines: groups.flatMap((g) =>
            types.map((t) => {
              const [type, sub_type] = t.split('/') as [string, string];
              const n = count / 40;
              return {
                billing_group: g,
                type,
                sub_type,
                count: n,
                seconds: n * 90,
                cost: BigInt(n) * 1_234_567n,
                first_id: before?.first_id ?? j * 40,
                last_id: j * 40 + 39,
              };
            }),
          ),
          partitions: [0, 1, 2, 3, 4, 5].map((p) => ({
            partition: p,
            first_offset: 0,
            last_offset: j * 4,
            count,
          })),
          cursor: j * 40 + 39,
          written_at: Date.now(),
        };
        totals.set(period, value);
        messages.push(totalsMessage({ type, schemaId }, value));
      }
      await producer.send({ topic, messages });
    }
    for (const t of totals.values()) cdrs += t.count;
  }
  await producer.disconnect();
  const run = await runTool(['reconcile', '--fast', '--topic', 'cdr.raw', '--format', 'json'], nodeFlags, {
    TOPIC_CONTROL_TOTALS: topic,
  });
  if (run.code !== 0) throw new Error(`reconcile --fast exited with ${run.code}: ${run.stderr}`);
  const report = JSON.parse(run.stdout) as { records: number };
  if (report.records !== cdrs) throw new Error(`--fast counted ${report.records} of ${cdrs}`);
  return { controlRecords: accounts * perAccount, seconds: run.ms / 1000, cdrs };
}
