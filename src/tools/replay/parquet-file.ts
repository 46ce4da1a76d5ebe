// A streaming Parquet writer for flat rows (https://parquet.apache.org/docs/file-format/): values
// are appended column by column into buffers that are reused for every row group; a full row group
// is written as one PLAIN data page per column, zstd-compressed, and forgotten; the footer lists
// the row groups at the end. Memory is one row group's values, whatever the file's size. The file
// is written under a temporary name and renamed only when whole, so a failed export leaves no
// Parquet file a reader could take for complete.
//
// Types: INT64 (with TIMESTAMP(MICROS, UTC) or DECIMAL(precision, scale) logical types), BYTE_ARRAY
// with the STRING logical type, BOOLEAN; each REQUIRED or OPTIONAL (definition levels as RLE runs).
import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { constants, zstdCompressSync } from 'node:zlib';
import { ByteSink } from '../read/byte-sink.ts';
import { ThriftWriter } from './parquet-thrift.ts';

export type ParquetKind = 'int64' | 'timestamp' | 'decimal' | 'string' | 'boolean';

export interface ParquetColumn {
  name: string;
  kind: ParquetKind;
  optional: boolean;
  /** DECIMAL only (at most 18 digits: it is stored as INT64). */
  precision?: number;
  scale?: number;
}

/** Parquet's enums, as thrift numbers. */
const TYPE = { boolean: 0, int64: 2, byteArray: 6 } as const;
const REPETITION = { required: 0, optional: 1 } as const;
const CONVERTED = { utf8: 0, decimal: 5, timestampMicros: 10 } as const;
const ENCODING = { plain: 0, rle: 3 } as const;
const CODEC_ZSTD = 6;
const DATA_PAGE = 0;
const MAGIC = Buffer.from('PAR1', 'latin1');
const TWO_32 = 2 ** 32;

/** One column's values of the row group being filled. */
export class ColumnValues {
  readonly spec: ParquetColumn;
  readonly values = new ByteSink(1 << 16);
  /** Definition levels (1 present, 0 null), OPTIONAL columns only. */
  defs = new Uint8Array(0);
  rows = 0;
  nulls = 0;
  /** INT64 columns: the least and greatest value of the row group. */
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;

  constructor(spec: ParquetColumn) {
    this.spec = spec;
  }

  /** A signed integer of at most 2^53 in magnitude. */
  int64(n: number): void {
    const v = this.values;
    v.ensure(8);
    const hi = Math.floor(n / TWO_32);
    le32(v.buf, v.len, n - hi * TWO_32);
    le32(v.buf, v.len + 4, hi >>> 0);
    v.len += 8;
    if (n < this.min) this.min = n;
    if (n > this.max) this.max = n;
    this.present();
  }

  /** A decimal's unscaled value as Avro holds it: big-endian two's complement, at most 8 bytes. */
  decimalBytes(b: Uint8Array, s: number, e: number): void {
    const n = e - s;
    if (n > 8) throw new Error(`decimal of ${n} bytes does not fit Parquet INT64`);
    const v = this.values;
    v.ensure(8);
    const fill = n > 0 && (b[s] as number) & 0x80 ? 0xff : 0;
    for (let i = 0; i < 8; i++) v.buf[v.len + i] = i < n ? (b[e - 1 - i] as number) : fill;
    v.len += 8;
    this.present();
  }

  /** UTF-8 bytes `b[s..e)`. */
  bytes(b: Uint8Array, s: number, e: number): void {
    const v = this.values;
    v.ensure(4 + e - s);
    le32(v.buf, v.len, e - s);
    v.len += 4;
    v.span(b, s, e);
    this.present();
  }

  text(s: string): void {
    const v = this.values;
    v.ensure(4 + 3 * s.length);
    const n = v.buf.write(s, v.len + 4, 'utf8');
    v.buf.writeUInt32LE(n, v.len);
    v.len += 4 + n;
    this.present();
  }

  /** Booleans are held a byte each and bit-packed when the page is written. */
  boolean(b: boolean): void {
    this.values.ensure(1);
    this.values.byte(b ? 1 : 0);
    this.present();
  }

  nul(): void {
    if (!this.spec.optional) throw new Error(`column ${this.spec.name} is required: null given`);
    this.level(0);
    this.nulls++;
  }

  private present(): void {
    if (this.spec.optional) this.level(1);
    else this.rows++;
  }

  private level(l: number): void {
    if (this.rows === this.defs.length) {
      const next = new Uint8Array(Math.max(1024, 2 * this.defs.length));
      next.set(this.defs);
      this.defs = next;
    }
    this.defs[this.rows++] = l;
  }

  reset(): void {
    this.values.len = 0;
    this.rows = 0;
    this.nulls = 0;
    this.min = Number.POSITIVE_INFINITY;
    this.max = Number.NEGATIVE_INFINITY;
  }
}

/** An unsigned 32-bit integer, little-endian, byte by byte (cheaper than a call per value). */
function le32(o: Uint8Array, at: number, n: number): void {
  o[at] = n & 0xff;
  o[at + 1] = (n >>> 8) & 0xff;
  o[at + 2] = (n >>> 16) & 0xff;
  o[at + 3] = (n >>> 24) & 0xff;
}

interface ChunkMeta {
  column: ParquetColumn;
  offset: number;
  values: number;
  nulls: number;
  uncompressed: number;
  compressed: number;
  min: number;
  max: number;
}

interface RowGroupMeta {
  rows: number;
  offset: number;
  chunks: ChunkMeta[];
}

export interface ParquetFileOptions {
  /** Rows per row group (the memory the writer holds). */
  rowGroupRows: number;
  /** zstd level (1 fastest). */
  level?: number;
  createdBy?: string;
}

export class ParquetFile {
  readonly columns: ColumnValues[];
  private readonly path: string;
  private readonly partial: string;
  private readonly options: ParquetFileOptions;
  private fd: number;
  private position = 0;
  private rows = 0;
  private totalRows = 0;
  private readonly groups: RowGroupMeta[] = [];
  private readonly page = new ByteSink(1 << 16);

  constructor(path: string, columns: readonly ParquetColumn[], options: ParquetFileOptions) {
    this.path = path;
    this.partial = `${path}.${process.pid}.partial`;
    this.options = options;
    this.columns = columns.map((c) => new ColumnValues(c));
    this.fd = openSync(this.partial, 'w');
    this.write(MAGIC, MAGIC.length);
  }

  /** Ends a row: every column must have had one value (or null) appended since the last. */
  endRow(): void {
    this.rows++;
    if (this.rows >= this.options.rowGroupRows) this.flushRowGroup();
  }

  /** Writes the last row group and the footer, and gives the file its name. */
  close(): void {
    this.flushRowGroup();
    const footer = this.footer();
    this.write(footer.buf, footer.len);
    const tail = Buffer.alloc(8);
    tail.writeUInt32LE(footer.len, 0);
    MAGIC.copy(tail, 4);
    this.write(tail, 8);
    closeSync(this.fd);
    this.fd = -1;
    renameSync(this.partial, this.path);
  }

  /** Removes what was written (a failed export). */
  abort(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    rmSync(this.partial, { force: true });
  }

  private write(b: Uint8Array, n: number): void {
    let done = 0;
    while (done < n) done += writeSync(this.fd, b, done, n - done);
    this.position += n;
  }

  private flushRowGroup(): void {
    if (this.rows === 0) return;
    const group: RowGroupMeta = { rows: this.rows, offset: this.position, chunks: [] };
    for (const c of this.columns) {
      if (c.rows !== this.rows)
        throw new Error(`column ${c.spec.name} has ${c.rows} values for ${this.rows} rows`);
      group.chunks.push(this.writeChunk(c));
      c.reset();
    }
    this.groups.push(group);
    this.totalRows += this.rows;
    this.rows = 0;
  }

  /** One column chunk: one data page, PLAIN values after RLE definition levels, zstd. */
  private writeChunk(c: ColumnValues): ChunkMeta {
    const page = this.page;
    page.len = 0;
    if (c.spec.optional) {
      page.ensure(4);
      page.len += 4;
      const start = page.len;
      rleLevels(c.defs, c.rows, page);
      page.buf.writeUInt32LE(page.len - start, start - 4);
    }
    if (c.spec.kind === 'boolean') bitPack(c.values, page);
    else {
      page.ensure(c.values.len);
      c.values.buf.copy(page.buf, page.len, 0, c.values.len);
      page.len += c.values.len;
    }
    const body = zstdCompressSync(page.buf.subarray(0, page.len), {
      params: { [constants.ZSTD_c_compressionLevel]: this.options.level ?? 1 },
    });
    const header = new ThriftWriter();
    header.out.len = 0;
    header.structBody((w) =>
      w
        .i32(1, DATA_PAGE)
        .i32(2, page.len)
        .i32(3, body.length)
        .struct(5, (d) => d.i32(1, c.rows).i32(2, ENCODING.plain).i32(3, ENCODING.rle).i32(4, ENCODING.rle)),
    );
    const offset = this.position;
    this.write(header.out.buf, header.out.len);
    this.write(body, body.length);
    return {
      column: c.spec,
      offset,
      values: c.rows,
      nulls: c.nulls,
      uncompressed: header.out.len + page.len,
      compressed: header.out.len + body.length,
      min: c.min,
      max: c.max,
    };
  }

  private footer(): ByteSink {
    const t = new ThriftWriter(new ByteSink(64 * 1024));
    t.structBody((w) => {
      w.i32(1, 1);
      w.structList(2, [null, ...this.columns.map((c) => c.spec)], schemaElement(this.columns.length));
      w.i64(3, this.totalRows);
      w.structList(4, this.groups, (g, group) => {
        g.structList(1, group.chunks, columnChunk);
        g.i64(
          2,
          sum(group.chunks, (k) => k.uncompressed),
        );
        g.i64(3, group.rows);
        g.i64(5, group.offset);
        g.i64(
          6,
          sum(group.chunks, (k) => k.compressed),
        );
      });
      w.string(6, this.options.createdBy ?? 'cdr-pipeline');
      // Every column in its type's own order (signed for INT64), so readers trust min and max.
      w.structList(7, this.columns, (o) => o.struct(1, () => {}));
    });
    return t.out;
  }
}

const physicalType = (c: ParquetColumn): number =>
  c.kind === 'string' ? TYPE.byteArray : c.kind === 'boolean' ? TYPE.boolean : TYPE.int64;

function sum<T>(items: readonly T[], f: (t: T) => number): number {
  let n = 0;
  for (const i of items) n += f(i);
  return n;
}

/** A SchemaElement: the root (null) with its children, or a leaf column. */
function schemaElement(children: number) {
  return (w: ThriftWriter, c: ParquetColumn | null): void => {
    if (c === null) {
      w.string(4, 'schema').i32(5, children);
      return;
    }
    w.i32(1, physicalType(c));
    w.i32(3, c.optional ? REPETITION.optional : REPETITION.required);
    w.string(4, c.name);
    if (c.kind === 'string') w.i32(6, CONVERTED.utf8).struct(10, (l) => l.struct(1, () => {}));
    if (c.kind === 'timestamp')
      w.i32(6, CONVERTED.timestampMicros).struct(10, (l) =>
        l.struct(8, (ts) => ts.bool(1, true).struct(2, (u) => u.struct(2, () => {}))),
      );
    if (c.kind === 'decimal') {
      const scale = c.scale ?? 0;
      const precision = c.precision ?? 18;
      w.i32(6, CONVERTED.decimal)
        .i32(7, scale)
        .i32(8, precision)
        .struct(10, (l) => l.struct(5, (d) => d.i32(1, scale).i32(2, precision)));
    }
  };
}

function columnChunk(w: ThriftWriter, k: ChunkMeta): void {
  const c = k.column;
  w.i64(2, k.offset);
  w.struct(3, (m) => {
    m.i32(1, physicalType(c));
    m.i32List(2, [ENCODING.plain, ENCODING.rle]);
    m.stringList(3, [c.name]);
    m.i32(4, CODEC_ZSTD);
    m.i64(5, k.values);
    m.i64(6, k.uncompressed);
    m.i64(7, k.compressed);
    m.i64(9, k.offset);
    m.struct(12, (s) => {
      // min and max for the integer columns (ids, times, seconds: what a reader prunes by); the
      // decimal's order is its signed value, the same INT64 order, but its bytes were copied, not
      // read: no statistics for it.
      const stats = (c.kind === 'int64' || c.kind === 'timestamp') && k.values > k.nulls;
      if (stats) s.binary(5, int64Bytes(k.max)).binary(6, int64Bytes(k.min));
      s.i64(3, k.nulls);
    });
  });
}

function int64Bytes(n: number): Buffer {
  const b = Buffer.alloc(8);
  const hi = Math.floor(n / TWO_32);
  b.writeUInt32LE(n - hi * TWO_32, 0);
  b.writeInt32LE(hi, 4);
  return b;
}

/** Definition levels of bit width 1 in the RLE/bit-packing hybrid, as RLE runs only. */
function rleLevels(levels: Uint8Array, n: number, out: ByteSink): void {
  let i = 0;
  while (i < n) {
    const v = levels[i] as number;
    let j = i + 1;
    while (j < n && levels[j] === v) j++;
    let header = (j - i) * 2;
    out.ensure(6);
    while (header >= 0x80) {
      out.byte((header % 0x80) | 0x80);
      header = Math.floor(header / 0x80);
    }
    out.byte(header);
    out.byte(v);
    i = j;
  }
}

/** PLAIN booleans: one bit each, least significant first. */
function bitPack(bytes: ByteSink, out: ByteSink): void {
  const n = bytes.len;
  out.ensure(Math.ceil(n / 8));
  for (let i = 0; i < n; i += 8) {
    let b = 0;
    for (let k = 0; k < 8 && i + k < n; k++) if (bytes.buf[i + k]) b |= 1 << k;
    out.byte(b);
  }
}
