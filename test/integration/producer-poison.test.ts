// Bodies that end cleanly in the middle of a row, and poison rows (oversized, unclosed quote):
// every CDR exactly once, no spurious dead letter, the producer never stuck.
import { describe, expect, it } from 'vitest';
import type { SimulatorOptions } from '../../src/simulator/index.ts';
import { cleanupAfterEach } from '../helpers/cleanups.ts';
import { feedServer } from '../helpers/feed-server.ts';
import { readTopics, testKafka } from '../helpers/kafka.ts';
import {
  cursorAt,
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

async function run(sim: Partial<SimulatorOptions>, rows: number, env: Record<string, string> = {}) {
  const s = await startTestSimulator({ historyRows: rows, ...sim });
  cleanups.push(() => s.close());
  const e = producerEnv(s.url, A, env);
  const { producer, log } = await startTestProducer(e);
  cleanups.push(() => producer.stop());
  await cursorAt(producer.ops.port, A.login, A.firstId + rows - 1, 120_000);
  await producer.stop();
  const kafka = testKafka();
  const raw = (await readTopics(kafka, [e.TOPIC_RAW])).map((r) => decodeRaw(r.message));
  const dlq = (await readTopics(kafka, [e.TOPIC_DLQ])).map(
    (r) => JSON.parse(r.message.value?.toString() ?? '') as Record<string, string | number>,
  );
  return { sim: s, raw, dlq, log };
}

describe('producer: bodies that end cleanly mid-row', () => {
  for (const inside of ['field', 'quoted'] as const) {
    it(`holds a last row cut ${inside === 'field' ? 'right after a whole field' : 'inside a quoted field'} and fetches it whole on the next poll`, async () => {
      const rows = 3000;
      const { sim, raw, dlq } = await run(
        { faults: { latencyMs: 0, rules: [{ kind: 'cut', afterRows: 1700, inside, count: 1 }] } },
        rows,
      );
      // The cut happened: the first response ended inside row 1700, the next ones were whole.
      expect(sim.stats.requests).toBeGreaterThanOrEqual(2);
      expectEachIdOnce(
        raw.map((c) => c.id),
        A.firstId,
        A.firstId + rows - 1,
      );
      expect(dlq).toEqual([]);
      // The held row was published with its full values, not the cut ones.
      const held = raw.find((c) => c.id === A.firstId + 1700);
      const expected = sim.generator.row({ login: A.login, firstId: A.firstId, index: 0 }, 1700);
      expect(held).toMatchObject({ description: expected.description, cost_text: expected.cost });
    });
  }

  it('accepts a last row without a line end when two responses end with it identically', async () => {
    // A feed that never ends its last line: the row must not be held forever.
    const header =
      'id,account,billing_group,billing_period,start_time,from,to,seconds,type,sub_type,cost,description\n';
    const row = (id: number) =>
      `${id},40021,Sales,2026-11,2026-11-03T09:15:02+11:00,6129,6141,60,M,M,0.5,call ${id}`;
    const feed = await feedServer((from) => {
      const ids = [1, 2, 3].filter((id) => id >= from);
      return header + ids.map(row).join('\n');
    }, cleanups);
    const requests = feed.requests;
    const env = producerEnv(feed.url, A);
    const { producer } = await startTestProducer(env);
    cleanups.push(() => producer.stop());
    await cursorAt(producer.ops.port, A.login, 3, 30_000);
    await producer.stop();
    // The first response held row 3 back; the second, ending identically, let it through.
    expect(requests()).toBeGreaterThanOrEqual(2);
    const raw = (await readTopics(testKafka(), [env.TOPIC_RAW])).map((r) => decodeRaw(r.message));
    expectEachIdOnce(
      raw.map((c) => c.id),
      1,
      3,
    );
    expect(raw.find((c) => c.id === 3)?.description).toBe('call 3');
  });
});

describe('producer: poison rows', () => {
  it('dead-letters an oversized row and an unclosed quote with clipped raw text, and publishes every row after them', async () => {
    const rows = 3000;
    const oversized = 500;
    const unclosed = 1500;
    const { raw, dlq } = await run(
      {
        poisonRows: [
          { index: oversized, kind: 'oversize', bytes: 2 * 1024 * 1024 },
          { index: unclosed, kind: 'unclosed-quote' },
        ],
      },
      rows,
      { FEED_MAX_RECORD_CHARS: '262144', DLQ_RAW_MAX_CHARS: '4096' },
    );
    const deadIds = dlq.map((d) => Number(d.id)).sort((a, b) => a - b);
    expect(deadIds).toEqual([A.firstId + oversized, A.firstId + unclosed]);
    const published = raw.map((c) => c.id);
    expect(new Set(published).size).toBe(published.length);
    expect(published).toHaveLength(rows - 2);
    for (let n = 0; n < rows; n++) {
      if (n === oversized || n === unclosed) continue;
      expect(published).toContain(A.firstId + n);
    }
    for (const d of dlq) {
      expect(String(d.raw).length).toBeLessThanOrEqual(4096);
      expect(String(d.raw).startsWith(String(d.id))).toBe(true);
    }
    const big = dlq.find((d) => Number(d.id) === A.firstId + oversized) as Record<string, unknown>;
    expect(big.errorCode).toBe('CDR_ROW_TOO_LARGE');
    expect(String(big.reason)).toMatch(/262144/);
    const quote = dlq.find((d) => Number(d.id) === A.firstId + unclosed) as Record<string, unknown>;
    expect(String(quote.reason)).toMatch(/quote/i);
  });

  it('dead-letters a row whose encoded record is larger than cdr.raw takes, and goes on', async () => {
    const rows = 1000;
    const big = 300;
    // The CSV limit lets the 1.5 MB row through; Kafka's 1 MiB max.message.bytes would not.
    const { raw, dlq } = await run(
      { poisonRows: [{ index: big, kind: 'oversize', bytes: 1_500_000 }] },
      rows,
      { FEED_MAX_RECORD_CHARS: String(4 * 1024 * 1024) },
    );
    expect(dlq.map((d) => Number(d.id))).toEqual([A.firstId + big]);
    expect(dlq[0]).toMatchObject({ errorCode: 'CDR_ROW_TOO_LARGE', rawClipped: true });
    expect(String(dlq[0]?.reason)).toMatch(/encoded record of \d+ bytes is over the \d+ bytes/);
    expect(raw).toHaveLength(rows - 1);
  });

  it('does not dead-letter again, poll after poll, rows without a readable id after the last id', async () => {
    const header =
      'id,account,billing_group,billing_period,start_time,from,to,seconds,type,sub_type,cost,description\n';
    const row = (id: string) =>
      `${id},40021,Sales,2026-11,2026-11-03T09:15:02+11:00,6129,6141,60,M,M,0.5,call\n`;
    let rows = ['1', '2', 'x3', 'x4'];
    // Inclusive fromid: the rows from the cursor on; the id-less ones always follow the last id.
    const feed = await feedServer((from) => {
      const start = rows.findIndex((r) => /^\d+$/.test(r) && Number(r) >= from);
      return header + (start === -1 ? [] : rows.slice(start)).map(row).join('');
    }, cleanups);
    const requests = feed.requests;
    const env = producerEnv(feed.url, A);
    const { producer } = await startTestProducer(env);
    cleanups.push(() => producer.stop());
    const metric = (name: string, labels: Record<string, string> = {}) =>
      metricValue(producer.ops.port, name, { account: A.login, ...labels });
    await waitFor('two rows published', async () =>
      (await metric('cdr_rows_published_total')) === 2 ? true : undefined,
    );
    // Polls keep coming every 200 ms and send the two id-less rows again each time.
    await waitFor('five more polls', () => (requests() >= 6 ? true : undefined), 20_000);
    expect(
      await metric('cdr_rows_skipped_total', { reason: 'already_dead_lettered' }),
    ).toBeGreaterThanOrEqual(8);
    // A new id-less row after them is dead-lettered once, and a new id resets the count.
    rows = ['1', '2', 'x3', 'x4', 'x5', '6'];
    await waitFor('row 6', async () => ((await metric('cdr_cursor_id')) === 6 ? true : undefined));
    await producer.stop();
    const dlq = (await readTopics(testKafka(), [env.TOPIC_DLQ])).map(
      (r) => JSON.parse(r.message.value?.toString() ?? '') as { raw: string },
    );
    expect(dlq.map((d) => d.raw.split(',')[0])).toEqual(['x3', 'x4', 'x5']);
  });
});
