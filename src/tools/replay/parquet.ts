// Parquet export through DuckDB (@duckdb/node-api): rows are appended to a table in a scratch
// database file beside the output (so memory stays bounded: DuckDB spills to that file), then
// written with DuckDB's own Parquet writer, and the scratch file removed. Types: ids, seconds and
// lines BIGINT; cost DECIMAL(18,6), exact, beside cost_text as sent; start_time and ingested_at
// TIMESTAMP WITH TIME ZONE (Parquet: an instant, adjusted to UTC) beside start_time_text as sent.
import { rm } from 'node:fs/promises';
import {
  type DuckDBAppender,
  type DuckDBConnection,
  DuckDBDecimalValue,
  DuckDBInstance,
  DuckDBTimestampTZValue,
} from '@duckdb/node-api';
import { twosComplementToBigint } from '../../cdr/decimal.ts';
import type { RawCdr } from '../../cdr/row.ts';

const COLUMNS: Array<[string, string]> = [
  ['id', 'BIGINT NOT NULL'],
  ['account', 'VARCHAR NOT NULL'],
  ['billing_group', 'VARCHAR NOT NULL'],
  ['billing_period', 'VARCHAR NOT NULL'],
  ['start_time', 'TIMESTAMPTZ NOT NULL'],
  ['start_time_text', 'VARCHAR NOT NULL'],
  ['from', 'VARCHAR NOT NULL'],
  ['to', 'VARCHAR NOT NULL'],
  ['seconds', 'BIGINT NOT NULL'],
  ['type', 'VARCHAR NOT NULL'],
  ['sub_type', 'VARCHAR NOT NULL'],
  ['cost', 'DECIMAL(18,6) NOT NULL'],
  ['cost_text', 'VARCHAR NOT NULL'],
  ['description', 'VARCHAR NOT NULL'],
  ['extra', 'VARCHAR'],
  ['billing_period_derived', 'BOOLEAN NOT NULL'],
  ['currency', 'VARCHAR'],
  ['layout', 'VARCHAR'],
  ['date_text', 'VARCHAR'],
  ['time_text', 'VARCHAR'],
  ['status', 'VARCHAR'],
  ['terminated', 'VARCHAR'],
  ['smartcode', 'VARCHAR'],
  ['smartcode_description', 'VARCHAR'],
  ['recording', 'VARCHAR'],
  ['ingested_at', 'TIMESTAMPTZ NOT NULL'],
  ['feed_host', 'VARCHAR NOT NULL'],
  ['line', 'BIGINT NOT NULL'],
];

export const PARQUET_COLUMNS = COLUMNS.map(([name]) => name);

/** Rows the appender holds before handing them to the table. */
const FLUSH_ROWS = 5_000;
/** Rows per Parquet row group (DuckDB's default is 122,880; a row group is built in memory). */
const ROW_GROUP_ROWS = 20_000;

export class ParquetExport {
  private readonly path: string;
  private readonly scratch: string;
  private readonly instance: DuckDBInstance;
  private readonly connection: DuckDBConnection;
  private readonly appender: DuckDBAppender;

  private constructor(
    path: string,
    scratch: string,
    instance: DuckDBInstance,
    connection: DuckDBConnection,
    appender: DuckDBAppender,
  ) {
    this.path = path;
    this.scratch = scratch;
    this.instance = instance;
    this.connection = connection;
    this.appender = appender;
  }

  static async open(path: string): Promise<ParquetExport> {
    const scratch = `${path}.${process.pid}.duckdb`;
    // Memory: DuckDB's buffers within 48 MB (it spills to the scratch file; 24 MB ran out), one
    // thread, and no order kept between row groups, so COPY streams the table out a row group at
    // a time. With 128 MB, DuckDB's default row groups and no appender flushes, a 1,000,000-record
    // export peaked at 532 MiB; with these, 313-327 MiB (docs/performance.md).
    const instance = await DuckDBInstance.create(scratch, {
      memory_limit: '48MB',
      threads: '1',
      preserve_insertion_order: 'false',
    });
    const connection = await instance.connect();
    const columns = COLUMNS.map(([name, type]) => `"${name}" ${type}`).join(', ');
    await connection.run(`CREATE TABLE cdr (${columns})`);
    const appender = await connection.createAppender('cdr');
    return new ParquetExport(path, scratch, instance, connection, appender);
  }

  /** Rows appended since the appender last handed its rows to the table. */
  private pending = 0;

  write(c: RawCdr): void {
    const a = this.appender;
    const text = (v: string | null) => (v === null ? a.appendNull() : a.appendVarchar(v));
    a.appendBigInt(BigInt(c.id));
    a.appendVarchar(c.account);
    a.appendVarchar(c.billing_group);
    a.appendVarchar(c.billing_period);
    a.appendTimestampTZ(new DuckDBTimestampTZValue(BigInt(c.start_time) * 1000n));
    a.appendVarchar(c.start_time_text);
    a.appendVarchar(c.from);
    a.appendVarchar(c.to);
    a.appendBigInt(BigInt(c.seconds));
    a.appendVarchar(c.type);
    a.appendVarchar(c.sub_type);
    a.appendDecimal(new DuckDBDecimalValue(twosComplementToBigint(c.cost), 18, 6));
    a.appendVarchar(c.cost_text);
    a.appendVarchar(c.description);
    text(Object.keys(c.extra).length === 0 ? null : JSON.stringify(c.extra));
    a.appendBoolean(c.billing_period_derived ?? false);
    text(c.currency ?? null);
    text(c.layout ?? null);
    text(c.date_text ?? null);
    text(c.time_text ?? null);
    text(c.status ?? null);
    text(c.terminated ?? null);
    text(c.smartcode ?? null);
    text(c.smartcode_description ?? null);
    text(c.recording ?? null);
    a.appendTimestampTZ(new DuckDBTimestampTZValue(BigInt(c.ingest.ingested_at) * 1000n));
    a.appendVarchar(c.ingest.feed_host);
    a.appendBigInt(BigInt(c.ingest.line));
    a.endRow();
    // The appender holds rows outside DuckDB's memory limit until it flushes (by itself only
    // every ~200,000): handed to the table, which the buffer manager bounds, every FLUSH_ROWS.
    if (++this.pending >= FLUSH_ROWS) {
      a.flushSync();
      this.pending = 0;
    }
  }

  /** Writes the Parquet file and removes the scratch database. */
  async close(): Promise<void> {
    try {
      this.appender.closeSync();
      const target = this.path.replaceAll("'", "''");
      await this.connection.run(
        `COPY cdr TO '${target}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE ${ROW_GROUP_ROWS})`,
      );
    } finally {
      this.connection.closeSync();
      this.instance.closeSync();
      await rm(this.scratch, { force: true });
      await rm(`${this.scratch}.wal`, { force: true });
    }
  }
}
