// One response, from bytes to batches (response.ts), and the two places it is parsed
// (parsers.ts): on a worker thread and inline give the very same batches.
import { Readable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { BUILT_IN_LAYOUTS } from '../../src/cdr/header.ts';
import { avroType } from '../../src/codec/schemas.ts';
import { unframe } from '../../src/codec/wire.ts';
import { CommitBatch } from '../../src/feed/commit-batch.ts';
import { createParsers, type ResponseEvent } from '../../src/feed/parsers.ts';
import { PackedRecords } from '../../src/feed/records.ts';
import {
  type ParsedBatch,
  ResponseParser,
  type ResponseSetup,
  type ResponseStart,
  type ResponseSummary,
} from '../../src/feed/response.ts';
import { CdrGenerator, CsvWriter } from '../../src/simulator/index.ts';
import { tallyObjects } from '../helpers/control.ts';
import { simOptions } from '../helpers/simulator.ts';

const ACCOUNT = { login: '40021', password: 'x', firstId: 1000, index: 0 };
const type = avroType('cdr-raw');

function body(rows: number, extra: string[] = [], layout: 'contract' | 'legacy17' = 'contract'): string {
  const writer = new CsvWriter(layout);
  const generator = new CdrGenerator(simOptions({ seed: 3, historyRows: rows }));
  let text = writer.header('\n');
  for (let n = 0; n < rows; n++) text += writer.row(generator.row(ACCOUNT, n), '\n');
  return text + extra.join('');
}

function setup(overrides: Partial<ResponseSetup> = {}): ResponseSetup {
  return {
    account: ACCOUNT.login,
    rows: {
      layouts: BUILT_IN_LAYOUTS,
      timeZone: 'Australia/Sydney',
      currency: undefined,
      delimiter: ',',
      maxRecordChars: 100_000,
      deadLetterRawMaxChars: 1000,
      noGroupKeyPrefix: 'account:',
    },
    batch: { maxRows: 100, maxMs: 3_600_000 },
    raw: { topic: 'cdr.raw', schemaId: 7, partitions: 6 },
    feedHost: '127.0.0.1:1',
    ...overrides,
  };
}

const START: ResponseStart = {
  fetchedAt: '2026-11-28T00:00:00.000Z',
  cursor: { lastId: 999, deadLetteredAfter: 0 },
  heldTail: undefined,
  maxMessageBytes: 1_000_000,
};

/** Every batch of a body pushed in chunks of `chunk` bytes. */
function parseAll(text: string, chunk: number, s = setup()) {
  const parser = new ResponseParser(s, START, type);
  const bytes = Buffer.from(text);
  const batches: ParsedBatch[] = [];
  for (let at = 0; at < bytes.length; at += chunk)
    batches.push(...parser.push(bytes.subarray(at, at + chunk)));
  const end = parser.end(false);
  return { batches: [...batches, ...end.batches], summary: end.summary };
}

const ids = (batches: readonly ParsedBatch[]) =>
  batches.flatMap((b) =>
    PackedRecords.messages(b.raw).map(
      (m) => (type.decode(unframe(m.value as Buffer).body, 0).value as { id: number }).id,
    ),
  );

describe('ResponseParser', () => {
  it('cuts batches of BATCH_MAX_ROWS in body order, whatever the chunks, each record framed and keyed', () => {
    const text = body(250);
    const one = parseAll(text, 1 << 20);
    const small = parseAll(text, 97);
    expect(one.batches.map((b) => b.raw.count)).toEqual([100, 100, 50]);
    expect(ids(one.batches)).toEqual(Array.from({ length: 250 }, (_, i) => 1000 + i));
    expect(ids(small.batches)).toEqual(ids(one.batches));
    expect(one.batches.map((b) => b.lastId)).toEqual([1099, 1199, 1249]);
    expect(one.summary).toMatchObject({ fetched: 250, taken: 250, complete: true, heldTail: undefined });
    const m = PackedRecords.messages(one.batches[0]?.raw as PackedRecords)[0];
    expect(unframe(m?.value as Buffer).schemaId).toBe(7);
    expect(m?.partition).toBeGreaterThanOrEqual(0);
    expect(m?.partition).toBeLessThan(6);
    // Each record's tally is its own CDR's.
    const batch = new CommitBatch(one.batches[0] as ParsedBatch);
    const cdr = type.decode(unframe(batch.raw[3]?.value as Buffer).body, 0).value as {
      id: number;
      seconds: number;
    };
    expect(tallyObjects(batch.tallies)[3]).toMatchObject({ id: cdr.id, seconds: cdr.seconds });
  });

  it('keeps the rows before a body that broke off, without its partial last row', () => {
    const text = body(30);
    const cut = text.slice(0, text.length - 20);
    const parser = new ResponseParser(setup(), START, type);
    const early = parser.push(Buffer.from(cut));
    const { batches, summary } = parser.end(true);
    expect(ids([...early, ...batches])).toEqual(Array.from({ length: 29 }, (_, i) => 1000 + i));
    expect(summary.complete).toBe(false);
  });

  it('dead-letters a broken row with its reason and goes on', () => {
    const text = body(5).replace(/\n1002,[^\n]*/, '\n1002,not,a,cdr');
    const { batches } = parseAll(text, 1 << 20);
    expect(ids(batches)).toEqual([1000, 1001, 1003, 1004]);
    const dlq = batches.flatMap((b) => b.dlq);
    expect(dlq).toHaveLength(1);
    expect(JSON.parse(String(dlq[0]?.value))).toMatchObject({ id: '1002', account: ACCOUNT.login });
    expect(batches.at(-1)?.lastId).toBe(1004);
  });

  it('dead-letters a 17-column row with a field too few and a description over three lines once, with all its text', () => {
    const short = '1002,Support,0299990000,0400000000,"Call to\nmobile\nnote",BUSY,Y,03/11/2026';
    const text = body(5, [], 'legacy17').replace(/\n1002,[^\n]*/, `\n${short}`);
    for (const chunk of [1 << 20, 7]) {
      const { batches } = parseAll(text, chunk);
      expect(ids(batches)).toEqual([1000, 1001, 1003, 1004]);
      const dlq = batches
        .flatMap((b) => b.dlq)
        .map((m) => JSON.parse(String(m.value)) as Record<string, unknown>);
      expect(dlq).toHaveLength(1);
      expect(dlq[0]).toMatchObject({ id: '1002', account: ACCOUNT.login, raw: short });
    }
  });

  it('a header that fits no layout throws, and end(true) still gives what came before (nothing)', () => {
    const parser = new ResponseParser(setup(), START, type);
    expect(() => parser.push(Buffer.from('Foo,Bar,Baz\n1,2,3\n'))).toThrow(/header|column/i);
    const { batches, summary } = parser.end(true);
    expect(batches.map((b) => b.raw.count + b.dlq.length)).toEqual([0]);
    expect(summary.complete).toBe(false);
  });
});

describe('parse paths', () => {
  const worker = createParsers(1, type, pino({ level: 'silent' }));
  const inline = createParsers(0, type, pino({ level: 'silent' }));
  afterAll(() => worker.close());

  async function run(parsers: typeof worker, text: string, chunk: number) {
    const bytes = Buffer.from(text);
    async function* chunks() {
      for (let at = 0; at < bytes.length; at += chunk) yield bytes.subarray(at, at + chunk);
    }
    const batches: CommitBatch[] = [];
    let end: Extract<ResponseEvent, { kind: 'end' }> | undefined;
    for await (const ev of parsers.parse(Readable.from(chunks()), setup(), START)) {
      if (ev.kind === 'batch') batches.push(new CommitBatch(ev.batch));
      else end = ev;
    }
    return { batches, end: end as { summary: ResponseSummary; error: unknown } };
  }
  const view = (batches: CommitBatch[]) =>
    batches.map((b) => ({
      raw: b.raw.map((m) => [String(m.key), (m.value as Buffer).toString('hex'), m.partition]),
      tallies: tallyObjects(b.tallies),
      dlq: b.dlq.map((m) => m.value),
      lastId: b.lastId,
    }));

  it('a worker thread gives the same batches as the inline parser, in the same order', async () => {
    const text = body(1234);
    const a = await run(worker, text, 4096);
    const b = await run(inline, text, 4096);
    expect(a.end.error).toBeUndefined();
    expect(a.batches).toHaveLength(13);
    // ingested_at is the time of conversion: compared apart from it.
    const strip = (v: ReturnType<typeof view>) =>
      v.map((x) => ({ ...x, raw: x.raw.map(([k, , p]) => [k, p]) }));
    expect(strip(view(a.batches))).toEqual(strip(view(b.batches)));
    // The time of conversion (ingest.ingested_at) differs between the two runs: set aside.
    const decoded = (batches: CommitBatch[]) =>
      batches
        .flatMap((x) => x.raw)
        .map((m) => {
          const v = type.decode(unframe(m.value as Buffer).body, 0).value as {
            ingest: { ingested_at: number };
          };
          v.ingest.ingested_at = 0;
          return v;
        });
    expect(decoded(a.batches)).toEqual(decoded(b.batches));
    expect(a.end.summary).toEqual(b.end.summary);
  });

  it('a worker stopped mid-response ends it with CDR_PARSE_WORKER after whole batches; the next response gets a new worker', async () => {
    const text = body(3000);
    const bytes = Buffer.from(text);
    let sent = 0;
    async function* slow() {
      for (let at = 0; at < bytes.length; at += 2048) {
        sent += 2048;
        if (at === 2048 * 40) await worker.stopWorkers();
        yield bytes.subarray(at, at + 2048);
      }
    }
    const got: CommitBatch[] = [];
    let end: Extract<ResponseEvent, { kind: 'end' }> | undefined;
    for await (const ev of worker.parse(Readable.from(slow()), setup(), START)) {
      if (ev.kind === 'batch') got.push(new CommitBatch(ev.batch));
      else end = ev;
    }
    expect((end?.error as { code?: string } | undefined)?.code).toBe('CDR_PARSE_WORKER');
    expect(sent).toBeLessThan(bytes.length);
    // Whole batches only, in order, from the first id.
    expect(got.every((b) => b.raw.length === 100)).toBe(true);
    expect(got.flatMap((b) => Array.from(b.tallies.ids).slice(0, b.tallies.count))).toEqual(
      Array.from({ length: got.length * 100 }, (_, i) => 1000 + i),
    );
    const again = await run(worker, body(150), 1 << 16);
    expect(again.end.error).toBeUndefined();
    expect(again.batches.map((b) => b.raw.length)).toEqual([100, 50]);
  });
});
