// Producer benchmark: feed on loopback -> cdr.raw with transactions, on the local broker.
//
// The feed body is generated ahead of time into .local/bench/ and served as-is from a file, so the
// simulator's cost is not what is measured. The producer runs as its own process (the real CLI)
// with --cpu-prof; the benchmark reads its throughput from its own log line, its peak RSS from
// /proc, and where its CPU time went from the profile. In the same run Kafka's own
// ProducerPerformance sends the same number of records of the same size, with transactions, as
// the ceiling.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { ADDRESSES, up } from '../scripts/stack/index.ts';
import { kafkaClasspath } from '../scripts/stack/kafka.ts';
import { javaBin, LOCAL, ROOT, STACK_KAFKA, STACK_REPLICATION } from '../scripts/stack/paths.ts';
import { readHeader } from '../src/cdr/header.ts';
import { convertRow } from '../src/cdr/row.ts';
import { TimeZone } from '../src/cdr/time-zone.ts';
import { avroType } from '../src/codec/schemas.ts';
import { CdrGenerator, CsvWriter, type SimLayout } from '../src/simulator/index.ts';
import { watchPeakRss } from './peak-rss.ts';

const ACCOUNT = { login: '90001', password: 'bench-password', firstId: 1, index: 0 };

export interface ProducerBenchResult {
  rows: number;
  seconds: number;
  cdrPerSecond: number;
  peakRssMiB: number;
  /** The cdr.raw topic the run filled (the enricher benchmark reads it). */
  rawTopic: string;
  /** Where CPU time went on the main thread, and on the parse worker (profiled runs). */
  profile?: Record<string, number>;
  workerProfile?: Record<string, number>;
}

/** A benchmark producer's own topics and transactional ids (named after the run), on the local stack. */
export function producerRunEnv(run: string): Record<string, string> {
  return {
    KAFKA_BROKERS: ADDRESSES.brokers,
    SCHEMA_REGISTRY_URL: ADDRESSES.registry,
    TOPIC_RAW: `${run}.raw`,
    TOPIC_CURSOR: `${run}.cursor`,
    TOPIC_CONTROL: `${run}.control`,
    TOPIC_CONTROL_TOTALS: `${run}.control.totals`,
    TOPIC_DLQ: `${run}.dlq`,
    TOPIC_RAW_PARTITIONS: '6',
    TOPIC_REPLICATION_FACTOR: String(STACK_REPLICATION),
    TRANSACTIONAL_ID_PREFIX: run,
    HTTP_PORT: '0',
    LOG_PROGRESS: 'false',
  };
}

/** Writes (once) a feed body of `rows` valid CDRs in a layout and returns its path and average Avro size. */
export async function feedFile(
  rows: number,
  layout: SimLayout = 'contract',
): Promise<{ path: string; avgRecordBytes: number }> {
  const dir = `${LOCAL}/bench`;
  mkdirSync(dir, { recursive: true });
  const path = `${dir}/feed-${layout === 'contract' ? '' : `${layout}-`}${rows}.csv`;
  const writer = new CsvWriter(layout);
  const generator = new CdrGenerator({
    seed: 42,
    timeZone: 'Australia/Sydney',
    epochMs: Date.UTC(2026, 10, 1),
    historyRows: rows,
    historySpacingMs: 5000,
    growthPerSecond: 0,
    unknownShare: 0.02,
    malformedShare: 0,
  });
  if (!existsSync(path)) {
    const out = createWriteStream(`${path}.tmp`);
    out.write(writer.header('\n'));
    let chunk = '';
    for (let n = 0; n < rows; n++) {
      chunk += writer.row(generator.row(ACCOUNT, n), '\n');
      if (chunk.length > 1 << 20) {
        if (!out.write(chunk)) await once(out, 'drain');
        chunk = '';
      }
    }
    out.end(chunk);
    await once(out, 'finish');
    rmSync(path, { force: true });
    await import('node:fs/promises').then((fs) => fs.rename(`${path}.tmp`, path));
  }
  // The same records' Avro size, for Kafka's own tool to send records of that size.
  const type = avroType('cdr-raw');
  const header = readHeader(writer.header('').split(','));
  const zone = new TimeZone('Australia/Sydney');
  let bytes = 0;
  const sample = Math.min(rows, 10_000);
  for (let n = 0; n < sample; n++) {
    const r = convertRow(
      writer.values(generator.row(ACCOUNT, n)),
      header,
      zone,
      { ingested_at: Date.now(), feed_host: '127.0.0.1:1', line: n + 2 },
      ACCOUNT.login,
    );
    if (r.ok) bytes += type.toBuffer(r.cdr).length + 5;
  }
  return { path, avgRecordBytes: Math.round(bytes / sample) };
}

/** Serves the file at /billing/feed for the bench account, whatever fromid says. */
async function serveFile(path: string) {
  const server = createServer((req, res) => {
    if (!req.url?.startsWith('/billing/feed')) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/csv; charset=utf-8', 'content-length': statSync(path).size });
    createReadStream(path, { highWaterMark: 256 * 1024 }).pipe(res);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

export async function benchProducer(
  rows: number,
  options: { profile: boolean; nodeFlags?: string[]; env?: Record<string, string>; layout?: SimLayout },
): Promise<ProducerBenchResult> {
  await up([STACK_KAFKA, 'registry']);
  const { path } = await feedFile(rows, options.layout);
  const { server, url } = await serveFile(path);
  const run = `bench-${Date.now()}`;
  const profDir = `${LOCAL}/bench/prof-${run}`;
  const args = [
    ...(options.nodeFlags ?? []),
    ...(options.profile ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []),
    // The built CLI, as deployed (`npm run bench` builds first): running the TypeScript sources
    // directly costs ~25 MB more for Node's type stripper.
    `${ROOT}/dist/cli.js`,
    'produce',
  ];
  const child = spawn(process.execPath, args, {
    env: {
      ...process.env,
      FEED_URL: url,
      FEED_LOGIN: ACCOUNT.login,
      FEED_PASSWORD: ACCOUNT.password,
      FEED_POLL_INTERVAL_MS: '3600000',
      ...producerRunEnv(run),
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const rss = watchPeakRss(child.pid);
  const result = await new Promise<{ published: number; ms: number }>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (!line.startsWith('{')) {
        // Not a log line: what a diagnostic Node flag (--trace-gc...) prints, passed on.
        process.stderr.write(`${line}\n`);
        return;
      }
      const entry = JSON.parse(line) as { msg?: string; published?: number; ms?: number; level?: string };
      if (entry.msg === 'poll committed') resolve({ published: entry.published ?? 0, ms: entry.ms ?? 0 });
      if (entry.level === 'fatal' || entry.msg === 'poll failed') reject(new Error(line));
    });
    child.on('exit', (code) => reject(new Error(`producer exited with ${code}`)));
  });
  child.kill('SIGTERM');
  await once(child, 'exit');
  const peakRssMiB = rss.stop();
  server.close();
  if (result.published !== rows) throw new Error(`published ${result.published} of ${rows}`);
  const out: ProducerBenchResult = {
    rows,
    seconds: result.ms / 1000,
    cdrPerSecond: Math.round(rows / (result.ms / 1000)),
    peakRssMiB,
    rawTopic: `${run}.raw`,
  };
  if (options.profile) {
    // One profile per thread: CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile, the main thread's id 0.
    const files = readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile'));
    const thread = (f: string) => Number(f.split('.').at(-3));
    const main = files.find((f) => thread(f) === 0);
    const worker = files.find((f) => thread(f) > 0);
    if (main) out.profile = summarizeProfile(`${profDir}/${main}`);
    if (worker) out.workerProfile = summarizeProfile(`${profDir}/${worker}`);
  }
  return out;
}

/** Self time by area, in percent of the samples, from a V8 .cpuprofile. */
export function summarizeProfile(file: string): Record<string, number> {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: Array<{ id: number; callFrame: { url: string; functionName: string } }>;
    samples: number[];
  };
  const area = new Map<number, string>();
  for (const node of profile.nodes) {
    const { url, functionName } = node.callFrame;
    let a = 'other';
    if (/\/(src|dist)\/feed\/csv-records/.test(url)) a = 'CSV parsing (src/feed/csv-records)';
    else if (url.includes('/avsc/') || /\/(src|dist)\/codec\/cdr-raw-writer/.test(url))
      a = 'Avro encoding (avsc, src/codec/cdr-raw-writer)';
    else if (url.includes('/kafkajs/')) a = 'Kafka client (kafkajs: encoding, CRC, I/O)';
    else if (/\/(src|dist)\/cdr\//.test(url)) a = 'row validation and conversion (src/cdr)';
    else if (/\/(src|dist)\//.test(url)) a = 'pipeline code (src/feed, producer, codec)';
    else if (url.includes('/undici/')) a = 'HTTP client (undici)';
    else if (url.includes('/pino/')) a = 'logging (pino)';
    else if (url.startsWith('node:')) a = 'Node internals (buffers, streams, timers)';
    else if (functionName === '(garbage collector)') a = 'garbage collection';
    else if (functionName === '(idle)' || functionName === '(program)') a = 'idle / waiting';
    area.set(node.id, a);
  }
  const counts = new Map<string, number>();
  for (const id of profile.samples)
    counts.set(area.get(id) as string, (counts.get(area.get(id) as string) ?? 0) + 1);
  const total = profile.samples.length;
  return Object.fromEntries(
    [...counts].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, Math.round((1000 * v) / total) / 10]),
  );
}

/** Kafka's own ProducerPerformance: same count, same record size, transactions, acks=all. */
export async function kafkaCeiling(
  rows: number,
  recordBytes: number,
): Promise<{ recordsPerSecond: number; line: string }> {
  // The first thing the benchmark runs (its warm-up): the broker may not be up yet.
  await up([STACK_KAFKA]);
  const topic = `bench-ceiling-${Date.now()}`;
  await runKafkaTool([
    'org.apache.kafka.tools.TopicCommand',
    '--bootstrap-server',
    ADDRESSES.brokers,
    '--create',
    '--topic',
    topic,
    '--partitions',
    '6',
    '--replication-factor',
    String(STACK_REPLICATION),
  ]);
  const out = await runKafkaTool([
    'org.apache.kafka.tools.ProducerPerformance',
    '--topic',
    topic,
    '--num-records',
    String(rows),
    '--record-size',
    String(recordBytes),
    '--throughput',
    '-1',
    '--transactional-id',
    `${topic}-tx`,
    '--transaction-duration-ms',
    '100',
    '--producer-props',
    `bootstrap.servers=${ADDRESSES.brokers}`,
    'acks=all',
    'enable.idempotence=true',
  ]);
  // The last summary line is the total; the ones before it are progress reports.
  const line =
    out
      .split('\n')
      .filter((l) => / records sent, [\d.]+ records\/sec/.test(l))
      .pop() ?? '';
  const m = / records sent, ([\d.]+) records\/sec/.exec(line);
  if (!m) throw new Error(`no summary line from ProducerPerformance:\n${out}`);
  await dropTopics(topic);
  return { recordsPerSecond: Math.round(Number(m[1])), line: line.trim() };
}

/**
 * Deletes a measured run's topics once nothing reads them any more (a benchmark run writes up to
 * 1 GB): the broker then carries the same load into each run, not the logs of every run before.
 */
export async function dropRunTopics(r: Pick<ProducerBenchResult, 'rawTopic'>): Promise<void> {
  await dropTopics(`${r.rawTopic.replace(/\.raw$/, '').replaceAll('.', '\\.')}\\..*`);
}

async function dropTopics(pattern: string): Promise<void> {
  await runKafkaTool([
    'org.apache.kafka.tools.TopicCommand',
    '--bootstrap-server',
    ADDRESSES.brokers,
    '--delete',
    '--topic',
    pattern,
  ]);
}

/** Runs one of Kafka's own command-line tools (a main class in the Kafka jars) to completion. */
export function runKafkaTool(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(javaBin(), ['-Xmx512m', '-cp', kafkaClasspath(), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    p.stdout.on('data', (d) => {
      out += d;
    });
    p.stderr.on('data', (d) => {
      out += d;
    });
    p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(out))));
  });
}
