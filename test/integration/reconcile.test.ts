// reconcile on the real broker and registry: a month of CDRs of two accounts (late CDRs of the
// period before, credits, ids past 2^32), reconciled against the feed, a totals file and the
// enriched topics, in full and from the control records; then the same after faults injected at
// the edges: a row the feed hid while the producer read it, a cost it altered, a row it sent
// broken (dead-lettered), and a record written to cdr.raw twice.
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { describe, expect, inject, it } from 'vitest';
import { unscaledCost } from '../../src/cdr/decimal.ts';
import { LEGACY17_COLUMNS, type RunningSimulator } from '../../src/simulator/index.ts';
import { neutralise } from '../../src/tools/read/formats.ts';
import { costText } from '../../src/tools/reconcile/totals.ts';
import { cleanupAfterEach } from '../helpers/cleanups.ts';
import { runCli, spawnCli } from '../helpers/cli-process.ts';
import { expectControlsMatchRaw } from '../helpers/control.ts';
import { enricherEnv, outputTopics } from '../helpers/enricher.ts';
import { feedServer } from '../helpers/feed-server.ts';
import { readTopics, testKafka } from '../helpers/kafka.ts';
import { legacy17Row } from '../helpers/legacy17.ts';
import { cursorAt, decodeRaw, producerEnv, startTestProducer, waitFor } from '../helpers/producer.ts';
import { SIM_ACCOUNTS, startTestSimulator } from '../helpers/simulator.ts';

const [A, B] = SIM_ACCOUNTS as [(typeof SIM_ACCOUNTS)[0], (typeof SIM_ACCOUNTS)[0]];
const cleanups = cleanupAfterEach();
const ROWS = 3000;

/** A month: 3,000 rows 15 minutes apart, ending 3 November; 5% late CDRs from 35 days earlier. */
async function monthSim(): Promise<RunningSimulator> {
  const s = await startTestSimulator({
    historyRows: ROWS,
    historySpacingMs: 15 * 60_000,
    epochMs: Date.UTC(2026, 10, 3, 12),
    lateShare: 0.05,
  });
  cleanups.push(() => s.close());
  return s;
}

interface Expected {
  count: number;
  seconds: number;
  cost: bigint;
}

/** The simulator's own totals per billing period and account, from its rows. */
function simulatorTotals(s: RunningSimulator): Map<string, Expected> {
  const out = new Map<string, Expected>();
  for (const [index, a] of [A, B].entries())
    for (let n = 0; n < ROWS; n++) {
      const row = s.generator.row({ login: a.login, firstId: a.firstId, index }, n);
      const key = `${row.billing_period}|${row.account}`;
      const t = out.get(key) ?? { count: 0, seconds: 0, cost: 0n };
      t.count++;
      t.seconds += Number(row.seconds);
      t.cost += unscaledCost(row.cost);
      out.set(key, t);
    }
  return out;
}

/** A feed in front of the simulator that, while `tamper` is on, changes rows by id. */
async function tamperingFeed(
  s: RunningSimulator,
  edits: Map<string, 'hide' | 'cost' | 'break'>,
): Promise<{ url: string; tamper: (on: boolean) => void }> {
  let on = true;
  const server = createServer((req, res) => {
    fetch(`${s.url}${req.url}`)
      .then(async (upstream) => {
        const text = await upstream.text();
        if (upstream.status !== 200 || !on) {
          res.writeHead(upstream.status, { 'content-type': 'text/csv' });
          res.end(text);
          return;
        }
        const rows = parse(text, { relax_column_count: true }) as string[][];
        const header = rows[0] as string[];
        const costAt = header.findIndex((h) => /cost/i.test(h));
        const secondsAt = header.findIndex((h) => /seconds/i.test(h));
        const out = [header];
        for (const row of rows.slice(1)) {
          const edit = edits.get(row[0] as string);
          if (edit === 'hide') continue;
          if (edit === 'cost') row[costAt] = '999.999900';
          if (edit === 'break') row[secondsAt] = 'forty';
          out.push(row);
        }
        const cell = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v);
        res.writeHead(200, { 'content-type': 'text/csv' });
        res.end(out.map((r) => `${r.map(cell).join(',')}\n`).join(''));
      })
      .catch((err: unknown) => {
        res.writeHead(502);
        res.end(String(err));
      });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    tamper: (v) => {
      on = v;
    },
  };
}

async function ingest(feedUrl: string) {
  const dir = mkdtempSync(join(tmpdir(), 'reconcile-'));
  const accounts = join(dir, 'accounts.json');
  writeFileSync(accounts, JSON.stringify([A, B].map((a) => ({ login: a.login, password: a.password }))));
  const penv = producerEnv(feedUrl, A, { FEED_ACCOUNTS_FILE: accounts, FEED_LOGIN: '' });
  const { producer } = await startTestProducer(penv);
  cleanups.push(() => producer.stop());
  for (const a of [A, B]) await cursorAt(producer.ops.port, a.login, a.firstId + ROWS - 1, 90_000);
  await producer.stop();
  return { penv, dir, accounts };
}

function toolEnv(penv: ReturnType<typeof producerEnv>, accounts: string) {
  return {
    ...penv,
    FEED_ACCOUNTS_FILE: accounts,
    FEED_LOGIN: '',
    KAFKA_BROKERS: inject('brokers'),
    SCHEMA_REGISTRY_URL: inject('registryUrl'),
    LOG_LEVEL: 'warn',
  };
}

/** An export read back by Python: csv and json modules, pyarrow for Parquet (types checked too). */
function readBack(format: 'csv' | 'jsonl' | 'parquet', file: string): Array<Record<string, unknown>> {
  const scripts = {
    csv: 'import csv, json, sys\nwith open(sys.argv[1], newline="", encoding="utf-8") as f:\n    print(json.dumps(list(csv.DictReader(f))))',
    jsonl:
      'import json, sys\nprint(json.dumps([json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]))',
    parquet: [
      'import json, sys, pyarrow as pa, pyarrow.parquet as pq',
      't = pq.read_table(sys.argv[1])',
      'assert t.schema.field("cost").type == pa.decimal128(18, 6), t.schema.field("cost").type',
      'assert t.schema.field("start_time").type == pa.timestamp("us", tz="UTC"), t.schema.field("start_time").type',
      'assert t.schema.field("id").type == pa.int64()',
      'rows = t.to_pylist()',
      'for r in rows:',
      '    r["cost"] = str(r["cost"])',
      '    r["start_time"] = r["start_time"].isoformat()',
      '    r["ingested_at"] = r["ingested_at"].isoformat()',
      'print(json.dumps(rows))',
    ].join('\n'),
  };
  const python = format === 'parquet' ? (process.env.PYARROW_PYTHON ?? '') : 'python3';
  if (python === '')
    throw new Error(
      'PYARROW_PYTHON is not set: run the tests through ./dev test (scripts/ensure-pyarrow.sh)',
    );
  return JSON.parse(
    execFileSync(python, ['-c', scripts[format], file], { encoding: 'utf8', maxBuffer: 1 << 28 }),
  );
}

/**
 * Columns of a CSV summed by Python's csv and decimal modules, over the rows whose cells equal
 * `where`: each column's exact sum, how many of its cells were negative, and the cells that are
 * not a number (a credit written as text, say).
 */
function csvSums(
  file: string,
  columns: string[],
  where: Record<string, string> = {},
): { sum: Record<string, string>; negative: Record<string, number>; unreadable: string[] } {
  const script = [
    'import csv, json, sys',
    'from decimal import Decimal, InvalidOperation',
    'columns = json.loads(sys.argv[2]); where = json.loads(sys.argv[3])',
    'total = {c: Decimal(0) for c in columns}; negative = {c: 0 for c in columns}; bad = []',
    'with open(sys.argv[1], newline="", encoding="utf-8") as f:',
    '    for row in csv.DictReader(f):',
    '        if any(row.get(k) != v for k, v in where.items()): continue',
    '        for c in columns:',
    '            try:',
    '                d = Decimal(row[c])',
    '            except InvalidOperation:',
    '                bad.append(f"{c}={row[c]!r}"); continue',
    '            total[c] += d; negative[c] += d < 0',
    'print(json.dumps({"sum": {c: str(v) for c, v in total.items()}, "negative": negative, "unreadable": bad[:10]}))',
  ].join('\n');
  return JSON.parse(
    execFileSync('python3', ['-c', script, file, JSON.stringify(columns), JSON.stringify(where)], {
      encoding: 'utf8',
      maxBuffer: 1 << 26,
    }),
  );
}

interface JsonReport {
  ok: boolean;
  records: number;
  totals: Array<Record<string, string>>;
  differences: Array<{
    kind: string;
    id?: number;
    column?: string;
    line?: number;
    account?: string;
    kafka?: string;
    other?: string;
  }>;
  accounts: Array<{
    account: string;
    firstId: number;
    lastId: number;
    ids: number;
    gaps: unknown[];
    gapParts?: Array<{ from: number; to: number; reason: string; detail: string }>;
  }>;
}

function byPeriodAccount(totals: JsonReport['totals']): Map<string, Expected> {
  const out = new Map<string, Expected>();
  for (const t of totals) {
    const key = `${t.billing_period}|${t.account}`;
    const e = out.get(key) ?? { count: 0, seconds: 0, cost: 0n };
    e.count += Number(t.count);
    e.seconds += Number(t.seconds);
    e.cost += unscaledCost(t.cost as string);
    out.set(key, e);
  }
  return out;
}

describe('reconcile', () => {
  it('a clean month: feed, totals file, enriched topics and --fast all agree with the simulator', async () => {
    const s = await monthSim();
    const { penv, dir, accounts } = await ingest(s.url);
    const env = toolEnv(penv, accounts);
    const expected = simulatorTotals(s);
    // October and early November, plus late CDRs of August and September.
    expect(new Set([...expected.keys()].map((k) => k.split('|')[0]))).toEqual(
      new Set(['2026-08', '2026-09', '2026-10', '2026-11']),
    );
    // Credits are in it: some rows have a negative cost.
    const credits = [0, 1].flatMap((index) =>
      Array.from({ length: ROWS }, (_, n) => s.generator.row({ ...[A, B][index], index } as never, n).cost),
    );
    expect(credits.some((c) => c.startsWith('-'))).toBe(true);

    for (const a of [A, B]) {
      const r = await runCli(
        ['reconcile', '--feed', '--account', a.login, '--from-id', String(a.firstId), '--format', 'json'],
        env,
      );
      expect(r.code, r.stderr + r.stdout.slice(0, 2000)).toBe(0);
      const report = JSON.parse(r.stdout) as JsonReport;
      expect(report.ok).toBe(true);
      expect(report.records).toBe(ROWS);
      expect(report.accounts).toEqual([
        {
          account: a.login,
          firstId: a.firstId,
          lastId: a.firstId + ROWS - 1,
          ids: ROWS,
          gaps: [],
          gapParts: [],
        },
      ]);
      for (const [key, t] of byPeriodAccount(report.totals)) expect(t, key).toEqual(expected.get(key));
    }

    // The full scan and the control records give the same totals, line for line.
    const scan = await runCli(['reconcile', '--format', 'json'], env);
    const fast = await runCli(['reconcile', '--fast', '--format', 'json'], env);
    expect(scan.code, scan.stderr).toBe(0);
    expect(fast.code, fast.stderr).toBe(0);
    const scanned = JSON.parse(scan.stdout) as JsonReport;
    expect(scanned.records).toBe(2 * ROWS);
    expect((JSON.parse(fast.stdout) as JsonReport).totals).toEqual(scanned.totals);
    expect(byPeriodAccount(scanned.totals)).toEqual(expected);
    // Summing cdr.control gives the same, and each period's first offsets are where its CDRs begin.
    await expectControlsMatchRaw(testKafka(), penv);

    // A totals file per period and account: equal, then one line a cent off.
    const lines = [...expected].map(([key, t]) => {
      const [period, account] = key.split('|');
      return `${period},${account},${t.count},${t.seconds},${costText(t.cost)}`;
    });
    const good = join(dir, 'totals.csv');
    writeFileSync(good, `Billing Period,Account,Count,Seconds,Cost\n${lines.join('\n')}\n`);
    const same = await runCli(['reconcile', '--totals-file', good], env);
    expect(same.code, same.stdout + same.stderr).toBe(0);
    expect(same.stdout).toContain('OK:');
    const off = lines.map((l, i) => {
      if (i !== 2) return l;
      const cells = l.split(',');
      cells[4] = costText(unscaledCost(cells[4] as string) + 10_000n);
      return cells.join(',');
    });
    const wrong = join(dir, 'wrong.csv');
    writeFileSync(wrong, `billing_period,account,count,seconds,cost\n${off.join('\n')}\n`);
    const differs = await runCli(['reconcile', '--totals-file', wrong, '--format', 'json'], env);
    expect(differs.code).toBe(1);
    const d = JSON.parse(differs.stdout) as JsonReport;
    expect(d.differences).toEqual([
      expect.objectContaining({ kind: 'totals_differ', line: 4, column: 'cost' }),
    ]);
    // Bad input: exit 2, naming the problem.
    writeFileSync(join(dir, 'bad.csv'), 'period,account,cost\n2026-10,40021,12.3.4\n');
    const bad = await runCli(['reconcile', '--totals-file', join(dir, 'bad.csv')], env);
    expect(bad.code).toBe(2);
    expect(bad.stdout + bad.stderr).toContain('line 2');

    // Every CSV the product writes, read back by Python's csv and decimal modules: money, seconds
    // and counts are numbers a spreadsheet sums, credits included (the reports' totals, a scan and
    // the control records, and an export through both of its paths).
    const total = [...expected.values()].reduce(
      (t, e) => ({ count: t.count + e.count, seconds: t.seconds + e.seconds, cost: t.cost + e.cost }),
      { count: 0, seconds: 0, cost: 0n },
    );
    for (const extra of [[], ['--fast']]) {
      const file = join(dir, `report${extra.join('')}.csv`);
      const r = await runCli(['reconcile', ...extra, '--format', 'csv', '--output', file], env);
      expect(r.code, r.stderr).toBe(0);
      const sums = csvSums(file, ['count', 'seconds', 'cost'], { section: 'totals' });
      expect(sums.unreadable, file).toEqual([]);
      expect(sums.negative.cost, `${file}: credits are in it`).toBeGreaterThan(0);
      expect(sums.sum, file).toEqual({
        count: String(total.count),
        seconds: String(total.seconds),
        cost: costText(total.cost),
      });
    }
    const allRaw = (await readTopics(testKafka(), [penv.TOPIC_RAW])).map((r) => decodeRaw(r.message));
    const exported = join(dir, 'all.csv');
    const all = await runCli(['export', '--format', 'csv', '--output', exported], env);
    expect(all.code, all.stderr).toBe(0);
    const exportSums = csvSums(exported, ['id', 'seconds', 'cost', 'cost_decimal']);
    expect(exportSums.unreadable).toEqual([]);
    expect(exportSums.negative.cost).toBeGreaterThan(0);
    expect(exportSums.sum.cost_decimal).toBe(costText(total.cost));
    expect(exportSums.sum.seconds).toBe(String(total.seconds));
    expect(exportSums.sum.id).toBe(String(allRaw.reduce((n, c) => n + BigInt(c.id), 0n)));

    // Two billing periods exported to CSV, JSON Lines and Parquet, read back by Python's csv and
    // json modules and by pyarrow: every CDR of those periods (late ones too), every value equal.
    const kafkaCdrs = (await readTopics(testKafka(), [penv.TOPIC_RAW]))
      .map((r) => decodeRaw(r.message))
      .filter((c) => c.billing_period === '2026-09' || c.billing_period === '2026-10');
    const wanted = new Map(kafkaCdrs.map((c) => [c.id, c]));
    expect(wanted.size).toBeGreaterThan(ROWS / 2);
    for (const format of ['csv', 'jsonl', 'parquet'] as const) {
      const file = join(dir, `month.${format}`);
      const r = await runCli(
        ['export', '--period', '2026-09', '2026-10', '--format', format, '--output', file],
        env,
      );
      expect(r.code, r.stderr).toBe(0);
      const rows = readBack(format, file);
      expect(rows, format).toHaveLength(wanted.size);
      for (const row of rows) {
        const c = wanted.get(Number(row.id));
        expect(c, `${format} id ${row.id}`).toBeDefined();
        const k = c as NonNullable<typeof c>;
        const text = (v: string) => (format === 'csv' ? neutralise(v) : v);
        expect(
          {
            account: row.account,
            billing_group: row.billing_group,
            billing_period: row.billing_period,
            from: row.from,
            to: row.to,
            seconds: Number(row.seconds),
            type: row.type,
            description: row.description,
          },
          `${format} id ${row.id}`,
        ).toEqual({
          account: k.account,
          billing_group: text(k.billing_group),
          billing_period: k.billing_period,
          from: text(String(k.from)),
          to: text(String(k.to)),
          seconds: k.seconds,
          type: k.type,
          description: text(k.description),
        });
        // Money exact, the instant in UTC, in every format.
        const cost = format === 'csv' ? row.cost_decimal : row.cost;
        expect(cost, `${format} cost of ${row.id}`).toBe(k.cost);
        const start = format === 'csv' ? row.start_time_utc : row.start_time;
        expect(Date.parse(String(start)), `${format} start of ${row.id}`).toBe(k.start_time);
      }
    }

    // Every raw CDR enriched exactly once.
    const eenv = enricherEnv(penv);
    const enricher = spawnCli('enrich', eenv);
    cleanups.push(enricher.kill);
    await enricher.port;
    await waitFor(
      'the enricher to catch up',
      async () => {
        const n = (await readTopics(testKafka(), outputTopics(eenv))).length;
        return n >= 2 * ROWS ? true : undefined;
      },
      90_000,
    );
    const enriched = await runCli(['reconcile', '--enriched', ...outputTopics(eenv)], env);
    expect(enriched.code, enriched.stdout + enriched.stderr).toBe(0);
  });

  it('names a CDR missing from Kafka, one altered, one dead-lettered and one there twice, and exits 1', async () => {
    const s = await monthSim();
    const [hidden, altered, broken, twice] = [
      A.firstId + 100,
      A.firstId + 1500,
      A.firstId + 2200,
      A.firstId + 2900,
    ];
    const feed = await tamperingFeed(
      s,
      new Map([
        [String(hidden), 'hide'],
        [String(altered), 'cost'],
        [String(broken), 'break'],
      ]),
    );
    const { penv, accounts } = await ingest(feed.url);
    feed.tamper(false);
    // A record written to cdr.raw a second time, as a faulty replay would.
    const kafka = testKafka();
    const copy = (await readTopics(kafka, [penv.TOPIC_RAW])).find((r) => decodeRaw(r.message).id === twice);
    expect(copy).toBeDefined();
    const p = kafka.producer();
    await p.connect();
    await p.send({
      topic: penv.TOPIC_RAW,
      messages: [
        {
          key: copy?.message.key ?? null,
          value: copy?.message.value ?? null,
          partition: copy?.partition as number,
        },
      ],
    });
    await p.disconnect();

    const env = toolEnv(penv, accounts);
    const r = await runCli(
      ['reconcile', '--feed', '--account', A.login, '--from-id', String(A.firstId), '--format', 'json'],
      env,
    );
    expect(r.code, r.stderr).toBe(1);
    const report = JSON.parse(r.stdout) as JsonReport;
    const found = report.differences.map((d) => `${d.kind} ${d.id}${d.column ? ` ${d.column}` : ''}`).sort();
    expect(found).toEqual(
      [
        `missing_in_kafka ${hidden}`,
        `values_differ ${altered} cost`,
        `dead_lettered ${broken}`,
        `duplicate ${twice}`,
      ].sort(),
    );
    // The table for a person names them too, and the CSV and markdown reports carry the same ids.
    const table = await runCli(
      ['reconcile', '--feed', '--account', A.login, '--from-id', String(A.firstId)],
      env,
    );
    expect(table.code).toBe(1);
    for (const id of [hidden, altered, broken, twice]) expect(table.stdout).toContain(`id ${id}`);
    const csv = await runCli(
      ['reconcile', '--feed', '--account', A.login, '--from-id', String(A.firstId), '--format', 'csv'],
      env,
    );
    const rows = parse(csv.stdout, { columns: true }) as Array<Record<string, string>>;
    expect(
      rows
        .filter((x) => x.section === 'difference')
        .map((x) => Number(x.id))
        .sort(),
    ).toEqual([hidden, altered, broken, twice].sort());
  });

  it('with the 17-column feed: gaps named by the feed (pointer rows, dead letters, ids never sent), every column compared, --ignore-column, --accept', async () => {
    // ids 1-3; a pointer row from 4 to 10; 10, 11, 12 (broken), 14, 15: 13 is never sent. A column
    // no layout names ("CLI Presentation") is carried in `extra`.
    const header = `${LEGACY17_COLUMNS.join(',')},CLI Presentation`;
    const edits = { terminated11: 'Callee', cli14: 'allowed' };
    const row = (id: number, o: Parameters<typeof legacy17Row>[0] = {}, cli = 'allowed') =>
      `${legacy17Row({ ID: String(id), MP3: '', SubType: 'M', ...o }).join(',')},${cli}`;
    const rows = () => [
      row(1),
      row(2),
      row(3),
      row(10),
      row(11, { Terminated: edits.terminated11 }),
      row(12, { 'Call Cost (NZD)': '$1.20' }),
      row(14, {}, edits.cli14),
      row(15),
    ];
    // Windows of 5 ids as the carrier serves them (the simulator's windowIds): the rows in
    // [fromid, fromid + 5), or, when none after fromid is in it, a pointer row to the next id.
    const feed = await feedServer((from) => {
      const all = rows().map((r) => [Number(r.split(',')[0]), r] as const);
      const inWindow = all.filter(([id]) => id >= from && id < from + 5);
      const next = all.find(([id]) => id > from);
      if (next && !inWindow.some(([id]) => id > from)) return `${header}\n${next[0]}${','.repeat(17)}\n`;
      return `${[header, ...inWindow.map(([, r]) => r)].join('\n')}\n`;
    }, cleanups);
    const penv = producerEnv(feed.url, A, { FEED_TIMEZONE: 'Pacific/Auckland' });
    const { producer } = await startTestProducer(penv);
    cleanups.push(() => producer.stop());
    await cursorAt(producer.ops.port, A.login, 15, 60_000);
    await producer.stop();
    // The producer's settings (brokers, registry, topics, feed) are the tools' too.
    const env = { ...penv, LOG_LEVEL: 'warn' };
    const args = ['reconcile', '--feed', '--account', A.login, '--from-id', '1'];

    // As ingested: the one dead letter is the only difference, and every gap says why it is one.
    const clean = await runCli([...args, '--format', 'json'], env);
    expect(clean.code, clean.stderr).toBe(1);
    const first = JSON.parse(clean.stdout) as JsonReport;
    expect(first.differences.map((d) => `${d.kind} ${d.id}`)).toEqual(['dead_lettered 12']);
    expect(first.accounts[0]?.gaps).toEqual([
      [4, 9],
      [12, 13],
    ]);
    expect(first.accounts[0]?.gapParts?.map(({ from, to, reason }) => ({ from, to, reason }))).toEqual([
      { from: 4, to: 9, reason: 'skipped_by_feed' },
      { from: 12, to: 12, reason: 'dead_lettered' },
      { from: 13, to: 13, reason: 'not_in_feed' },
    ]);
    // The CSV's gap rows say the same, and none of them claims a dead letter is not in the feed.
    const csv = await runCli([...args, '--format', 'csv'], env);
    const gapRows = (parse(csv.stdout, { columns: true }) as Array<Record<string, string>>).filter(
      (x) => x.section === 'gap',
    );
    expect(gapRows.map((x) => [x.kind, x.id, x.to_id])).toEqual([
      ['skipped_by_feed', '4', '9'],
      ['dead_lettered', '12', '12'],
      ['not_in_feed', '13', '13'],
    ]);
    expect(gapRows[1]?.detail).toMatch(/Call Cost/);
    // Known dead letters accepted: a clean month exits 0.
    const accepted = await runCli([...args, '--accept', 'dead_lettered'], env);
    expect(accepted.code, accepted.stdout + accepted.stderr).toBe(0);

    // The carrier rewrites a named column outside the contract's (Terminated) and an extra one.
    edits.terminated11 = 'Caller';
    edits.cli14 = 'restricted';
    const changed = await runCli([...args, '--format', 'json'], env);
    expect(changed.code).toBe(1);
    const found = (JSON.parse(changed.stdout) as JsonReport).differences
      .filter((d) => d.kind === 'values_differ')
      .map((d) => ({ id: d.id, column: d.column, kafka: d.kafka, other: d.other }));
    expect(found).toEqual([
      { id: 11, column: 'Terminated', kafka: 'Callee', other: 'Caller' },
      { id: 14, column: 'CLI Presentation', kafka: 'allowed', other: 'restricted' },
    ]);
    // Columns a carrier is known to rewrite are left out, by their feed header.
    const ignored = await runCli(
      [
        ...args,
        '--ignore-column',
        'Terminated',
        '--ignore-column',
        'cli presentation',
        '--accept',
        'dead_lettered',
      ],
      env,
    );
    expect(ignored.code, ignored.stdout + ignored.stderr).toBe(0);
    // A column no feed has is refused, naming it.
    const unknown = await runCli([...args, '--ignore-column', 'Colour'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('Colour');
  });
});
