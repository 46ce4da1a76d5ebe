// Recordings benchmark (`./dev bench recordings [count] [bytes]`): the recordings stage (the built
// CLI, one process) fetching `count` recordings of `bytes` each from the simulator into the local
// S3 server (s3proxy) and committing their references, exactly once (read back and counted);
// beside it, in the same run, a plain upload loop of the same bytes with the same S3 client and the
// same concurrency: the ceiling. Then peak RSS with 16 downloads of 20 MB each in flight.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Kafka, logLevel } from 'kafkajs';
import { pino } from 'pino';
import { SERVICE_ENV } from '../scripts/node-flags.ts';
import { ADDRESSES, up } from '../scripts/stack/index.ts';
import { LOCAL, ROOT, STACK_KAFKA, STACK_REPLICATION } from '../scripts/stack/paths.ts';
import { S3_LOCAL_CREDENTIALS } from '../scripts/stack/s3.ts';
import { loadProducerOptions } from '../src/config/producer.ts';
import { Permits } from '../src/ops/permits.ts';
import { startProducer } from '../src/producer/index.ts';
import {
  legacy17Extras,
  type RunningSimulator,
  recordingBytes,
  startSimulator,
} from '../src/simulator/index.ts';
import { readReferences } from '../src/tools/recordings/index.ts';
import { metric } from './enricher.ts';
import { watchPeakRss } from './peak-rss.ts';
import { producerRunEnv } from './producer.ts';

const ACCOUNT = { login: '40021', password: 'bench-recordings-pw', firstId: 1000 };
const CONCURRENCY = 16;

export interface RecordingsBenchResult {
  recordings: number;
  bytes: number;
  seconds: number;
  recordingsPerSecond: number;
  /** References read back: each CDR id once. */
  exactlyOnce: boolean;
  peakRssMiB: number;
  plainUploadPerSecond: number;
  ratio: number;
}

/** A simulator (17-column layout) whose first rows hold `count` recordings of `bytes`; their ids. */
async function simulatorWith(
  count: number,
  bytes: number,
): Promise<{ sim: RunningSimulator; ids: string[] }> {
  const options = {
    host: '127.0.0.1',
    port: 0,
    seed: 11,
    timeZone: 'Australia/Sydney',
    epochMs: Date.UTC(2026, 10, 1),
    historyRows: 0,
    historySpacingMs: 1000,
    growthPerSecond: 0,
    unknownShare: 0,
    malformedShare: 0,
    accounts: [ACCOUNT],
    bom: false,
    eol: '\n' as const,
    layout: 'legacy17' as const,
    faults: { latencyMs: 0, rules: [] },
    recordings: { bytes, faults: { latencyMs: 0, rules: [] } },
  };
  // How many rows hold `count` recordings, from the simulator's own generator.
  const probe = await startSimulator(options, pino({ level: 'silent' }));
  const account = { login: ACCOUNT.login, firstId: ACCOUNT.firstId, index: 0 };
  const ids: string[] = [];
  let rows = 0;
  while (ids.length < count) {
    if (legacy17Extras(probe.generator.row(account, rows)).recording !== '')
      ids.push(String(probe.generator.idOf(account, rows)));
    rows++;
  }
  await probe.close();
  const sim = await startSimulator({ ...options, historyRows: rows }, pino({ level: 'silent' }));
  return { sim, ids };
}

/** cdr.raw of a fresh run, filled by the producer from the simulator; its topic. */
async function fillRaw(sim: RunningSimulator, run: string, lastId: string): Promise<string> {
  const env = {
    ...producerRunEnv(run),
    FEED_URL: sim.url,
    FEED_LOGIN: ACCOUNT.login,
    FEED_PASSWORD: ACCOUNT.password,
    HTTP_HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
  };
  const producer = await startProducer(loadProducerOptions(env), pino({ level: 'warn' }));
  try {
    for (;;) {
      if ((await metric(producer.ops.port, `cdr_cursor_id{account="${ACCOUNT.login}"}`)) >= Number(lastId))
        break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    await producer.stop();
  }
  return `${run}.raw`;
}

function stageEnv(run: string, rawTopic: string, sim: RunningSimulator): NodeJS.ProcessEnv {
  return {
    ...process.env,
    // As the container image runs it (Dockerfile): its malloc settings.
    ...SERVICE_ENV,
    KAFKA_BROKERS: ADDRESSES.brokers,
    SCHEMA_REGISTRY_URL: ADDRESSES.registry,
    TOPIC_RAW: rawTopic,
    TOPIC_RECORDINGS: `${run}.recordings`,
    TOPIC_DLQ: `${run}.dlq`,
    RECORDINGS_GROUP_ID: `${run}-group`,
    RECORDINGS_TRANSACTIONAL_ID_PREFIX: run,
    TOPIC_REPLICATION_FACTOR: String(STACK_REPLICATION),
    RECORDINGS_URL: `${sim.url}/recordings/`,
    RECORDINGS_CONCURRENCY: String(CONCURRENCY),
    RECORDINGS_ACCOUNT_CONCURRENCY: String(CONCURRENCY),
    RECORDINGS_SPOOL_DIR: `${LOCAL}/bench/spool-${run}`,
    FEED_LOGIN: ACCOUNT.login,
    FEED_PASSWORD: ACCOUNT.password,
    S3_ENDPOINT: ADDRESSES.s3,
    S3_PATH_STYLE: 'true',
    S3_BUCKET: run,
    S3_CREATE_BUCKET: 'true',
    S3_ACCESS_KEY_ID: S3_LOCAL_CREDENTIALS.accessKeyId,
    S3_SECRET_ACCESS_KEY: S3_LOCAL_CREDENTIALS.secretAccessKey,
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: '0',
    LOG_LEVEL: 'info',
  };
}

/** One recordings stage process over `rawTopic` until `expected` references are committed. */
async function runStage(env: NodeJS.ProcessEnv, expected: number, nodeFlags: string[]) {
  const child = spawn(process.execPath, [...nodeFlags, `${ROOT}/dist/cli.js`, 'recordings'], {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const rss = watchPeakRss(child.pid);
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const e = JSON.parse(line) as { msg?: string; port?: number };
      if (e.msg === 'recordings stage started' && e.port) resolve(e.port);
    });
    child.on('exit', (code) => reject(new Error(`the recordings stage exited with ${code}`)));
  });
  const t0 = Date.now();
  let firstAt = 0;
  for (;;) {
    const done = await metric(port, 'cdr_recordings_references_total');
    if (firstAt === 0 && (await metric(port, 'cdr_recordings_stored_total')) > 0) firstAt = Date.now();
    if (done >= expected) break;
    if (Date.now() - t0 > 900_000) throw new Error(`${done} of ${expected} references in 15 minutes`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  // From the group join (the first recording stored) to the last reference committed.
  const seconds = (Date.now() - (firstAt || t0)) / 1000;
  child.kill('SIGTERM');
  await once(child, 'exit');
  return { seconds, peakRssMiB: rss.stop() };
}

/** The same bytes uploaded by a plain loop: PutObject from files, CONCURRENCY at once. */
async function plainUploads(run: string, ids: string[], bytes: number): Promise<number> {
  const dir = `${LOCAL}/bench/plain-${run}`;
  mkdirSync(dir, { recursive: true });
  for (const id of ids) writeFileSync(`${dir}/${id}.mp3`, recordingBytes(id, bytes));
  const client = new S3Client({
    endpoint: ADDRESSES.s3,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { ...S3_LOCAL_CREDENTIALS },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const bucket = `${run}-plain`;
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  const permits = new Permits(CONCURRENCY);
  const t0 = Date.now();
  await Promise.all(
    ids.map((id) =>
      permits.run(() =>
        client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: `${id}.mp3`,
            Body: createReadStream(`${dir}/${id}.mp3`),
            ContentLength: statSync(`${dir}/${id}.mp3`).size,
            ContentType: 'audio/mpeg',
          }),
        ),
      ),
    ),
  );
  const perSecond = ids.length / ((Date.now() - t0) / 1000);
  client.destroy();
  rmSync(dir, { recursive: true, force: true });
  return perSecond;
}

export async function benchRecordings(
  count: number,
  bytes: number,
  nodeFlags: string[],
): Promise<RecordingsBenchResult> {
  await up([STACK_KAFKA, 'registry', 's3']);
  const run = `bench-rec-${Date.now()}`;
  const { sim, ids } = await simulatorWith(count, bytes);
  try {
    const rawTopic = await fillRaw(sim, run, ids[ids.length - 1] as string);
    const env = stageEnv(run, rawTopic, sim);
    const stage = await runStage(env, ids.length, nodeFlags);
    const kafka = new Kafka({ brokers: [ADDRESSES.brokers], logLevel: logLevel.NOTHING });
    const refs = await readReferences(kafka, env.TOPIC_RECORDINGS as string, { url: ADDRESSES.registry });
    const exactlyOnce = refs.length === ids.length && new Set(refs.map((r) => r.id)).size === ids.length;
    const plainUploadPerSecond = await plainUploads(run, ids, bytes);
    const recordingsPerSecond = ids.length / stage.seconds;
    return {
      recordings: ids.length,
      bytes,
      seconds: stage.seconds,
      recordingsPerSecond: Math.round(recordingsPerSecond),
      exactlyOnce,
      peakRssMiB: stage.peakRssMiB,
      plainUploadPerSecond: Math.round(plainUploadPerSecond),
      ratio: recordingsPerSecond / plainUploadPerSecond,
    };
  } finally {
    await sim.close();
  }
}

/** Peak RSS of the stage with CONCURRENCY downloads of `bytes` (20 MB) in flight. */
export async function benchRecordingsMemory(bytes: number, nodeFlags: string[]) {
  await up([STACK_KAFKA, 'registry', 's3']);
  const run = `bench-rec-rss-${Date.now()}`;
  const { sim, ids } = await simulatorWith(CONCURRENCY * 4, bytes);
  try {
    const rawTopic = await fillRaw(sim, run, ids[ids.length - 1] as string);
    const env = stageEnv(run, rawTopic, sim);
    const stage = await runStage(env, ids.length, nodeFlags);
    return {
      recordings: ids.length,
      bytes,
      inFlight: CONCURRENCY,
      seconds: stage.seconds,
      peakRssMiB: stage.peakRssMiB,
    };
  } finally {
    await sim.close();
  }
}
