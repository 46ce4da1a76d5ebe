// `export --format parquet`: CDRs as Parquet columns (parquet-file.ts), from the record's Avro
// bytes when it has the current cdr-raw schema (read/raw-bytes.ts: texts copied as bytes, no string
// made), from the decoded record otherwise. Types: ids, seconds and lines INT64; cost
// DECIMAL(18,6) on INT64, exact, beside cost_text as sent; start_time and ingested_at
// TIMESTAMP(MICROS, adjusted to UTC), an instant, beside start_time_text as sent; extra as its
// JSON text, null when empty.
import type { RawCdr } from '../../cdr/row.ts';
import { ByteSink } from '../read/byte-sink.ts';
import { F, OPTIONAL_TEXTS, type RawSpans } from '../read/raw-bytes.ts';
import { type ColumnValues, type ParquetColumn, ParquetFile } from './parquet-file.ts';

const text = (name: string): ParquetColumn => ({ name, kind: 'string', optional: false });
const maybe = (name: string): ParquetColumn => ({ name, kind: 'string', optional: true });
const int64 = (name: string): ParquetColumn => ({ name, kind: 'int64', optional: false });
const instant = (name: string): ParquetColumn => ({ name, kind: 'timestamp', optional: false });

const COLUMNS: ParquetColumn[] = [
  int64('id'),
  text('account'),
  text('billing_group'),
  text('billing_period'),
  instant('start_time'),
  text('start_time_text'),
  text('from'),
  text('to'),
  int64('seconds'),
  text('type'),
  text('sub_type'),
  { name: 'cost', kind: 'decimal', optional: false, precision: 18, scale: 6 },
  text('cost_text'),
  text('description'),
  maybe('extra'),
  { name: 'billing_period_derived', kind: 'boolean', optional: false },
  maybe('currency'),
  maybe('layout'),
  maybe('date_text'),
  maybe('time_text'),
  maybe('status'),
  maybe('terminated'),
  maybe('smartcode'),
  maybe('smartcode_description'),
  maybe('recording'),
  instant('ingested_at'),
  text('feed_host'),
  int64('line'),
];

export const PARQUET_COLUMNS = COLUMNS.map((c) => c.name);

/**
 * Rows per row group: about 300 bytes a row before compression, so ~15 MB held; large enough
 * for readers to skip by statistics, small enough to keep the export's memory flat.
 */
const ROW_GROUP_ROWS = 50_000;

/** Checked before a row's first value, so a record refused leaves no column a value ahead. */
function fitsInt64(costBytes: number): void {
  if (costBytes > 8) throw new Error(`cost of ${costBytes} bytes is beyond DECIMAL(18,6)`);
}

export class ParquetExport {
  private readonly file: ParquetFile;
  private readonly col: ColumnValues[];
  private readonly json = new ByteSink(4096);

  constructor(path: string, options: { rowGroupRows?: number } = {}) {
    this.file = new ParquetFile(path, COLUMNS, { rowGroupRows: options.rowGroupRows ?? ROW_GROUP_ROWS });
    this.col = this.file.columns;
  }

  /** A record of the current schema, from the spans `r` has just parsed. */
  writeSpans(r: RawSpans): void {
    const c = this.col;
    const b = r.b;
    const s = r.starts;
    const e = r.ends;
    fitsInt64((e[F.cost] as number) - (s[F.cost] as number));
    (c[0] as ColumnValues).int64(r.id);
    this.span(r, 1, F.account);
    this.span(r, 2, F.group);
    this.span(r, 3, F.period);
    (c[4] as ColumnValues).int64(r.startTime * 1000);
    this.span(r, 5, F.startText);
    this.span(r, 6, F.from);
    this.span(r, 7, F.to);
    (c[8] as ColumnValues).int64(r.seconds);
    this.span(r, 9, F.type);
    this.span(r, 10, F.subType);
    (c[11] as ColumnValues).decimalBytes(b, s[F.cost] as number, e[F.cost] as number);
    this.span(r, 12, F.costText);
    this.span(r, 13, F.description);
    const j = this.json;
    j.len = 0;
    if (r.extraJson(j)) (c[14] as ColumnValues).bytes(j.buf, 0, j.len);
    else (c[14] as ColumnValues).nul();
    (c[15] as ColumnValues).boolean(r.derived);
    for (let i = 0; i < OPTIONAL_TEXTS.length; i++) {
      const f = OPTIONAL_TEXTS[i] as number;
      if (r.isNull(f)) (c[16 + i] as ColumnValues).nul();
      else this.span(r, 16 + i, f);
    }
    (c[25] as ColumnValues).int64(r.ingestedAt * 1000);
    this.span(r, 26, F.feedHost);
    (c[27] as ColumnValues).int64(r.line);
    this.file.endRow();
  }

  /** Text `f` of the record `r` has parsed, as column `k`'s value (a method: no closure per record). */
  private span(r: RawSpans, k: number, f: number): void {
    (this.col[k] as ColumnValues).bytes(r.b, r.starts[f] as number, r.ends[f] as number);
  }

  /** A decoded record (of any schema version). */
  write(r: RawCdr): void {
    const c = this.col;
    fitsInt64(r.cost.length);
    const t = (k: number, v: string | null) =>
      v === null ? (c[k] as ColumnValues).nul() : (c[k] as ColumnValues).text(v);
    (c[0] as ColumnValues).int64(r.id);
    t(1, r.account);
    t(2, r.billing_group);
    t(3, r.billing_period);
    (c[4] as ColumnValues).int64(r.start_time * 1000);
    t(5, r.start_time_text);
    t(6, r.from);
    t(7, r.to);
    (c[8] as ColumnValues).int64(r.seconds);
    t(9, r.type);
    t(10, r.sub_type);
    (c[11] as ColumnValues).decimalBytes(r.cost, 0, r.cost.length);
    t(12, r.cost_text);
    t(13, r.description);
    t(14, Object.keys(r.extra).length === 0 ? null : JSON.stringify(r.extra));
    (c[15] as ColumnValues).boolean(r.billing_period_derived ?? false);
    const optional = [
      r.currency,
      r.layout,
      r.date_text,
      r.time_text,
      r.status,
      r.terminated,
      r.smartcode,
      r.smartcode_description,
      r.recording,
    ];
    for (let i = 0; i < optional.length; i++) t(16 + i, optional[i] ?? null);
    (c[25] as ColumnValues).int64(r.ingest.ingested_at * 1000);
    t(26, r.ingest.feed_host);
    (c[27] as ColumnValues).int64(r.ingest.line);
    this.file.endRow();
  }

  /** Writes the footer and gives the file its name. */
  close(): void {
    this.file.close();
  }

  /** Removes the partial file. */
  abort(): void {
    this.file.abort();
  }
}
