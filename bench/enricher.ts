// Enricher benchmark: one enricher process (the built CLI), exactly once, over a cdr.raw topic
// the producer benchmark filled; Kafka's own ConsumerPerformance on the same topic and
// ProducerPerformance with the same record size as the ceiling; end-to-end latency from feed row
// to enriched record under steady load.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Kafka, logLevel } from 'kafkajs';
import { pino } from 'pino';
import { ADDRESSES, up } from '../scripts/stack/index.ts';
import { ROOT, STACK_KAFKA, STACK_REPLICATION } from '../scripts/stack/paths.ts';
import { startSimulator } from '../src/simulator/index.ts';
import { producerRunEnv, runKafkaTool } from './producer.ts';

export interface EnricherBenchResult {
  records: number;
  seconds: number;
  recordsPerSecond: number;
  peakRssMiB: number;
}

function enricherEnv(rawTopic: string, run: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    KAFKA_BROKERS: ADDRESSES.brokers,
    SCHEMA_REGISTRY_URL: ADDRESSES.registry,
    TOPIC_RAW: rawTopic,
    TOPIC_DLQ: `${run}.dlq`,
    ENRICH_TOPIC_PREFIX: `${run}.enriched.`,
    ENRICH_GROUP_ID: `${run}-group`,
    ENRICH_TRANSACTIONAL_ID_PREFIX: run,
    ENRICH_TOPIC_PARTITIONS: '6',
    TOPIC_REPLICATION_FACTOR: String(STACK_REPLICATION),
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: '0',
    LOG_LEVEL: 'warn',
    ...extra,
  };
}

/** A metric's value from a service's /metrics (`name` may carry its labels); 0 when absent. */
export async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

/** Enriches every record of `rawTopic` (`records` of them) with one enricher process. */
export async function benchEnricher(
  rawTopic: string,
  records: number,
  nodeFlags: string[],
  env: Record<string, string> = {},
): Promise<EnricherBenchResult> {
  await up([STACK_KAFKA, 'registry']);
  const run = `bench-enrich-${Date.now()}`;
  const child = spawn(process.execPath, [...nodeFlags, `${ROOT}/dist/cli.js`, 'enrich'], {
    env: enricherEnv(rawTopic, run, { LOG_LEVEL: 'info', ...env }),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const e = JSON.parse(line) as { msg?: string; port?: number };
      if (e.msg === 'enricher started' && e.port) resolve(e.port);
    });
    child.on('exit', (code) => reject(new Error(`enricher exited with ${code}`)));
  });
  let peakKb = 0;
  let firstAt = 0;
  const t0 = Date.now();
  for (;;) {
    const done = await metric(port, 'cdr_enrich_records_in_total');
    if (done > 0 && firstAt === 0) firstAt = Date.now();
    const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
    peakKb = Math.max(peakKb, Number(m?.[1] ?? 0));
    if (done >= records) break;
    if (Date.now() - t0 > 600_000) throw new Error(`enricher did ${done} of ${records} in 10 minutes`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  // From the group join (first committed batch) to the last: the steady-state rate.
  const seconds = (Date.now() - (firstAt || t0)) / 1000;
  child.kill('SIGTERM');
  await once(child, 'exit');
  return {
    records,
    seconds,
    recordsPerSecond: Math.round(records / seconds),
    peakRssMiB: Math.round(peakKb / 1024),
  };
}

/** Kafka's ConsumerPerformance reading the same topic: the consume side of the ceiling. */
export async function consumerCeiling(
  topic: string,
  records: number,
): Promise<{ recordsPerSecond: number; line: string }> {
  const out = await runKafkaTool([
    'org.apache.kafka.tools.ConsumerPerformance',
    '--bootstrap-server',
    ADDRESSES.brokers,
    '--topic',
    topic,
    '--messages',
    String(records),
    '--group',
    `bench-cp-${Date.now()}`,
    '--consumer.config',
    '/dev/null',
  ]);
  // CSV: start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, ...
  const line =
    out
      .trim()
      .split('\n')
      .filter((l) => /^\d{4}-/.test(l))
      .pop() ?? '';
  const cols = line.split(',').map((c) => c.trim());
  const rate = Number(cols[5]);
  if (!Number.isFinite(rate)) throw new Error(`no summary from ConsumerPerformance:\n${out}`);
  return { recordsPerSecond: Math.round(rate), line };
}

/**
 * End-to-end latency under steady load: the simulator grows at `rate` rows/s, a producer polls it
 * every `pollMs`, an enricher forwards; latency = enriched record's timestamp minus the moment the
 * row appeared in the feed (the simulator's growth schedule gives that moment for each id).
 */
export async function endToEndLatency(rate: number, seconds: number, pollMs: number, nodeFlags: string[]) {
  await up([STACK_KAFKA, 'registry']);
  const run = `bench-e2e-${Date.now()}`;
  const epochMs = Math.floor(Date.now() / 1000) * 1000;
  const sim = await startSimulator(
    {
      host: '127.0.0.1',
      port: 0,
      seed: 3,
      timeZone: 'UTC',
      epochMs,
      historyRows: 0,
      historySpacingMs: 1000,
      growthPerSecond: rate,
      unknownShare: 0.02,
      malformedShare: 0,
      accounts: [{ login: 'e2e', password: 'e2e-password', firstId: 1 }],
      bom: false,
      eol: '\n',
      faults: { latencyMs: 0, rules: [] },
    },
    pino({ level: 'silent' }),
  );
  const producer = spawn(process.execPath, [...nodeFlags, `${ROOT}/dist/cli.js`, 'produce'], {
    env: {
      ...process.env,
      ...producerRunEnv(run),
      FEED_URL: sim.url,
      FEED_LOGIN: 'e2e',
      FEED_PASSWORD: 'e2e-password',
      FEED_POLL_INTERVAL_MS: String(pollMs),
      FEED_TIMEZONE: 'UTC',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const enricher = spawn(process.execPath, [...nodeFlags, `${ROOT}/dist/cli.js`, 'enrich'], {
    env: enricherEnv(`${run}.raw`, run),
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  // Warm-up, then measure the records whose row appeared during the measured window.
  await new Promise((resolve) => setTimeout(resolve, 5000));
  const from = Date.now();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const to = Date.now();
  await new Promise((resolve) => setTimeout(resolve, pollMs + 5000));
  // Stop the load, let the enricher drain, then stop it: the reader below then sees an end.
  producer.kill('SIGTERM');
  await once(producer, 'exit');
  await new Promise((resolve) => setTimeout(resolve, 3000));
  enricher.kill('SIGTERM');
  await once(enricher, 'exit');
  const kafka = new Kafka({ brokers: ADDRESSES.brokers.split(','), logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `${run}-reader` });
  const latencies: number[] = [];
  await consumer.connect();
  const { CATEGORIES } = await import('../src/cdr/catalogue.ts');
  const { avroType } = await import('../src/codec/schemas.ts');
  const { unframe } = await import('../src/codec/wire.ts');
  const type = avroType('cdr-enriched');
  await consumer.subscribe({
    topics: [...CATEGORIES, 'unknown'].map((c) => `${run}.enriched.${c}`),
    fromBeginning: true,
  });
  let idleSince = Date.now();
  await consumer.run({
    eachMessage: async ({ message }) => {
      idleSince = Date.now();
      const v = type.fromBuffer(unframe(message.value as Buffer).body) as { id: number };
      // Row n of a growing feed with no history appears at epoch + n / rate (the simulator's
      // schedule), to the millisecond; its start_time text only keeps whole seconds.
      const appearedAt = epochMs + ((v.id - 1) * 1000) / rate;
      if (appearedAt >= from && appearedAt < to) latencies.push(Number(message.timestamp) - appearedAt);
    },
  });
  while (Date.now() - idleSince < 3000) await new Promise((resolve) => setTimeout(resolve, 200));
  await consumer.disconnect();
  await sim.close();
  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;
  return {
    rate,
    pollMs,
    samples: latencies.length,
    p50Ms: pct(50),
    p99Ms: pct(99),
    maxMs: latencies[latencies.length - 1] ?? NaN,
  };
}
