// The carrier over HTTPS with a private CA (FEED_CA_FILE) and a client certificate it asks for,
// and bodies sent gzip- or deflate-encoded (a decompression bomb refused): real servers in front of
// the simulator, the real producer and broker.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CsvWriter, type RunningSimulator } from '../../src/simulator/index.ts';
import { type Certs, makeCerts, startCarrierFront } from '../helpers/carrier-front.ts';
import { cleanupAfterEach } from '../helpers/cleanups.ts';
import { readTopics, testKafka } from '../helpers/kafka.ts';
import { cursorAt, type LogLines, producerEnv, startTestProducer, waitFor } from '../helpers/producer.ts';
import { SIM_ACCOUNTS, startTestSimulator } from '../helpers/simulator.ts';

const A = SIM_ACCOUNTS[0] as (typeof SIM_ACCOUNTS)[0];
const ROWS = 300;
const cleanups = cleanupAfterEach();
let sim: RunningSimulator;
let certs: Certs;

beforeAll(async () => {
  sim = await startTestSimulator({ historyRows: ROWS });
  certs = makeCerts();
});
afterAll(async () => {
  await sim?.close();
});

async function front(options: Omit<Parameters<typeof startCarrierFront>[0], 'target'>) {
  const f = await startCarrierFront({ target: sim.url, ...options });
  cleanups.push(() => f.close());
  return f;
}

/** Runs the producer against `url` until its cursor is at the last row; every row published once. */
async function publishesAll(url: string, extra: Record<string, string> = {}) {
  const env = producerEnv(url, A, extra);
  const { producer } = await startTestProducer(env);
  cleanups.push(() => producer.stop());
  await cursorAt(producer.ops.port, A.login, A.firstId + ROWS - 1, 60_000);
  await producer.stop();
  const read = await readTopics(testKafka(), [env.TOPIC_RAW]);
  expect(read).toHaveLength(ROWS);
}

/** The first failed poll of a producer against `url`: its code and message. */
async function firstFailure(url: string, extra: Record<string, string> = {}) {
  const env = producerEnv(url, A, extra);
  const { producer, log } = await startTestProducer(env);
  cleanups.push(() => producer.stop());
  const failed = await waitFor('a failed poll', () => failure(log), 30_000);
  await producer.stop();
  const published = await readTopics(testKafka(), [env.TOPIC_RAW]);
  return { ...failed, published: published.length, lines: log.lines.join('\n') };
}

function failure(log: LogLines) {
  const e = log.entries().find((x) => x.msg === 'poll failed');
  return e ? { code: e.code as string, message: String((e.err as { message?: string }).message) } : undefined;
}

describe('the carrier over HTTPS', () => {
  it('trusts a private CA from FEED_CA_FILE; without it, or with another CA, says the certificate is not trusted', async () => {
    const https = await front({ tls: { certs } });
    const untrusted = await firstFailure(https.url);
    expect(untrusted.code).toBe('CDR_FEED_TLS');
    expect(untrusted.message).toMatch(/FEED_CA_FILE/);
    expect(untrusted.published).toBe(0);
    const wrong = await firstFailure(https.url, { FEED_CA_FILE: certs.otherCa });
    expect(wrong.code).toBe('CDR_FEED_TLS');
    await publishesAll(https.url, { FEED_CA_FILE: certs.ca });
  });

  it('presents FEED_CLIENT_CERT_FILE to a carrier that asks for a client certificate', async () => {
    const mtls = await front({ tls: { certs, requireClientCert: true } });
    const refused = await firstFailure(mtls.url, { FEED_CA_FILE: certs.ca });
    expect(['CDR_FEED_TLS', 'CDR_FEED_NETWORK']).toContain(refused.code);
    expect(refused.lines).not.toContain(A.password);
    await publishesAll(mtls.url, {
      FEED_CA_FILE: certs.ca,
      FEED_CLIENT_CERT_FILE: certs.clientCert,
      FEED_CLIENT_KEY_FILE: certs.clientKey,
    });
  });
});

describe('compressed feed bodies', () => {
  for (const encoding of ['gzip', 'deflate'] as const)
    it(`reads a ${encoding} body: every row once`, async () => {
      const f = await front({ encoding });
      await publishesAll(f.url);
      expect(f.compressed).toBeGreaterThan(0);
    });

  it('refuses a body that inflates past FEED_MAX_INFLATE_RATIO, publishing nothing', async () => {
    const f = await front({
      bomb: { header: new CsvWriter('contract').header('\n'), bytes: 64 * 1024 * 1024 },
    });
    const bomb = await firstFailure(f.url);
    expect(bomb.code).toBe('CDR_FEED_ENCODING');
    expect(bomb.message).toMatch(/decompression bomb/);
    expect(bomb.published).toBe(0);
  });
});
