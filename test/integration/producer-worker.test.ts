// The parse worker (PRODUCER_PARSE_WORKERS, default 1): responses are parsed and encoded on a
// worker thread while the main thread commits. A worker that dies mid-response, and a process
// killed mid-response, lose nothing and publish nothing twice.
import type { Kafka } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { projectedType } from '../../src/codec/schemas.ts';
import { unframe } from '../../src/codec/wire.ts';
import { readToEnd } from '../../src/kafka/bounded-read.ts';
import { cleanupAfterEach } from '../helpers/cleanups.ts';
import { type CliProcess, spawnCli } from '../helpers/cli-process.ts';
import { expectControlsMatchRaw } from '../helpers/control.ts';
import { testKafka } from '../helpers/kafka.ts';
import { cursorAtLeast, producerEnv, startTestProducer } from '../helpers/producer.ts';
import { SIM_ACCOUNTS, startTestSimulator } from '../helpers/simulator.ts';

const A = SIM_ACCOUNTS[0] as (typeof SIM_ACCOUNTS)[0];
const cleanups = cleanupAfterEach();
// `id` is the first field of cdr-raw: a record's id is the start of its Avro body.
const idOnly = projectedType('cdr-raw', ['id']);

/**
 * Reads cdr.raw (read_committed) and checks that every id of first..last is there exactly once,
 * without holding the records: one bit per id.
 */
async function expectEachIdOnceStreamed(kafka: Kafka, topic: string, first: number, last: number) {
  const seen = new Uint8Array(last - first + 1);
  const twice: string[] = [];
  const outside: number[] = [];
  let records = 0;
  await readToEnd(
    kafka,
    [topic],
    (batch) => {
      for (const m of batch.messages) {
        records++;
        const { id } = idOnly.decode(unframe(m.value as Buffer).body, 0).value as { id: number };
        if (id < first || id > last) outside.push(id);
        else if (seen[id - first] === 1) twice.push(`${id} at ${batch.partition}:${m.offset}`);
        else seen[id - first] = 1;
      }
    },
    { timeoutMs: 120_000, groupPrefix: 'test-worker' },
  );
  expect(twice.slice(0, 5), 'ids published twice').toEqual([]);
  expect(outside.slice(0, 5), 'ids outside the feed').toEqual([]);
  expect(seen.indexOf(0), 'first id missing (-1: none)').toBe(-1);
  expect(records).toBe(last - first + 1);
}

/** A simulator whose history is one response of `rows` rows; the last id it holds. */
async function feedOf(rows: number): Promise<{ url: string; last: number }> {
  const s = await startTestSimulator({ historyRows: rows });
  cleanups.push(() => s.close());
  return { url: s.url, last: A.firstId + rows - 1 };
}

describe('producer parse worker', () => {
  it('a worker stopped mid-response: the response is read again from the cursor, every id once', async () => {
    const { url, last } = await feedOf(200_000);
    const env = producerEnv(url, A, { BATCH_MAX_ROWS: '2000', LOG_PROGRESS: 'false' });
    const { producer, log } = await startTestProducer(env);
    cleanups.push(() => producer.stop());

    const before = await cursorAtLeast(producer.ops.port, A.login, A.firstId + 30_000, 120_000);
    await producer.parsers.stopWorkers();
    // Stopped mid-response: rows were still to come.
    expect(before).toBeLessThan(last);
    await cursorAtLeast(producer.ops.port, A.login, last, 180_000);
    await producer.stop();

    // The poll under way failed with the worker's error and the next one went on from the cursor.
    const failed = log.entries().filter((e) => e.msg === 'poll failed');
    expect(failed.map((e) => e.code)).toContain('CDR_PARSE_WORKER');
    const kafka = testKafka();
    await expectEachIdOnceStreamed(kafka, env.TOPIC_RAW, A.firstId, last);
    await expectControlsMatchRaw(kafka, env);
  }, 400_000);

  it('survives SIGKILL during a 1,000,000-row response with the worker path: every id once', async () => {
    const { url, last } = await feedOf(1_000_000);
    const env = producerEnv(url, A, { PRODUCER_PARSE_WORKERS: '1', LOG_PROGRESS: 'false' });
    const spawn = (): CliProcess => {
      const p = spawnCli('produce', { ...env, LOG_LEVEL: 'info' });
      cleanups.push(p.kill);
      return p;
    };

    const first = spawn();
    const before = await cursorAtLeast(await first.port, A.login, A.firstId + 200_000, 180_000);
    first.child.kill('SIGKILL');
    expect(await first.exit).toBeNull();
    expect(before).toBeLessThan(last);

    const second = spawn();
    await cursorAtLeast(await second.port, A.login, last, 300_000);
    second.child.kill('SIGTERM');
    expect(await second.exit).toBe(0);
    // The restart went on from the cursor the killed process had committed, mid-response.
    const resumed = second.lines
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg?: string; cursor?: number })
      .find((e) => e.msg === 'cursor read');
    expect(resumed?.cursor).toBeGreaterThanOrEqual(before);
    expect(resumed?.cursor).toBeLessThan(last);
    await expectEachIdOnceStreamed(testKafka(), env.TOPIC_RAW, A.firstId, last);
    for (const line of [...first.lines, ...second.lines]) expect(line).not.toContain(A.password);
  }, 600_000);
});
