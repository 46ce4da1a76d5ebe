// search and export on the real broker and registry: CSV read back by Python's csv module, JSON
// Lines by Python's json module, each value equal to the record in Kafka; filters as the portal's.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { bytesToDecimalString } from '../../src/cdr/decimal.ts';
import type { RawCdr } from '../../src/cdr/row.ts';
import { RawDecoder } from '../../src/codec/raw-decoder.ts';
import { avroType } from '../../src/codec/schemas.ts';
import { neutralise } from '../../src/tools/read/formats.ts';
import { cleanupAfterEach } from '../helpers/cleanups.ts';
import { runCli, spawnCli } from '../helpers/cli-process.ts';
import { enricherEnv, readOutputs } from '../helpers/enricher.ts';
import { feedServer } from '../helpers/feed-server.ts';
import { readTopics, testKafka } from '../helpers/kafka.ts';
import { metricValue, producerEnv, startTestProducer, waitFor } from '../helpers/producer.ts';
import { SIM_ACCOUNTS, startTestSimulator } from '../helpers/simulator.ts';

const [A, B] = SIM_ACCOUNTS as [(typeof SIM_ACCOUNTS)[0], (typeof SIM_ACCOUNTS)[0]];
const cleanups = cleanupAfterEach();

/** Python's own csv module reads the file; its rows come back as JSON. */
function pythonCsv(file: string): Array<Record<string, string>> {
  const script =
    'import csv, json, sys\nwith open(sys.argv[1], newline="", encoding="utf-8") as f:\n    print(json.dumps(list(csv.DictReader(f))))';
  return JSON.parse(execFileSync('python3', ['-c', script, file], { encoding: 'utf8', maxBuffer: 1 << 28 }));
}

function pythonJsonl(file: string): Array<Record<string, unknown>> {
  const script =
    'import json, sys\nprint(json.dumps([json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]))';
  return JSON.parse(execFileSync('python3', ['-c', script, file], { encoding: 'utf8', maxBuffer: 1 << 28 }));
}

describe('search and export', () => {
  it('exports CDRs to CSV and JSON Lines that independent readers read back value for value, filtered like the portal', async () => {
    const s = await startTestSimulator({ historyRows: 1500 });
    cleanups.push(() => s.close());
    const dir = mkdtempSync(join(tmpdir(), 'export-'));
    const accounts = join(dir, 'accounts.json');
    writeFileSync(accounts, JSON.stringify([A, B].map((a) => ({ login: a.login, password: a.password }))));
    const penv = producerEnv(s.url, A, { FEED_ACCOUNTS_FILE: accounts, FEED_LOGIN: '' });
    const { producer } = await startTestProducer(penv);
    cleanups.push(() => producer.stop());
    for (const a of [A, B])
      await waitFor(`account ${a.login}`, async () =>
        (await metricValue(producer.ops.port, 'cdr_cursor_id', { account: a.login })) === a.firstId + 1499
          ? true
          : undefined,
      );
    await producer.stop();

    // What Kafka holds, decoded independently of the command.
    const decoder = new RawDecoder(avroType('cdr-raw'), { url: inject('registryUrl') });
    const records = await readTopics(testKafka(), [penv.TOPIC_RAW]);
    await decoder.prepare(records.map((r) => r.message.value));
    const all = records.map((r) => decoder.decode(r.message.value));
    const byId = new Map<number, RawCdr>(all.map((c) => [c.id, c]));
    expect(all).toHaveLength(3000);

    const env = {
      KAFKA_BROKERS: inject('brokers'),
      SCHEMA_REGISTRY_URL: inject('registryUrl'),
      TOPIC_RAW: penv.TOPIC_RAW,
    };
    const csvFile = join(dir, 'all.csv');
    const csv = await runCli(['export', '--format', 'csv', '--output', csvFile], env);
    expect(csv.code, csv.stderr).toBe(0);
    expect(csv.stderr).toContain('exported 3,000 of');
    const rows = pythonCsv(csvFile);
    expect(rows).toHaveLength(3000);
    let neutralised = 0;
    for (const row of rows) {
      const c = byId.get(Number(row.id)) as RawCdr;
      expect(c, row.id).toBeDefined();
      expect(row).toMatchObject({
        account: c.account,
        billing_group: neutralise(c.billing_group),
        billing_period: c.billing_period,
        start_time: neutralise(c.start_time_text),
        from: neutralise(c.from),
        to: neutralise(c.to),
        seconds: String(c.seconds),
        type: c.type,
        sub_type: c.sub_type,
        cost: c.cost_text,
        cost_decimal: bytesToDecimalString(c.cost),
        description: neutralise(c.description),
        start_time_utc: new Date(c.start_time).toISOString(),
        extra: JSON.stringify(c.extra),
      });
      if (row.from !== c.from) neutralised++;
    }
    // The data had formula-looking cells ("+61 2 9000 ..."), and credits stayed plain numbers.
    expect(neutralised).toBeGreaterThan(0);
    expect(rows.some((r) => r.cost?.startsWith('-'))).toBe(true);
    expect(rows.some((r) => r.description?.includes('\r\n') && r.description.includes('"'))).toBe(true);

    // JSON Lines, filtered: one period, two groups (one of them empty), an id range, both accounts.
    const period = all[0]?.billing_period as string;
    const want = all.filter(
      (c) =>
        c.billing_period === period &&
        (c.billing_group === 'Sales' || c.billing_group === '') &&
        c.id >= A.firstId + 100,
    );
    const jsonFile = join(dir, 'some.jsonl');
    const jsonl = await runCli(
      [
        'export',
        '--format',
        'jsonl',
        '--output',
        jsonFile,
        '--period',
        period,
        '--group',
        'Sales',
        '',
        '--id-from',
        String(A.firstId + 100),
      ],
      env,
    );
    expect(jsonl.code, jsonl.stderr).toBe(0);
    const lines = pythonJsonl(jsonFile);
    expect(lines.map((l) => l.id).sort((x, y) => Number(x) - Number(y))).toEqual(
      want.map((c) => c.id).sort((x, y) => x - y),
    );
    for (const l of lines) {
      const c = byId.get(l.id as number) as RawCdr;
      // JSON keeps every value as it is, formulas included; money as an exact decimal string.
      expect(l).toMatchObject({
        cost: bytesToDecimalString(c.cost),
        cost_text: c.cost_text,
        from: c.from,
        description: c.description,
        start_time: new Date(c.start_time).toISOString(),
      });
    }

    // search: the count and the first matches, by type, account, duration and number prefix.
    const match = (c: RawCdr) =>
      c.account === B.login &&
      c.type === 'M' &&
      c.sub_type === 'M3' &&
      c.seconds >= 600 &&
      // As sent (61290001234) or in international form (+61 2 9000 1234): the same E.164 prefix.
      c.from.replace(/\D/g, '').startsWith('6129');
    const found = await runCli(
      [
        'search',
        '--json',
        '--account',
        B.login,
        '--type',
        'M/M3',
        '--seconds-min',
        '600',
        '--from-prefix',
        '6129',
        '--limit',
        '5',
      ],
      env,
    );
    expect(found.code, found.stderr).toBe(0);
    const result = JSON.parse(found.stdout) as {
      matched: number;
      scanned: number;
      first: Array<{ id: number }>;
    };
    expect(result.matched).toBe(all.filter(match).length);
    expect(result.matched).toBeGreaterThan(0);
    expect(result.scanned).toBe(3000);
    for (const f of result.first) expect(match(byId.get(f.id) as RawCdr)).toBe(true);
    const table = await runCli(['search', '--period', period, '--limit', '3'], env);
    expect(table.stdout).toMatch(/\d[\d,]* matching of 3,000 records read/);

    const bad = await runCli(['export', '--start-from', 'yesterday'], env);
    expect(bad.code).toBe(2);
    expect(readFileSync(csvFile, 'utf8').startsWith('id,account,')).toBe(true);
  });

  it('phone numbers: search finds each form of a number by its E.164 prefix; the enricher adds E.164, country and type', async () => {
    // An AU account (the contract layout) sending the same kinds of number in every form.
    const to = [
      '+61412345678',
      '61412345679',
      '0412 345 670',
      '+442071234567',
      '0011 1 212 555 0100',
      '1800123456',
      'anonymous',
    ];
    const header =
      'id,account,billing_group,billing_period,start_time,from,to,seconds,type,sub_type,cost,description';
    const rows = to.map(
      (number, i) =>
        `${i + 1},${A.login},Sales,2026-11,2026-11-03T09:15:0${i}+11:00,0290001234,${number},60,M,M3,0.5,call`,
    );
    const feed = await feedServer(
      (from) => `${[header, ...rows.slice(Math.max(0, from - 1))].join('\n')}\n`,
      cleanups,
    );
    const penv = producerEnv(feed.url, A);
    const { producer } = await startTestProducer(penv);
    cleanups.push(() => producer.stop());
    await waitFor('cursor 7', async () =>
      (await metricValue(producer.ops.port, 'cdr_cursor_id', { account: A.login })) === to.length
        ? true
        : undefined,
    );
    await producer.stop();
    // The producer's settings (brokers, registry, topics, feed) are the tools' too.
    const env = { ...penv, LOG_LEVEL: 'warn' };
    const search = async (...args: string[]) => {
      const r = await runCli(['search', '--json', '--limit', '50', ...args], env);
      expect(r.code, r.stderr).toBe(0);
      return (JSON.parse(r.stdout) as { first: Array<{ id: number }> }).first.map((f) => f.id).sort();
    };
    // Australian mobiles, whichever way they were sent.
    expect(await search('--to-prefix', '614')).toEqual([1, 2, 3]);
    expect(await search('--to-prefix', '+61')).toEqual([1, 2, 3, 6]);
    expect(await search('--to-prefix', '44')).toEqual([4]);
    // A prefix matches the text as sent too: '1' would find 1800123456; '+1' only the E.164 form.
    expect(await search('--to-prefix', '+1')).toEqual([5]);
    // A whole number in any form; and the text as sent still matches.
    expect(await search('--to', '0412345679')).toEqual([2]);
    expect(await search('--to', 'anonymous')).toEqual([7]);
    expect(await search('--from', '+61290001234')).toEqual([1, 2, 3, 4, 5, 6, 7]);
    // FEED_COUNTRY says how national forms read: as NZ numbers, 0412... is not an AU mobile.
    const nz = await runCli(['search', '--json', '--to-prefix', '614'], { ...env, FEED_COUNTRY: 'NZ' });
    expect((JSON.parse(nz.stdout) as { matched: number }).matched).toBe(2);
    const badCountry = await runCli(['search', '--to-prefix', '61'], { ...env, FEED_COUNTRY: 'Oz' });
    expect(badCountry.code).toBe(2);
    expect(badCountry.stderr).toContain('FEED_COUNTRY');

    const eenv = enricherEnv(penv);
    const enricher = spawnCli('enrich', eenv);
    cleanups.push(enricher.kill);
    await enricher.port;
    const enriched = (await readOutputs(testKafka(), eenv, to.length)).map((r) => r.value);
    const byId = new Map(enriched.map((v) => [v.id, v]));
    const numbers = (id: number) => {
      const v = byId.get(id) as Record<string, unknown>;
      return [v.to, v.from_e164, v.to_e164, v.to_country, v.to_number_type, v.numbers_unparsed];
    };
    expect([1, 2, 3, 4, 5, 6, 7].map(numbers)).toEqual([
      ['+61412345678', '+61290001234', '+61412345678', 'AU', 'mobile', []],
      ['61412345679', '+61290001234', '+61412345679', 'AU', 'mobile', []],
      ['0412 345 670', '+61290001234', '+61412345670', 'AU', 'mobile', []],
      ['+442071234567', '+61290001234', '+442071234567', 'GB', 'fixed_line', []],
      ['0011 1 212 555 0100', '+61290001234', '+12125550100', 'US', 'fixed_line_or_mobile', []],
      ['1800123456', '+61290001234', '+611800123456', 'AU', 'toll_free', []],
      ['anonymous', '+61290001234', null, null, null, ['to']],
    ]);
  });
});
