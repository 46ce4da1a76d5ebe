// Real feeds: the carrier's 17-column layout in windows with pointer rows, a third layout read by
// configuration alone, and the bad input those layouts bring. Real broker and registry.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonicalCost } from '../../src/cdr/decimal.ts';
import { TimeZone } from '../../src/cdr/time-zone.ts';
import { LEGACY17_COLUMNS, legacy17Extras } from '../../src/simulator/index.ts';
import { cleanupAfterEach } from '../helpers/cleanups.ts';
import { feedServer } from '../helpers/feed-server.ts';
import { readTopics, testKafka } from '../helpers/kafka.ts';
import { legacy17Row } from '../helpers/legacy17.ts';
import { decodeRaw, metricValue, producerEnv, startTestProducer, waitFor } from '../helpers/producer.ts';
import { SIM_ACCOUNTS, startTestSimulator } from '../helpers/simulator.ts';

const A = SIM_ACCOUNTS[0] as (typeof SIM_ACCOUNTS)[0];
const cleanups = cleanupAfterEach();

async function produce(url: string, overrides: Record<string, string> = {}) {
  const env = producerEnv(url, A, overrides);
  const started = await startTestProducer(env);
  cleanups.push(() => started.producer.stop());
  const metric = (name: string, labels: Record<string, string> = {}) =>
    metricValue(started.producer.ops.port, name, { account: A.login, ...labels });
  /** A metric of the whole process (no account label). */
  const processMetric = (name: string, labels: Record<string, string> = {}) =>
    metricValue(started.producer.ops.port, name, labels);
  return { env, ...started, metric, processMetric };
}

async function published(env: { TOPIC_RAW: string; TOPIC_DLQ: string }) {
  const kafka = testKafka();
  return {
    raw: (await readTopics(kafka, [env.TOPIC_RAW])).map((r) => decodeRaw(r.message)),
    dlq: (await readTopics(kafka, [env.TOPIC_DLQ])).map(
      (r) => JSON.parse(r.message.value?.toString() ?? '') as Record<string, string>,
    ),
  };
}

describe('real feeds: the 17-column layout', () => {
  it('reads 100,000 CDRs over windows of 10,000 ids and two gaps wider than a window, exactly once, with every value', async () => {
    const rows = 100_000;
    const zone = 'Pacific/Auckland';
    const s = await startTestSimulator({
      historyRows: rows,
      timeZone: zone,
      layout: 'legacy17',
      windowIds: 10_000,
      idGaps: [
        { afterRow: 30_000, ids: 25_000 },
        { afterRow: 70_000, ids: 15_000 },
      ],
    });
    cleanups.push(() => s.close());
    const account = { login: A.login, firstId: A.firstId, index: 0 };
    const lastId = s.generator.idOf(account, rows - 1);
    const interval = 5000;
    const { env, producer, metric, processMetric } = await produce(s.url, {
      FEED_TIMEZONE: zone,
      FEED_POLL_INTERVAL_MS: String(interval),
      BATCH_MAX_ROWS: '5000',
      LOG_LEVEL: 'info',
      LOG_PROGRESS: 'false',
    });
    await waitFor(
      'the last id',
      async () => ((await metric('cdr_cursor_id')) === lastId ? true : undefined),
      120_000,
    );
    const pointersFollowed = await processMetric('cdr_feed_pointer_rows_total', { followed: 'yes' });
    await producer.stop();

    // Paced by the responses, not by the poll interval: no pause between windows that brought rows.
    const log = s.stats.log.filter((r) => r.login === A.login);
    const reachedEnd = log.findIndex((r) => Number(r.fromid) >= lastId);
    expect(reachedEnd).toBeGreaterThan(10);
    for (let i = 1; i <= reachedEnd; i++) {
      expect((log[i]?.at ?? 0) - (log[i - 1]?.at ?? 0), `request ${i}`).toBeLessThan(interval / 2);
    }
    // Both gaps were crossed by following a pointer row.
    expect(log.filter((r) => r.pointer !== undefined).length).toBeGreaterThanOrEqual(2);
    expect(pointersFollowed).toBeGreaterThanOrEqual(2);

    const { raw, dlq } = await published(env);
    expect(dlq).toEqual([]);
    const indexById = new Map<number, number>();
    for (let n = 0; n < rows; n++) indexById.set(s.generator.idOf(account, n), n);
    expect(raw).toHaveLength(rows);
    expect(new Set(raw.map((c) => c.id)).size).toBe(rows);
    const nz = new TimeZone(zone);
    const dstDay: number[] = [];
    for (const cdr of raw) {
      const n = indexById.get(cdr.id) as number;
      expect(n, `id ${cdr.id}`).toBeDefined();
      const row = s.generator.row(account, n);
      const x = legacy17Extras(row);
      const start = s.generator.startTimeOf(n);
      const local = new Date(start + nz.offsetMinutesAt(start) * 60_000).toISOString();
      if (local.startsWith('2026-09-27')) dstDay.push(cdr.id);
      expect(cdr).toMatchObject({
        account: A.login,
        billing_group: row.billing_group,
        from: row.from,
        to: row.to,
        seconds: Number(row.seconds),
        type: row.type,
        sub_type: row.sub_type,
        cost_text: row.cost,
        description: row.description,
        start_time: start,
        billing_period: local.slice(0, 7),
        billing_period_derived: true,
        currency: 'NZD',
        layout: 'legacy17',
        status: x.status,
        terminated: x.terminated,
        smartcode: x.smartcode,
        smartcode_description: x.smartcode_description,
        recording: x.recording,
        date_text: `${local.slice(8, 10)}/${local.slice(5, 7)}/${local.slice(0, 4)}`,
        time_text: local.slice(11, 19),
        extra: {},
      });
      expect(cdr.cost).toBe(canonicalCost(row.cost));
    }
    // The day New Zealand moved its clocks forward (27 September 2026) was in the data.
    expect(dstDay.length).toBeGreaterThan(1000);
    expect(raw.some((c) => c.recording !== '' && c.recording !== null)).toBe(true);
  });
});

describe('real feeds: many accounts in one process', () => {
  it('gives each account its turn while both ask again at once, window after window', async () => {
    const B = SIM_ACCOUNTS[1] as (typeof SIM_ACCOUNTS)[0];
    const rows = 10_000;
    const s = await startTestSimulator({ historyRows: rows, layout: 'legacy17', windowIds: 500 });
    cleanups.push(() => s.close());
    const file = join(mkdtempSync(join(tmpdir(), 'accounts-')), 'accounts.json');
    writeFileSync(file, JSON.stringify([A, B].map((a) => ({ login: a.login, password: a.password }))));
    const { producer, metric } = await produce(s.url, {
      FEED_ACCOUNTS_FILE: file,
      FEED_LOGIN: '',
      FEED_POLL_INTERVAL_MS: '5000',
    });
    const at = async (login: string, id: number) =>
      (await metricValue(producer.ops.port, 'cdr_cursor_id', { account: login })) === id;
    await waitFor(
      'both accounts at their last id',
      async () =>
        (await at(A.login, A.firstId + rows - 1)) && (await at(B.login, B.firstId + rows - 1))
          ? true
          : undefined,
      60_000,
    );
    expect(await metric('cdr_rows_published_total')).toBe(rows);
    // 20 windows each; while both had windows left, neither ran more than a few requests ahead.
    const log = s.stats.log.map((r) => r.login);
    const lastA = log.lastIndexOf(A.login);
    const lastB = log.lastIndexOf(B.login);
    const both = log.slice(0, Math.min(lastA, lastB) - 1);
    let run = 1;
    let longest = 1;
    for (let i = 1; i < both.length; i++) {
      run = both[i] === both[i - 1] ? run + 1 : 1;
      longest = Math.max(longest, run);
    }
    expect(both.length).toBeGreaterThanOrEqual(30);
    expect(longest).toBeLessThanOrEqual(4);
  });
});

describe('real feeds: bad input', () => {
  const header = LEGACY17_COLUMNS.join(',');
  const row = (id: number, o: Parameters<typeof legacy17Row>[0] = {}) =>
    legacy17Row({ ID: String(id), MP3: '', SubType: 'M', ...o }).join(',');

  it('dead-letters each bad value with a clear reason and publishes the rows around them', async () => {
    const body = [
      header,
      row(1),
      row(2, { 'Date/Time': '04/11/2026 09:15:02' }),
      row(3, { Date: '31/02/2026', 'Date/Time': '' }),
      row(4, { 'Date/Time': '2026.11.03 09:15:02', Date: '', Time: '' }),
      row(5, { 'Call Cost (NZD)': '$1.20' }),
      row(6),
    ].join('\n');
    const feed = await feedServer(() => `${body}\n`, cleanups);
    const { env, producer, metric } = await produce(feed.url, { FEED_TIMEZONE: 'Pacific/Auckland' });
    await waitFor('cursor 6', async () => ((await metric('cdr_cursor_id')) === 6 ? true : undefined), 30_000);
    await producer.stop();
    const { raw, dlq } = await published(env);
    expect(raw.map((c) => c.id)).toEqual([1, 6]);
    const reason = (id: number) => dlq.find((d) => d.id === String(id))?.reason ?? '';
    expect(dlq).toHaveLength(4);
    expect(reason(2)).toMatch(
      /Date\/Time "04\/11\/2026 09:15:02" and Date "03\/11\/2026" Time "09:15:02" name different instants/,
    );
    expect(reason(3)).toMatch(/Date "31\/02\/2026" is not a real date/);
    expect(reason(4)).toMatch(/Date\/Time "2026\.11\.03 09:15:02" is not in the form DD\/MM\/YYYY HH:MM:SS/);
    expect(reason(5)).toMatch(/Call Cost \(NZD\) must be a decimal .* got "\$1\.20"/);
  });

  it('does not follow a pointer row that points backwards, and publishes or dead-letters nothing for it', async () => {
    const feed = await feedServer(
      (from) =>
        from < 3 ? `${header}\n${row(1)}\n${row(2)}\n${row(3)}\n` : `${header}\n2${','.repeat(16)}\n`,
      cleanups,
    );
    const { env, producer, metric, processMetric, log } = await produce(feed.url);
    await waitFor('a backwards pointer', async () =>
      ((await processMetric('cdr_feed_pointer_rows_total', { followed: 'no' })) ?? 0) >= 1 ? true : undefined,
    );
    expect(await metric('cdr_cursor_id')).toBe(3);
    await producer.stop();
    const { raw, dlq } = await published(env);
    expect(raw.map((c) => c.id)).toEqual([1, 2, 3]);
    expect(dlq).toEqual([]);
    expect(
      log.entries().some((e) => e.msg === 'a pointer row that does not point forward was not followed'),
    ).toBe(true);
  });

  it('treats a response whose first row has an empty ID as empty', async () => {
    const feed = await feedServer(
      (from) => (from < 2 ? `${header}\n${row(1)}\n${row(2)}\n` : `${header}\n${','.repeat(16)}\n`),
      cleanups,
    );
    const { env, producer, metric } = await produce(feed.url);
    await waitFor('cursor 2', async () => ((await metric('cdr_cursor_id')) === 2 ? true : undefined));
    await waitFor('two more polls', () => (feed.requests() >= 3 ? true : undefined));
    await producer.stop();
    const { raw, dlq } = await published(env);
    expect(raw.map((c) => c.id)).toEqual([1, 2]);
    expect(dlq).toEqual([]);
  });

  it('stops an account whose header fits no layout: one clear error, /readyz false, nothing published', async () => {
    const feed = await feedServer(() => 'Call,When,Who\n1,today,me\n', cleanups);
    const { env, producer, log } = await produce(feed.url);
    await waitFor('a header error', () =>
      log.entries().some((e) => e.code === 'CDR_FEED_HEADER') ? true : undefined,
    );
    const ready = await fetch(`http://127.0.0.1:${producer.ops.port}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({
      accounts: [{ account: A.login, lastError: 'CDR_FEED_HEADER' }],
    });
    const entry = log.entries().find((e) => e.code === 'CDR_FEED_HEADER') as { err: { message: string } };
    expect(entry.err.message).toMatch(/fits no layout/);
    expect(entry.err.message).toContain('got "Call,When,Who"');
    expect(entry.err.message).toMatch(/needs .*Origin Number/);
    expect(log.lines.join('\n')).not.toContain(A.password);
    await producer.stop();
    expect((await published(env)).raw).toEqual([]);
  });
});

describe('real feeds: a third layout by configuration alone', () => {
  it('reads renamed, reordered, pipe-delimited columns with a comma decimal separator through FEED_COLUMNS_FILE', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'columns-'));
    const file = join(dir, 'acme.yaml');
    writeFileSync(
      file,
      [
        'name: acme',
        'columns:',
        '  id: Call Ref',
        '  date_time: Started At',
        '  from: A Number',
        '  to: B Number',
        '  seconds: Duration',
        '  type: Class',
        '  sub_type: Subclass',
        '  cost: Amount',
        '  billing_group: Cost Centre',
        '  description: Note',
        'forms:',
        '  dateTime: DD.MM.YYYY HH:MM:SS',
        'decimalSeparator: ","',
        'currency: EUR',
        '',
      ].join('\n'),
    );
    const body = [
      'Note|Amount|Call Ref|B Number|Started At|Duration|Class|Subclass|A Number|Cost Centre|Site',
      'first, with a comma|0,4170|41|0412 345 678|03.11.2026 09:15:02|125|M|M3|+61 2 9000 1234|Sales|Sydney',
      '"two | pipes"|-12,5|42|0011442071234567|03.11.2026 23:59:59|61|I|I|61290001234||Melbourne',
    ].join('\n');
    const feed = await feedServer(() => `${body}\n`, cleanups);
    const { env, producer, metric } = await produce(feed.url, {
      FEED_COLUMNS_FILE: file,
      FEED_DELIMITER: '|',
      FEED_TIMEZONE: 'Australia/Sydney',
    });
    await waitFor(
      'cursor 42',
      async () => ((await metric('cdr_cursor_id')) === 42 ? true : undefined),
      30_000,
    );
    await producer.stop();
    const { raw, dlq } = await published(env);
    expect(dlq).toEqual([]);
    raw.sort((a, b) => a.id - b.id);
    expect(raw.map((c) => c.id)).toEqual([41, 42]);
    expect(raw[0]).toMatchObject({
      layout: 'acme',
      account: A.login,
      description: 'first, with a comma',
      cost: canonicalCost('0.4170'),
      cost_text: '0,4170',
      currency: 'EUR',
      to: '0412 345 678',
      from: '+61 2 9000 1234',
      seconds: 125,
      type: 'M',
      sub_type: 'M3',
      billing_group: 'Sales',
      start_time: Date.parse('2026-11-03T09:15:02+11:00'),
      start_time_text: '03.11.2026 09:15:02',
      billing_period: '2026-11',
      billing_period_derived: true,
      extra: { Site: 'Sydney' },
    });
    expect(raw[1]).toMatchObject({
      description: 'two | pipes',
      cost: canonicalCost('-12.5'),
      cost_text: '-12,5',
    });
  });
});
