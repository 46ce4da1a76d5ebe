// The whole pipeline under a broker restart: producer and enricher running, the feed growing, the
// broker stopped and started again. Both recover by themselves; every CDR once in cdr.raw and
// once downstream.
import { describe, expect, it } from 'vitest';
import { down, up } from '../../scripts/stack/index.ts';
import { cleanupAfterEach } from '../helpers/cleanups.ts';
import { spawnCli } from '../helpers/cli-process.ts';
import { enricherEnv, expectOncePerRawRecord, readOutputs } from '../helpers/enricher.ts';
import { readTopics, testKafka } from '../helpers/kafka.ts';
import {
  decodeRaw,
  expectEachIdOnce,
  metricValue,
  producerEnv,
  startTestProducer,
  waitFor,
} from '../helpers/producer.ts';
import { SIM_ACCOUNTS, startTestSimulator } from '../helpers/simulator.ts';

const A = SIM_ACCOUNTS[0] as (typeof SIM_ACCOUNTS)[0];
const cleanups = cleanupAfterEach();

describe('pipeline faults', () => {
  it('recovers producer and enricher from a broker restart under load, without a manual restart', async () => {
    const s = await startTestSimulator({ historyRows: 20_000, growthPerSecond: 300, epochMs: Date.now() });
    cleanups.push(() => s.close());
    const penv = producerEnv(s.url, A, { LOG_LEVEL: 'info', LOG_PROGRESS: 'false' });
    const { producer } = await startTestProducer(penv);
    cleanups.push(() => producer.stop());
    const env = enricherEnv(penv);
    const enricher = spawnCli('enrich', env);
    cleanups.push(enricher.kill);
    const port = await enricher.port;
    const recordsIn = async () =>
      (await metricValue(port, 'cdr_enrich_records_in_total').catch(() => 0)) ?? 0;
    const cursor = async () =>
      (await metricValue(producer.ops.port, 'cdr_cursor_id', { account: A.login }).catch(() => 0)) ?? 0;
    await waitFor(
      'enrichment under way',
      async () => ((await recordsIn()) >= 10_000 ? true : undefined),
      120_000,
    );

    const failures = async () =>
      (await metricValue(producer.ops.port, 'cdr_feed_errors_total', {
        account: A.login,
        kind: 'CDR_KAFKA',
      }).catch(() => 0)) ?? 0;
    const failedBefore = await failures();
    await down(['kafka']);
    cleanups.push(() => up(['kafka']));
    // Nothing commits while the broker is down: where both stand now is where they stopped.
    const [cursorDown, inDown] = [await cursor(), await recordsIn()];
    // Down until the producer has met the outage: a commit failed.
    await waitFor('the producer failing a commit', async () =>
      (await failures()) > failedBefore ? true : undefined,
    );
    await up(['kafka']);

    // Both go on by themselves: new CDRs published, and enriched, after the restart.
    await waitFor(
      'producer after restart',
      async () => ((await cursor()) >= cursorDown + 2000 ? true : undefined),
      120_000,
    );
    await waitFor(
      'enricher after restart',
      async () => ((await recordsIn()) > inDown + 2000 ? true : undefined),
      120_000,
    );
    expect(enricher.child.exitCode).toBeNull();
    await producer.stop();

    const kafka = testKafka();
    const ids = (await readTopics(kafka, [penv.TOPIC_RAW])).map((r) => decodeRaw(r.message).id);
    const cursors = (await readTopics(kafka, [penv.TOPIC_CURSOR])).map(
      (r) => JSON.parse(r.message.value?.toString() ?? '{}') as { lastId: number },
    );
    const last = cursors.at(-1)?.lastId as number;
    expectEachIdOnce(ids, A.firstId, last);
    const out = await readOutputs(kafka, env, ids.length);
    expectOncePerRawRecord(
      out.map((o) => o.value),
      ids.length,
    );
    enricher.child.kill('SIGTERM');
    expect(await enricher.exit).toBe(0);
  });
});
