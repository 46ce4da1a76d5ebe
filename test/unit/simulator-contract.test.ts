// The simulator keeps shared/feed-contract.md: checked over real HTTP with a real CSV parser.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parse as parseStream } from 'csv-parse';
import { parse } from 'csv-parse/sync';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { CALL_TYPES, callTypeKey } from '../../src/cdr/call-types.ts';
import type { RunningSimulator } from '../../src/simulator/index.ts';
import { csvField, csvHeader, csvRow, SIM_COLUMNS } from '../../src/simulator/index.ts';
import { feedUrl, SIM_ACCOUNTS, startTestSimulator } from '../helpers/simulator.ts';

const [A, B] = SIM_ACCOUNTS as [(typeof SIM_ACCOUNTS)[0], (typeof SIM_ACCOUNTS)[0]];
type Rec = Record<string, string>;

const running: RunningSimulator[] = [];
async function sim(overrides: Parameters<typeof startTestSimulator>[0] = {}): Promise<RunningSimulator> {
  const s = await startTestSimulator(overrides);
  running.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

async function get(url: string): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const res = await request(url);
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

function records(body: string): Rec[] {
  return parse(body, { bom: true, columns: true, relax_column_count: true, skip_empty_lines: true }) as Rec[];
}

describe('feed simulator: requests', () => {
  it('answers 401 to a wrong password or an unknown login', async () => {
    const s = await sim();
    expect((await get(feedUrl(s, { login: A.login, password: 'wrong' }, 0))).status).toBe(401);
    expect((await get(feedUrl(s, { login: 'nobody', password: A.password }, 0))).status).toBe(401);
    // One account's password does not open another.
    expect((await get(feedUrl(s, { login: A.login, password: B.password }, 0))).status).toBe(401);
  });

  it('serves each account its own id sequence as text/csv, ids ascending', async () => {
    const s = await sim();
    for (const account of [A, B]) {
      const res = await get(feedUrl(s, account, 0));
      expect(res.status).toBe(200);
      expect(String(res.headers['content-type'])).toMatch(/^text\/csv/);
      const rows = records(res.body);
      expect(rows).toHaveLength(200);
      expect(rows[0]?.id).toBe(String(account.firstId));
      const ids = rows.map((r) => BigInt(r.id as string));
      for (let i = 1; i < ids.length; i++) expect(ids[i]).toBe((ids[i - 1] as bigint) + 1n);
    }
    // Ids past 2^32 are written whole.
    expect(records((await get(feedUrl(s, B, B.firstId + 199))).body)[0]?.id).toBe('5000000000199');
  });

  it('treats fromid as inclusive and returns the header alone past the last id', async () => {
    const s = await sim();
    const rows = records((await get(feedUrl(s, A, A.firstId + 150))).body);
    expect(rows[0]?.id).toBe(String(A.firstId + 150));
    expect(rows).toHaveLength(50);
    const past = await get(feedUrl(s, A, A.firstId + 200));
    expect(past.status).toBe(200);
    expect(past.body).toBe(`${SIM_COLUMNS.join(',')}\n`);
    expect((await get(feedUrl(s, A, 'abc'))).status).toBe(400);
  });

  it('grows over time: a later poll has more rows, and the rows it shares are identical', async () => {
    const s = await sim({ growthPerSecond: 200, epochMs: Date.now() });
    const first = records((await get(feedUrl(s, A, 0))).body);
    const count = s.generator.rowCountAt(Date.now());
    // Until the feed has grown by a row (200 a second).
    while (s.generator.rowCountAt(Date.now()) <= count) await new Promise((resolve) => setImmediate(resolve));
    const second = records((await get(feedUrl(s, A, 0))).body);
    expect(second.length).toBeGreaterThan(first.length);
    expect(second.slice(0, first.length)).toEqual(first);
  });
});

describe('feed simulator: data', () => {
  it('writes RFC 4180 CSV that a real parser reads back to the generated values', async () => {
    const s = await sim({ historyRows: 2000 });
    const rows = records((await get(feedUrl(s, A, 0))).body);
    const account = { login: A.login, firstId: A.firstId, index: 0 };
    rows.forEach((row, n) => {
      expect(row).toEqual({ ...s.generator.row(account, n) });
    });
    const descriptions = rows.map((r) => r.description ?? '');
    expect(descriptions.some((d) => d.includes('\n'))).toBe(true);
    expect(descriptions.some((d) => d.includes('"') && d.includes(','))).toBe(true);
    expect(descriptions.some((d) => /[^ -~\s]/.test(d))).toBe(true);
    expect(rows.some((r) => r.billing_group === '')).toBe(true);
    expect(rows.some((r) => (r.cost ?? '').startsWith('-'))).toBe(true);
    expect(rows.some((r) => /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(r.start_time ?? ''))).toBe(true);
    expect(rows.some((r) => /T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$/.test(r.start_time ?? ''))).toBe(true);
    expect(Object.keys(rows[0] ?? {})).toContain('carrier_ref');
  });

  it('covers all 21 call types and a configurable share of unknown pairs', async () => {
    const s = await sim({ historyRows: 4000, unknownShare: 0.1 });
    const rows = records((await get(feedUrl(s, A, 0))).body);
    const seen = new Set(rows.map((r) => callTypeKey(r.type ?? '', r.sub_type ?? '')));
    for (const c of CALL_TYPES)
      expect(seen, callTypeKey(c.type, c.subType)).toContain(callTypeKey(c.type, c.subType));
    const known = new Set(CALL_TYPES.map((c) => callTypeKey(c.type, c.subType)));
    const unknown =
      rows.filter((r) => !known.has(callTypeKey(r.type ?? '', r.sub_type ?? ''))).length / rows.length;
    expect(unknown).toBeGreaterThan(0.07);
    expect(unknown).toBeLessThan(0.13);
  });

  it('breaks a configurable share of rows, including rows with fewer fields than the header', async () => {
    const s = await sim({ historyRows: 4000, malformedShare: 0.05 });
    const body = (await get(feedUrl(s, A, 0))).body;
    const raw = parse(body, { bom: true, relax_column_count: true }) as string[][];
    const rows = raw.slice(1);
    const short = rows.filter((r) => r.length < SIM_COLUMNS.length).length;
    const badSeconds = rows.filter((r) => r[7] === 'abc').length;
    expect(short).toBeGreaterThan(0);
    expect(badSeconds).toBeGreaterThan(0);
    const clean = (await sim({ historyRows: 4000, malformedShare: 0 })).url;
    const cleanRows = (
      parse((await get(`${clean}/billing/feed?${new URL(feedUrl(s, A, 0)).searchParams}`)).body, {
        relax_column_count: true,
      }) as string[][]
    ).slice(1);
    expect(cleanRows.every((r) => r.length === SIM_COLUMNS.length && r[7] !== 'abc')).toBe(true);
  });

  it('writes a BOM and CRLF line ends when asked, and a real parser reads the same records', async () => {
    const plain = await sim();
    const crlf = await sim({ bom: true, eol: '\r\n' });
    const res = await request(feedUrl(crlf, A, 0));
    const bytes = Buffer.from(await res.body.arrayBuffer());
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const text = bytes.toString('utf8');
    expect(text.split('\r\n').length).toBeGreaterThan(200);
    expect(records(text)).toEqual(records((await get(feedUrl(plain, A, 0))).body));
  });
});

describe('feed simulator: fault injection', () => {
  it('answers 503 with Retry-After for the configured number of requests, then recovers', async () => {
    const s = await sim({
      faults: { latencyMs: 0, rules: [{ kind: 'status', status: 503, retryAfterSeconds: 2, count: 2 }] },
    });
    for (let i = 0; i < 2; i++) {
      const res = await get(feedUrl(s, A, 0));
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('2');
    }
    expect((await get(feedUrl(s, A, 0))).status).toBe(200);
  });

  it('answers 429 forever with a rule that has no count', async () => {
    const s = await sim({ faults: { latencyMs: 0, rules: [{ kind: 'status', status: 429 }] } });
    for (let i = 0; i < 3; i++) expect((await get(feedUrl(s, A, 0))).status).toBe(429);
  });

  it('answers 200 with an HTML page', async () => {
    const s = await sim({ faults: { latencyMs: 0, rules: [{ kind: 'html', count: 1 }] } });
    const res = await get(feedUrl(s, A, 0));
    expect(res.status).toBe(200);
    expect(String(res.headers['content-type'])).toMatch(/^text\/html/);
    expect(res.body).toMatch(/^<!DOCTYPE html>/);
  });

  it('cuts a body off mid-row and resets the connection', async () => {
    const s = await sim({ faults: { latencyMs: 0, rules: [{ kind: 'truncate', afterRows: 10, count: 1 }] } });
    const res = await request(feedUrl(s, A, 0));
    expect(res.statusCode).toBe(200);
    let text = '';
    const failure = await (async () => {
      try {
        for await (const chunk of res.body) text += chunk.toString();
        return undefined;
      } catch (err) {
        return err;
      }
    })();
    expect(failure).toBeInstanceOf(Error);
    // Exactly: the header, ten whole rows, then a strict, non-empty prefix of the eleventh.
    const account = { login: A.login, firstId: A.firstId, index: 0 };
    const whole =
      csvHeader('\n') +
      Array.from({ length: 10 }, (_, n) => csvRow(s.generator.row(account, n), '\n')).join('');
    const next = csvRow(s.generator.row(account, 10), '\n');
    expect(text.startsWith(whole)).toBe(true);
    const partial = text.slice(whole.length);
    expect(partial.length).toBeGreaterThan(0);
    expect(partial.length).toBeLessThan(next.length);
    expect(next.startsWith(partial)).toBe(true);
  });

  it('ends a body cleanly mid-row: after a whole field, or inside a quoted field', async () => {
    const account = { login: A.login, firstId: A.firstId, index: 0 };
    for (const inside of ['field', 'quoted'] as const) {
      const s = await sim({
        faults: { latencyMs: 0, rules: [{ kind: 'cut', afterRows: 10, inside, count: 1 }] },
      });
      const row = (n: number) => s.generator.row(account, n);
      const whole = csvHeader('\n') + Array.from({ length: 10 }, (_, n) => csvRow(row(n), '\n')).join('');
      const res = await get(feedUrl(s, A, 0));
      expect(res.status).toBe(200);
      expect(res.body.startsWith(whole)).toBe(true);
      const tail = res.body.slice(whole.length);
      if (inside === 'field') {
        const r = row(10);
        expect(tail).toBe([r.id, r.account, csvField(r.billing_group), r.billing_period].join(','));
      } else {
        // An odd number of quotes: the body ends inside a quoted field, after a line break in it.
        expect(tail.startsWith(`${row(10).id},`)).toBe(true);
        expect((tail.match(/"/g) ?? []).length % 2).toBe(1);
        expect(tail).toContain('\n');
      }
      // The next response is whole again.
      expect((await get(feedUrl(s, A, 0))).body.endsWith('\n')).toBe(true);
    }
  });

  it('sends poison rows broken in every response that holds them', async () => {
    const s = await sim({
      historyRows: 50,
      poisonRows: [
        { index: 10, kind: 'oversize', bytes: 100_000 },
        { index: 20, kind: 'unclosed-quote' },
      ],
    });
    for (const from of [0, A.firstId + 5]) {
      const lines = (await get(feedUrl(s, A, from))).body.split('\n');
      const big = lines.find((l) => l.startsWith(`${A.firstId + 10},`)) as string;
      expect(big.length).toBeGreaterThan(100_000);
      expect(big.endsWith('X'.repeat(1000))).toBe(true);
      const open = lines.find((l) => l.startsWith(`${A.firstId + 20},`)) as string;
      expect(open.endsWith(',"Unclosed quote, and more')).toBe(true);
    }
  });

  it('stalls the body for the configured time after N rows', async () => {
    const s = await sim({
      faults: { latencyMs: 0, rules: [{ kind: 'stall', afterRows: 5, stallMs: 400, count: 1 }] },
    });
    const res = await request(feedUrl(s, A, 0));
    const arrivals: number[] = [];
    let text = '';
    for await (const chunk of res.body) {
      text += chunk.toString();
      arrivals.push(Date.now());
    }
    expect(records(text)).toHaveLength(200);
    const gaps = arrivals.slice(1).map((t, i) => t - (arrivals[i] as number));
    expect(Math.max(...gaps)).toBeGreaterThanOrEqual(350);
  });

  it('adds latency before every response', async () => {
    const s = await sim({ faults: { latencyMs: 300, rules: [] } });
    const t0 = Date.now();
    expect((await get(feedUrl(s, A, 0))).status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
  });
});

describe('feed simulator: a 1,000,000-row response', () => {
  it('streams every row while the simulator process keeps a flat memory profile', async () => {
    // Small heap limits: a simulator that held the ~120 MB response in memory would die, and V8
    // does not reserve a large young generation that would hide the profile.
    const child = spawn(
      process.execPath,
      ['--max-old-space-size=64', '--max-semi-space-size=4', 'src/cli.ts', 'simulate'],
      {
        env: {
          ...process.env,
          SIM_PORT: '0',
          SIM_HISTORY_ROWS: '1000000',
          SIM_GROWTH_PER_SEC: '0',
          LOG_LEVEL: 'info',
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    try {
      const port = await new Promise<number>((resolve, reject) => {
        const lines = createInterface({ input: child.stdout });
        lines.on('line', (line) => {
          const entry = JSON.parse(line) as { port?: number };
          if (entry.port) resolve(entry.port);
        });
        child.on('exit', (code) => reject(new Error(`simulator exited with ${code}`)));
      });
      const res = await request(
        `http://127.0.0.1:${port}/billing/feed?login=40021&password=sim-secret-40021&fromid=0`,
      );
      let count = 0;
      let lastId = '';
      let quarterKb = 0;
      const parser = res.body.pipe(parseStream({ columns: true, relax_column_count: true }));
      for await (const row of parser as AsyncIterable<Rec>) {
        count++;
        lastId = row.id ?? '';
        if (count === 250_000) quarterKb = vmHwmKb(child.pid as number);
      }
      const peakKb = vmHwmKb(child.pid as number);
      console.info(
        `simulator peak RSS: ${(peakKb / 1024).toFixed(1)} MiB after 1,000,000 rows (${(quarterKb / 1024).toFixed(1)} MiB after 250,000)`,
      );
      expect(count).toBe(1_000_000);
      expect(lastId).toBe(String(1000 + 999_999));
      expect(child.exitCode).toBeNull();
      // Flat: the last 750,000 rows (~90 MB of CSV) add next to nothing to the peak.
      expect(peakKb - quarterKb).toBeLessThan(16 * 1024);
      expect(peakKb).toBeLessThan(200 * 1024);
    } finally {
      child.kill('SIGTERM');
    }
  });
});

function vmHwmKb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1]);
}
