// The recordings stage against the real broker and registry, the real S3 server (s3proxy) and the
// real egress proxy of the stack (its connections leave from 127.0.0.2, the only address the
// simulator's recordings allow): every recording of a few thousand CDRs stored once and referenced
// once, bytes equal to what the carrier served; a SIGKILL mid-run; each of the carrier's answers.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PROXY_LOG } from '../../scripts/stack/proxy.ts';
import { S3_LOCAL_CREDENTIALS } from '../../scripts/stack/s3.ts';
import { avroType } from '../../src/codec/schemas.ts';
import { unframe } from '../../src/codec/wire.ts';
import { loadRecordingsOptions } from '../../src/config/recordings.ts';
import { type RunningRecordings, startRecordings } from '../../src/recordings/index.ts';
import {
  legacy17Extras,
  type RecordingFault,
  type RunningSimulator,
  recordingBytes,
} from '../../src/simulator/index.ts';
import { cleanupAfterEach } from '../helpers/cleanups.ts';
import { runCli, spawnCli } from '../helpers/cli-process.ts';
import { readTopics, testKafka, uniqueName } from '../helpers/kafka.ts';
import {
  cursorAt,
  type LogLines,
  memoryLogger,
  metricValue,
  producerEnv,
  startTestProducer,
  waitFor,
} from '../helpers/producer.ts';
import { scram, securedHelpers } from '../helpers/secured.ts';
import { SIM_ACCOUNTS, startTestSimulator } from '../helpers/simulator.ts';

const A = SIM_ACCOUNTS[0] as (typeof SIM_ACCOUNTS)[0];
const ROWS = 3000;
const BYTES = 20_000;
const referenceType = avroType('cdr-recording');
const cleanups = cleanupAfterEach();

let sim: RunningSimulator;
let rawTopic: string;
/** The ids of the CDRs that name a recording, and their paths. */
let expected: Map<string, string>;

beforeAll(async () => {
  sim = await startTestSimulator({
    historyRows: ROWS,
    layout: 'legacy17',
    recordings: { bytes: BYTES, allow: ['127.0.0.2'], faults: { latencyMs: 0, rules: [] } },
  });
  const account = { login: A.login, firstId: A.firstId, index: 0 };
  expected = new Map();
  for (let n = 0; n < ROWS; n++) {
    const path = legacy17Extras(sim.generator.row(account, n)).recording;
    if (path !== '') expected.set(String(sim.generator.idOf(account, n)), path);
  }
  const env = producerEnv(sim.url, A);
  const { producer } = await startTestProducer(env);
  try {
    await cursorAt(producer.ops.port, A.login, sim.generator.idOf(account, ROWS - 1), 120_000);
  } finally {
    await producer.stop();
  }
  rawTopic = env.TOPIC_RAW;
}, 180_000);

afterAll(async () => {
  await sim?.close();
});

function recordingsEnv(overrides: Record<string, string> = {}): Record<string, string> {
  const run = uniqueName('r');
  return {
    KAFKA_BROKERS: inject('brokers'),
    SCHEMA_REGISTRY_URL: inject('registryUrl'),
    TOPIC_RAW: rawTopic,
    TOPIC_RECORDINGS: `${run}.recordings`,
    TOPIC_DLQ: `${run}.dlq`,
    RECORDINGS_GROUP_ID: `${run}-group`,
    RECORDINGS_TRANSACTIONAL_ID_PREFIX: run,
    RECORDINGS_TOPIC_PARTITIONS: '3',
    RECORDINGS_SESSION_TIMEOUT_MS: '8000',
    TOPIC_REPLICATION_FACTOR: '1',
    RECORDINGS_URL: `${sim.url}/recordings/`,
    FEED_LOGIN: A.login,
    FEED_PASSWORD: A.password,
    FEED_PROXY_URL: inject('proxyUrl'),
    S3_ENDPOINT: inject('s3Url'),
    S3_PATH_STYLE: 'true',
    S3_BUCKET: run.toLowerCase(),
    S3_CREATE_BUCKET: 'true',
    S3_ACCESS_KEY_ID: S3_LOCAL_CREDENTIALS.accessKeyId,
    S3_SECRET_ACCESS_KEY: S3_LOCAL_CREDENTIALS.secretAccessKey,
    RECORDINGS_RETRY_MIN_MS: '100',
    RECORDINGS_RETRY_MAX_MS: '1000',
    RECORDINGS_SPOOL_DIR: mkdtempSync(join(tmpdir(), 'cdr-spool-')),
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: '0',
    LOG_LEVEL: 'debug',
    ...overrides,
  };
}

async function startStage(env: Record<string, string>): Promise<{ stage: RunningRecordings; log: LogLines }> {
  const { logger, log } = memoryLogger();
  const stage = await startRecordings(loadRecordingsOptions(env), logger);
  cleanups.push(() => stage.stop());
  return { stage, log };
}

function s3(): S3Client {
  const client = new S3Client({
    endpoint: inject('s3Url'),
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: S3_LOCAL_CREDENTIALS,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  cleanups.push(async () => client.destroy());
  return client;
}

interface Reference {
  id: number;
  account: string;
  bucket: string;
  object_key: string;
  size: number;
  sha256: string;
  fetched_at: number;
  source_path: string;
}

async function references(env: Record<string, string>): Promise<Reference[]> {
  const read = await readTopics(testKafka(), [env.TOPIC_RECORDINGS as string]);
  return read.map((r) => referenceType.fromBuffer(unframe(r.message.value as Buffer).body) as Reference);
}

async function deadLetters(env: Record<string, string>) {
  const read = await readTopics(testKafka(), [env.TOPIC_DLQ as string]);
  return read.map((r) => JSON.parse(r.message.value?.toString() ?? '{}') as Record<string, unknown>);
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function setFaults(rules: RecordingFault[]): void {
  sim.recordings.options.faults.rules = rules;
  cleanups.push(async () => {
    sim.recordings.options.faults.rules = [];
  });
}

/** Waits until the stage has committed a reference to every recording. */
async function everyReferenceCommitted(stage: RunningRecordings): Promise<void> {
  await waitFor(
    'every reference committed',
    async () =>
      (await metricValue(stage.ops.port, 'cdr_recordings_references_total')) === expected.size || undefined,
    120_000,
  );
}

describe('recordings', () => {
  it('runs over SASL_SSL (SCRAM-SHA-512) with only the recordings role’s ACLs', async () => {
    const { grant, expectNoSecret } = securedHelpers(cleanups);
    const env = recordingsEnv({ ...scram('cdr-recordings'), LOG_LEVEL: 'info' });
    await grant('recordings', env);
    const { stage, log } = await startStage(env);
    await everyReferenceCommitted(stage);
    expect((await references(env)).length).toBe(expected.size);
    expect((await fetch(`http://127.0.0.1:${stage.ops.port}/readyz`)).status).toBe(200);
    expectNoSecret(log.lines.join('\n'));
  });

  it('stores every recording of a few thousand CDRs once, through the egress proxy, bytes as served, credentials nowhere', async () => {
    const proxyLinesBefore = readFileSync(PROXY_LOG, 'utf8').split('\n').length;
    const servedBefore = sim.recordings.log.length;
    const env = recordingsEnv();
    const { stage, log } = await startStage(env);
    await everyReferenceCommitted(stage);
    const refs = await references(env);
    expect(refs.map((r) => String(r.id)).sort()).toEqual([...expected.keys()].sort());
    const client = s3();
    for (const r of refs.slice(0, 40)) {
      const body = Buffer.from(
        (await (
          await client.send(new GetObjectCommand({ Bucket: r.bucket, Key: r.object_key }))
        ).Body?.transformToByteArray()) as Uint8Array,
      );
      const served = recordingBytes(String(r.id), BYTES);
      expect(body.equals(served)).toBe(true);
      expect(r.sha256).toBe(sha256(served));
      expect(r.size).toBe(served.length);
      expect(r.source_path).toBe(expected.get(String(r.id)));
    }
    const listed = await client.send(new ListObjectsV2Command({ Bucket: env.S3_BUCKET, MaxKeys: 1000 }));
    expect(listed.KeyCount).toBe(expected.size);
    // Through the proxy only: every request the simulator saw came from the egress address, and
    // the proxy logged one request per recording (host and path, never the query).
    const served = sim.recordings.log.slice(servedBefore);
    expect(served.length).toBe(expected.size);
    expect(new Set(served.map((s) => s.remote))).toEqual(new Set(['127.0.0.2']));
    const proxied = readFileSync(PROXY_LOG, 'utf8')
      .split('\n')
      .slice(proxyLinesBefore - 1)
      .filter((l) => l.includes(`127.0.0.1:${sim.port}`) && l.includes('/recordings/'));
    expect(proxied.length).toBe(expected.size);
    // The account's password: in no log line, topic record, object metadata, metric or proxy line.
    const metrics = await (await fetch(`http://127.0.0.1:${stage.ops.port}/metrics`)).text();
    const head = await client.send(
      new HeadObjectCommand({ Bucket: env.S3_BUCKET, Key: refs[0]?.object_key }),
    );
    for (const text of [
      log.lines.join('\n'),
      JSON.stringify(refs),
      JSON.stringify(head.Metadata),
      metrics,
      proxied.join('\n'),
    ])
      expect(text).not.toContain(A.password);
  });

  it('a SIGKILL mid-run and a restart: every recording referenced once, no object written twice', async () => {
    const env = recordingsEnv({ LOG_LEVEL: 'info', RECORDINGS_CONCURRENCY: '4' });
    // Slow downloads, so that the kill lands while some are in flight.
    setFaults([{ kind: 'stall', stallMs: 150 }]);
    const first = spawnCli('recordings', env);
    cleanups.push(() => first.kill());
    const port = await first.port;
    await waitFor(
      'some recordings stored',
      async () => ((await metricValue(port, 'cdr_recordings_stored_total')) ?? 0) >= 30 || undefined,
      60_000,
    );
    first.child.kill('SIGKILL');
    await first.exit;
    const before = await references(env);
    expect(before.length).toBeLessThan(expected.size);
    const second = spawnCli('recordings', env);
    cleanups.push(() => second.kill());
    const port2 = await second.port;
    await waitFor(
      'every recording referenced',
      async () => ((await references(env)).length >= expected.size ? true : undefined),
      120_000,
    );
    const refs = await references(env);
    expect(refs.map((r) => String(r.id)).sort()).toEqual([...expected.keys()].sort());
    // Stored before the kill and referenced after it: found in storage, not fetched again.
    expect((await metricValue(port2, 'cdr_recordings_reused_total')) ?? 0).toBeGreaterThan(0);
    const client = s3();
    const listed = await client.send(new ListObjectsV2Command({ Bucket: env.S3_BUCKET, MaxKeys: 1000 }));
    expect(listed.KeyCount).toBe(expected.size);
    // Each object is the one its reference names: written once (a rewrite would carry a later time).
    for (const r of refs.slice(0, 60)) {
      const head = await client.send(new HeadObjectCommand({ Bucket: r.bucket, Key: r.object_key }));
      expect(Number(head.Metadata?.['fetched-at'])).toBe(r.fetched_at);
      expect(head.Metadata?.sha256).toBe(r.sha256);
    }
    second.child.kill('SIGTERM');
    expect(await second.exit).toBe(0);
  });

  it('reconcile --recordings: exit 0 when every recording is stored as referenced, 1 naming a missing, an altered and an orphan object', async () => {
    const env = recordingsEnv();
    const { stage } = await startStage(env);
    await everyReferenceCommitted(stage);
    await stage.stop();
    const toolEnv = { ...env, TOPIC_RAW: rawTopic };
    const clean = await runCli(['reconcile', '--recordings', '--format', 'json'], toolEnv);
    expect(clean.stderr).toBe('');
    expect(clean.code).toBe(0);
    expect(JSON.parse(clean.stdout)).toMatchObject({
      cdrs: expected.size,
      references: expected.size,
      objects: expected.size,
      hashed: expected.size,
      differences: [],
      ok: true,
    });

    // The billing team's view: how far it is, one recording as a file and as a presigned URL.
    const status = await runCli(['recordings', 'status', '--json'], toolEnv);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({
      withRecording: expected.size,
      fetched: expected.size,
      pending: 0,
      failed: {},
      duplicateReferences: 0,
    });
    const refs = await references(env);
    const [gone, altered, third] = refs as [Reference, Reference, Reference];
    const out = join(mkdtempSync(join(tmpdir(), 'cdr-get-')), 'call.mp3');
    const got = await runCli(['recordings', 'get', String(third.id), '--out', out], toolEnv);
    expect(got.code).toBe(0);
    expect(readFileSync(out).equals(recordingBytes(String(third.id), BYTES))).toBe(true);
    const url = await runCli(['recordings', 'get', String(third.id), '--expires', '5m', '--json'], toolEnv);
    const presigned = JSON.parse(url.stdout) as { url: string; expiresAt: string };
    const fetched = await fetch(presigned.url);
    expect(Buffer.from(await fetched.arrayBuffer()).equals(recordingBytes(String(third.id), BYTES))).toBe(
      true,
    );
    expect(new URL(presigned.url).searchParams.get('X-Amz-Expires')).toBe('300');
    expect((await runCli(['recordings', 'get', '999999999999'], toolEnv)).code).toBe(1);
    const client = s3();
    await client.send(new DeleteObjectCommand({ Bucket: gone.bucket, Key: gone.object_key }));
    // Same size, other bytes, and the reference's SHA-256 kept in its metadata: only reading the bytes tells.
    const body = Buffer.alloc(altered.size, 7);
    await client.send(
      new PutObjectCommand({
        Bucket: altered.bucket,
        Key: altered.object_key,
        Body: body,
        Metadata: { sha256: altered.sha256 },
      }),
    );
    const orphan = `${A.login}/2026-01/123.mp3`;
    await client.send(new PutObjectCommand({ Bucket: env.S3_BUCKET, Key: orphan, Body: Buffer.from('x') }));
    const found = await runCli(['reconcile', '--recordings', '--format', 'json'], toolEnv);
    expect(found.code).toBe(1);
    const report = JSON.parse(found.stdout) as { differences: Array<{ kind: string; key?: string }> };
    expect(report.differences.map((d) => `${d.kind} ${d.key}`).sort()).toEqual(
      [
        `object_missing ${gone.object_key}`,
        `orphan_object ${orphan}`,
        `sha256_differs ${altered.object_key}`,
      ].sort(),
    );
    // Trusting the metadata misses the altered bytes, and says it did not read them.
    const trusting = await runCli(['reconcile', '--recordings', '--no-hash', '--format', 'json'], toolEnv);
    expect(JSON.parse(trusting.stdout)).toMatchObject({ hashed: 0 });
    expect(trusting.code).toBe(1);
    // A scope without those CDRs and keys is clean.
    const other = await runCli(['reconcile', '--recordings', '--period', '1999-01'], toolEnv);
    expect(other.code).toBe(0);
  });

  it('rides out 503 and 429 with Retry-After, HTML, empty and short bodies, a stalled body and recordings not there yet', async () => {
    setFaults([
      { kind: 'status', status: 503, retryAfterSeconds: 1, count: 2 },
      { kind: 'html', count: 2 },
      { kind: 'empty', count: 2 },
      { kind: 'short', count: 2 },
      { kind: 'status', status: 429, count: 2 },
      { kind: 'stall', stallMs: 1500, count: 1 },
      { kind: 'late', times: 2 },
    ]);
    const env = recordingsEnv({ RECORDINGS_BODY_IDLE_TIMEOUT_MS: '500' });
    const { stage, log } = await startStage(env);
    await waitFor(
      'every reference committed',
      async () =>
        (await metricValue(stage.ops.port, 'cdr_recordings_references_total')) === expected.size || undefined,
      180_000,
    );
    const failures = (code: string) => metricValue(stage.ops.port, 'cdr_recordings_failures_total', { code });
    // Each fault was met and named for what it was.
    const tries = log
      .entries()
      .filter((e) => e.msg === 'a recording try failed')
      .map((e) => String((e.err as { message?: string } | undefined)?.message));
    for (const seen of [
      'HTTP 503',
      'HTTP 429',
      'HTML page',
      'empty body',
      'where Content-Length said',
      'timed out',
    ])
      expect(
        tries.some((m) => m.includes(seen)),
        seen,
      ).toBe(true);
    expect(await failures('CDR_RECORDING_UNAVAILABLE')).toBeGreaterThanOrEqual(5);
    expect(await failures('CDR_RECORDING_BAD_BODY')).toBeGreaterThanOrEqual(6);
    expect(await failures('CDR_RECORDING_NOT_FOUND')).toBeGreaterThanOrEqual(2 * expected.size);
    expect(await deadLetters(env)).toEqual([]);
    const refs = await references(env);
    expect(new Set(refs.map((r) => r.id)).size).toBe(expected.size);
    expect(new Set(refs.map((r) => r.sha256)).size).toBe(expected.size);
  });

  it('dead-letters a recording still missing after RECORDINGS_MAX_WAIT, and one over RECORDINGS_MAX_BYTES, with their reasons', async () => {
    setFaults([{ kind: 'status', status: 404 }]);
    const missing = recordingsEnv({ RECORDINGS_MAX_WAIT_MS: '0' });
    const { stage } = await startStage(missing);
    await waitFor(
      'every recording dead-lettered',
      async () =>
        (await metricValue(stage.ops.port, 'cdr_recordings_dead_lettered_total', {
          code: 'CDR_RECORDING_NOT_FOUND',
        })) === expected.size || undefined,
      120_000,
    );
    const dead = await deadLetters(missing);
    expect(dead).toHaveLength(expected.size);
    expect(dead[0]).toMatchObject({
      errorCode: 'CDR_RECORDING_NOT_FOUND',
      field: 'recording',
      account: A.login,
    });
    expect(dead.map((d) => d.raw)).toContain(expected.get(String(dead[0]?.id)));
    expect(await references(missing)).toEqual([]);

    setFaults([]);
    const large = recordingsEnv({ RECORDINGS_MAX_BYTES: String(BYTES / 2) });
    const big = await startStage(large);
    await waitFor(
      'every recording dead-lettered as too large',
      async () =>
        (await metricValue(big.stage.ops.port, 'cdr_recordings_dead_lettered_total', {
          code: 'CDR_RECORDING_TOO_LARGE',
        })) === expected.size || undefined,
      120_000,
    );
    expect((await deadLetters(large))[0]).toMatchObject({ errorCode: 'CDR_RECORDING_TOO_LARGE' });
  });

  it('a wrong password or an address the carrier refuses: one clear error each, not ready on 403, nothing dead-lettered or lost', async () => {
    const wrong = recordingsEnv({ FEED_PASSWORD: 'not-the-password' });
    const bad = await startStage(wrong);
    await waitFor(
      'the login refused',
      async () =>
        (await metricValue(bad.stage.ops.port, 'cdr_recordings_refused', { reason: 'login' })) === 1 ||
        undefined,
    );
    // The carrier is asked again (the recordings wait for a fixed password): still one error line.
    await waitFor(
      'a few more refusals',
      async () =>
        ((await metricValue(bad.stage.ops.port, 'cdr_recordings_failures_total', {
          code: 'CDR_RECORDING_AUTH',
        })) ?? 0) >= 20 || undefined,
    );
    const authErrors = bad.log.entries().filter((e) => e.level === 50);
    expect(authErrors).toHaveLength(1);
    expect(String(authErrors[0]?.msg)).toMatch(/401.*password/);
    expect(bad.log.lines.join('\n')).not.toContain('not-the-password');

    // No proxy: the requests leave from 127.0.0.1, which the carrier does not whitelist.
    const direct = recordingsEnv({ FEED_PROXY_URL: '' });
    delete direct.FEED_PROXY_URL;
    const forbidden = await startStage(direct);
    await waitFor(
      'the address refused',
      async () =>
        (await metricValue(forbidden.stage.ops.port, 'cdr_recordings_refused', { reason: 'address' })) ===
          1 || undefined,
    );
    const ready = await fetch(`http://127.0.0.1:${forbidden.stage.ops.port}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ addressRefused: true });
    const errors = forbidden.log.entries().filter((e) => e.level === 50);
    expect(errors).toHaveLength(1);
    expect(String(errors[0]?.msg)).toMatch(/403.*whitelisted/);
    for (const env of [wrong, direct]) {
      expect(await deadLetters(env)).toEqual([]);
      expect(await references(env)).toEqual([]);
    }
  });
});
