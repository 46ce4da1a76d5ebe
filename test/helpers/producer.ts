// The producer under test, configured like a user would (environment variables through the real
// config loader), logging JSON lines into memory so tests can read them back.
import { Writable } from 'node:stream';
import type { KafkaMessage } from 'kafkajs';
import { pino } from 'pino';
import { expect, inject } from 'vitest';
import { bytesToDecimalString } from '../../src/cdr/decimal.ts';
import { avroType } from '../../src/codec/schemas.ts';
import { unframe } from '../../src/codec/wire.ts';
import { loadProducerOptions } from '../../src/config/producer.ts';
import { REDACT_PATHS } from '../../src/ops/logger.ts';
import { type RunningProducer, startProducer } from '../../src/producer/index.ts';
import { uniqueName } from './kafka.ts';

export function producerEnv(
  feedUrl: string,
  account: { login: string; password: string },
  overrides: Record<string, string> = {},
) {
  const run = uniqueName('p');
  return {
    FEED_URL: feedUrl,
    FEED_LOGIN: account.login,
    FEED_PASSWORD: account.password,
    KAFKA_BROKERS: inject('brokers'),
    SCHEMA_REGISTRY_URL: inject('registryUrl'),
    TOPIC_RAW: `${run}.raw`,
    TOPIC_CURSOR: `${run}.cursor`,
    TOPIC_CONTROL: `${run}.control`,
    TOPIC_CONTROL_TOTALS: `${run}.control.totals`,
    TOPIC_DLQ: `${run}.dlq`,
    TOPIC_RAW_PARTITIONS: '3',
    TOPIC_REPLICATION_FACTOR: '1',
    TRANSACTIONAL_ID_PREFIX: run,
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: '0',
    FEED_POLL_INTERVAL_MS: '200',
    FEED_BACKOFF_MIN_MS: '100',
    FEED_BACKOFF_MAX_MS: '1000',
    FEED_AUTH_RETRY_MS: '500',
    BATCH_MAX_ROWS: '500',
    BATCH_MAX_MS: '200',
    LOG_LEVEL: 'debug',
    ...overrides,
  };
}

export interface LogLines {
  lines: string[];
  entries(): Array<Record<string, unknown>>;
}

export function memoryLogger() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      cb();
    },
  });
  const logger = pino({ level: 'debug', redact: { paths: [...REDACT_PATHS], censor: '[redacted]' } }, stream);
  const log: LogLines = { lines, entries: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
  return { logger, log };
}

export async function startTestProducer(
  env: Record<string, string>,
): Promise<{ producer: RunningProducer; log: LogLines }> {
  const { logger, log } = memoryLogger();
  const producer = await startProducer(loadProducerOptions(env), logger);
  return { producer, log };
}

const rawType = avroType('cdr-raw');

export interface DecodedCdr {
  id: number;
  billing_group: string;
  cost: string;
  cost_text: string;
  description: string;
  extra: Record<string, string>;
  start_time: number;
  start_time_text: string;
  [field: string]: unknown;
}

export function decodeRaw(message: KafkaMessage): DecodedCdr {
  const { body } = unframe(message.value as Buffer);
  const value = rawType.fromBuffer(body) as DecodedCdr & { cost: Buffer };
  return { ...value, cost: bytesToDecimalString(value.cost) };
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function metricValue(
  port: number,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (want.every((w) => line.includes(w))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

/** Every id from `first` to `last` exactly once (no gap, no duplicate). */
export function expectEachIdOnce(ids: readonly number[], first: number, last: number): void {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const id of ids) {
    if (id < min) min = id;
    if (id > max) max = id;
  }
  expect(new Set(ids).size).toBe(ids.length);
  expect(ids).toHaveLength(last - first + 1);
  expect(min).toBe(first);
  expect(max).toBe(last);
}

/** Waits until the producer's cursor metric for `login` is exactly `id` (every row up to it committed). */
export async function cursorAt(port: number, login: string, id: number, timeoutMs = 60_000): Promise<void> {
  await waitFor(
    `cursor of ${login} at ${id}`,
    async () => ((await metricValue(port, 'cdr_cursor_id', { account: login })) === id ? true : undefined),
    timeoutMs,
  );
}

/** Waits until the producer's cursor metric for `login` is at least `id`; returns it. */
export async function cursorAtLeast(
  port: number,
  login: string,
  id: number,
  timeoutMs = 120_000,
): Promise<number> {
  return waitFor(
    `cursor of ${login} >= ${id}`,
    async () => {
      const v = await metricValue(port, 'cdr_cursor_id', { account: login }).catch(() => undefined);
      return v !== undefined && v >= id ? v : undefined;
    },
    timeoutMs,
  );
}
