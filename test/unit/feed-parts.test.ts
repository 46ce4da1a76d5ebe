// Feed-side pure parts: backoff, Retry-After, the CSV row stream, the feed URL kept out of logs.
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { CdrError } from '../../src/errors.ts';
import { type FeedRow, feedRows } from '../../src/feed/csv-rows.ts';
import { feedTarget, feedUrl } from '../../src/feed/request.ts';
import { parseRetryAfter } from '../../src/feed/retry-after.ts';
import { backoffDelay, retryDelay } from '../../src/ops/retry.ts';

async function collect(
  chunks: Array<string | Buffer>,
  failAtEnd?: Error,
  acceptTail = true,
): Promise<{ rows: FeedRow[]; error?: unknown }> {
  async function* source() {
    for (const c of chunks) yield typeof c === 'string' ? Buffer.from(c) : c;
    if (failAtEnd) throw failAtEnd;
  }
  const rows: FeedRow[] = [];
  try {
    const options = {
      delimiter: ',',
      maxRecordChars: 10_000,
      rawClipChars: 1000,
      acceptTail: () => acceptTail,
    };
    for await (const r of feedRows(Readable.from(source()), options)) rows.push(r);
    return { rows };
  } catch (error) {
    return { rows, error };
  }
}

describe('backoff', () => {
  const options = { minMs: 1000, maxMs: 60_000 };
  it('doubles from the minimum up to the maximum, jittered between half and all of it', () => {
    expect(backoffDelay(0, options, () => 0.999999)).toBe(1000);
    expect(backoffDelay(0, options, () => 0)).toBe(500);
    expect(backoffDelay(3, options, () => 0.999999)).toBe(8000);
    expect(backoffDelay(20, options, () => 0.999999)).toBe(60_000);
    expect(backoffDelay(20, options, () => 0)).toBe(30_000);
  });
  it('lets Retry-After win, capped at an hour', () => {
    expect(retryDelay(5, options, 2000)).toBe(2000);
    expect(retryDelay(0, options, 10 * 3_600_000)).toBe(3_600_000);
  });
  it('reads Retry-After as seconds or an HTTP date', () => {
    const now = Date.UTC(2026, 10, 27, 12, 0, 0);
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Fri, 27 Nov 2026 12:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});

describe('feed URL', () => {
  it('carries the credentials, and what may be logged does not', () => {
    const url = feedUrl('https://feed.example:8443/base', { login: 'u1', password: 'p&w=d' }, 42);
    expect(url).toBe('https://feed.example:8443/base/billing/feed?login=u1&password=p%26w%3Dd&fromid=42');
    expect(feedTarget('https://feed.example:8443/base', 42)).toEqual({
      feedHost: 'feed.example:8443',
      fromid: 42,
    });
  });
});

describe('CSV row stream', () => {
  it('strips a BOM, handles CRLF and quoted line breaks split across chunks', async () => {
    const body = '\ufeffid,cost,start_time\r\n1,0.5,"a"\r\n2,"1,5","multi\r\nline ""q"""\r\n';
    const bytes = Buffer.from(body);
    const { rows, error } = await collect([bytes.subarray(0, 7), bytes.subarray(7, 30), bytes.subarray(30)]);
    expect(error).toBeUndefined();
    expect(rows[0]).toEqual({ kind: 'header', fields: ['id', 'cost', 'start_time'] });
    expect(rows[1]).toMatchObject({ kind: 'record', fields: ['1', '0.5', 'a'], raw: '1,0.5,"a"' });
    expect(rows[2]).toMatchObject({ kind: 'record', fields: ['2', '1,5', 'multi\r\nline "q"'] });
    expect(rows).toHaveLength(3);
  });

  it('accepts an empty body and a header alone as an empty feed', async () => {
    expect((await collect([])).rows).toEqual([]);
    expect((await collect(['id,cost,start_time\n'])).rows).toHaveLength(1);
  });

  it('keeps a stray quote as data, so the rows after it still parse', async () => {
    const { rows, error } = await collect(['id,cost,start_time\n1,"bad"x,t\n2,0.5,t\n3,ba"d,t\n4,1,t\n']);
    expect(error).toBeUndefined();
    expect(rows.map((r) => r.kind)).toEqual(['header', 'record', 'record', 'record', 'record']);
    expect(rows[1]).toMatchObject({ fields: ['1', '"bad"x', 't'] });
    expect(rows[4]).toMatchObject({ fields: ['4', '1', 't'] });
  });

  it('holds back a last row without a line end, and never holds back a header', async () => {
    const held = await collect(['id,cost,start_time\n1,0.5,t\n2,0.'], undefined, false);
    expect(held.rows.map((r) => r.kind)).toEqual(['header', 'record', 'tail']);
    expect(held.rows[2]).toMatchObject({ kind: 'tail', raw: '2,0.', line: 3 });
    expect((await collect(['id,cost,start_time'], undefined, false)).rows).toEqual([
      { kind: 'header', fields: ['id', 'cost', 'start_time'] },
    ]);
  });

  it('reports a quote never closed, once taken, as broken with its text and id', async () => {
    const { rows, error } = await collect(['id,cost,start_time\n1,0.5,t\n2,"never closed,t\n']);
    expect(error).toBeUndefined();
    expect(rows.map((r) => r.kind)).toEqual(['header', 'record', 'broken']);
    expect(rows[2]).toMatchObject({
      kind: 'broken',
      code: 'unclosed_quote',
      leading: ['2'],
      raw: '2,"never closed,t',
    });
  });

  it('rejects a body that does not start with the header, such as an HTML page', async () => {
    const { error } = await collect(['<!DOCTYPE html>\n<html><body>Sign in</body></html>\n']);
    expect((error as CdrError).code).toBe('CDR_FEED_NOT_CSV');
  });

  it('yields the rows received before a break, never the partial row, then throws the break', async () => {
    const { rows, error } = await collect(
      ['id,cost,start_time\n1,0.5,t\n2,0.7,t\n3,0.'],
      new Error('socket reset'),
    );
    expect((error as Error).message).toBe('socket reset');
    expect(rows.filter((r) => r.kind === 'record').map((r) => (r as { fields: string[] }).fields[0])).toEqual(
      ['1', '2'],
    );
  });
});
