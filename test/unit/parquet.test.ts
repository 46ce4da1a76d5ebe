// The Parquet export's own writer, read back by pyarrow (Arrow's C++ reader, independent of the
// code that wrote the file): types, every value of both write paths (from the Avro bytes and from a
// decoded record), nulls, credits, row groups, and no file left by a failed export.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bytesToDecimalString, costToBytes } from '../../src/cdr/decimal.ts';
import type { RawCdr } from '../../src/cdr/row.ts';
import { avroType } from '../../src/codec/schemas.ts';
import { encodeValue } from '../../src/codec/wire.ts';
import { RawSpans } from '../../src/tools/read/raw-bytes.ts';
import { PARQUET_COLUMNS, ParquetExport } from '../../src/tools/replay/parquet.ts';
import { rawCdr } from '../helpers/raw-cdr.ts';

const READ = [
  'import json, sys, pyarrow as pa, pyarrow.parquet as pq',
  'f = pq.ParquetFile(sys.argv[1])',
  't = f.read()',
  'types = {x.name: str(x.type) for x in t.schema}',
  'nullable = {x.name: x.nullable for x in t.schema}',
  'for c in ("start_time", "ingested_at"):',
  '    t = t.set_column(t.schema.get_field_index(c), c, t.column(c).cast(pa.int64()))',
  'rows = t.to_pylist()',
  'for r in rows:',
  '    r["cost"] = str(r["cost"])',
  'groups = f.metadata.num_row_groups',
  'stats = f.metadata.row_group(0).column(0).statistics if groups else None',
  'print(json.dumps({"types": types, "nullable": nullable, "rows": rows, "groups": groups,',
  '  "idMin": stats and stats.min, "idMax": stats and stats.max}))',
].join('\n');

interface ReadBack {
  types: Record<string, string>;
  nullable: Record<string, boolean>;
  rows: Array<Record<string, unknown>>;
  groups: number;
  idMin: number;
  idMax: number;
}

function readBack(file: string): ReadBack {
  const python = process.env.PYARROW_PYTHON ?? '';
  if (python === '') throw new Error('PYARROW_PYTHON is not set: run the tests through ./dev test');
  const run = spawnSync(python, ['-c', READ, file], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (run.status !== 0) throw new Error(`pyarrow could not read ${file}: ${run.stderr}`);
  return JSON.parse(run.stdout) as ReadBack;
}

/** The row pyarrow should read for a record. */
function expected(c: RawCdr): Record<string, unknown> {
  return {
    id: c.id,
    account: c.account,
    billing_group: c.billing_group,
    billing_period: c.billing_period,
    start_time: c.start_time * 1000,
    start_time_text: c.start_time_text,
    from: c.from,
    to: c.to,
    seconds: c.seconds,
    type: c.type,
    sub_type: c.sub_type,
    cost: bytesToDecimalString(c.cost),
    cost_text: c.cost_text,
    description: c.description,
    extra: Object.keys(c.extra).length === 0 ? null : JSON.stringify(c.extra),
    billing_period_derived: c.billing_period_derived,
    currency: c.currency,
    layout: c.layout,
    date_text: c.date_text,
    time_text: c.time_text,
    status: c.status,
    terminated: c.terminated,
    smartcode: c.smartcode,
    smartcode_description: c.smartcode_description,
    recording: c.recording,
    ingested_at: c.ingest.ingested_at * 1000,
    feed_host: c.ingest.feed_host,
    line: c.ingest.line,
  };
}

const RECORDS: RawCdr[] = [
  rawCdr(),
  rawCdr({ id: 1, seconds: 0, cost: costToBytes('0'), cost_text: '0', extra: {}, layout: null }),
  rawCdr({
    id: 9_000_000_000_000_001,
    cost: costToBytes('-999999999999.999999'),
    cost_text: '-999999999999.999999',
  }),
  rawCdr({
    id: 7,
    cost: costToBytes('999999999999.999999'),
    description: 'Tōkyō 東京 — 🚀',
    billing_group: '',
  }),
  rawCdr({ id: 8, cost: costToBytes('0.000001'), extra: { 'a"b': 'back\\slash', ü: '=x,"y"' } }),
  rawCdr({
    id: 9,
    start_time: Date.parse('1999-12-31T23:59:59.999Z'),
    layout: 'legacy17',
    billing_period_derived: true,
    currency: 'NZD',
    date_text: '03/11/2026',
    time_text: '09:15:02',
    status: 'ANSWERED',
    terminated: '=cmd',
    smartcode: 'S1',
    smartcode_description: 'Mobile, "national"',
    recording: 'rec/1.mp3',
    ingest: { ingested_at: Date.parse('2026-12-07T10:00:00.123Z'), feed_host: 'carrier:443', line: 1234567 },
  }),
  rawCdr({ id: 10, cost: costToBytes('-0.000001'), to: '', from: '' }),
];

describe('Parquet export', () => {
  const type = avroType('cdr-raw');
  const dir = mkdtempSync(join(tmpdir(), 'cdr-parquet-'));

  it('writes every value of both paths exactly, in its type, a row group at a time', () => {
    const file = join(dir, 'both.parquet');
    const p = new ParquetExport(file, { rowGroupRows: 4 });
    const spans = new RawSpans();
    // Every record twice: once from its Avro bytes, once decoded.
    for (const c of RECORDS) {
      spans.parse(encodeValue(type, 9, c));
      p.writeSpans(spans);
      p.write(c);
    }
    p.close();
    const back = readBack(file);
    expect(Object.keys(back.types)).toEqual(PARQUET_COLUMNS);
    expect(back.types).toMatchObject({
      id: 'int64',
      cost: 'decimal128(18, 6)',
      start_time: 'timestamp[us, tz=UTC]',
      ingested_at: 'timestamp[us, tz=UTC]',
      seconds: 'int64',
      line: 'int64',
      account: 'string',
      extra: 'string',
      billing_period_derived: 'bool',
    });
    expect(back.nullable.id).toBe(false);
    expect(back.nullable.recording).toBe(true);
    expect(back.groups).toBe(Math.ceil((2 * RECORDS.length) / 4));
    expect(back.rows).toEqual(RECORDS.flatMap((c) => [expected(c), expected(c)]));
    // The first row group's id statistics: its four rows are ids 5000000000123 and 1.
    expect([back.idMin, back.idMax]).toEqual([1, 5_000_000_000_123]);
  });

  it('writes a file with no row at all, and one row group for fewer rows than a group', () => {
    const empty = join(dir, 'empty.parquet');
    new ParquetExport(empty).close();
    expect(readBack(empty).rows).toEqual([]);
    const one = join(dir, 'one.parquet');
    const p = new ParquetExport(one);
    p.write(RECORDS[0] as RawCdr);
    p.close();
    expect(readBack(one).rows).toEqual([expected(RECORDS[0] as RawCdr)]);
  });

  it('refuses a cost beyond DECIMAL(18,6) without putting its row out of step', () => {
    const file = join(dir, 'refused.parquet');
    const p = new ParquetExport(file, { rowGroupRows: 2 });
    p.write(RECORDS[0] as RawCdr);
    expect(() => p.write(rawCdr({ cost: Buffer.alloc(9, 1) }))).toThrow(/9 bytes/);
    p.write(RECORDS[1] as RawCdr);
    p.close();
    expect(readBack(file).rows).toEqual([expected(RECORDS[0] as RawCdr), expected(RECORDS[1] as RawCdr)]);
  });

  it('leaves no file behind when aborted, and none under its name until closed', () => {
    const sub = mkdtempSync(join(dir, 'abort-'));
    const file = join(sub, 'out.parquet');
    const p = new ParquetExport(file, { rowGroupRows: 1 });
    p.write(RECORDS[0] as RawCdr);
    p.write(RECORDS[1] as RawCdr);
    expect(existsSync(file)).toBe(false);
    p.abort();
    expect(readdirSync(sub)).toEqual([]);
  });
});
