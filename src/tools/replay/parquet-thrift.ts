// The Thrift compact protocol, write side, as much of it as a Parquet footer and page header need
// (https://github.com/apache/thrift/blob/master/doc/specs/thrift-compact-protocol.md): field
// headers with the id as a delta, zigzag varints, binaries, lists and nested structs. Numbers are
// JavaScript numbers: every value a Parquet writer puts here (sizes, offsets, counts) is < 2^53.
import { ByteSink } from '../read/byte-sink.ts';

/** Compact protocol type codes. */
const T = {
  true: 1,
  false: 2,
  i32: 5,
  i64: 6,
  binary: 8,
  list: 9,
  struct: 12,
} as const;

export class ThriftWriter {
  readonly out: ByteSink;
  /** The last field id written in each open struct (the innermost last). */
  private readonly last: number[] = [0];

  constructor(out = new ByteSink(4096)) {
    this.out = out;
  }

  i32(id: number, v: number): this {
    this.field(id, T.i32);
    this.varint(zigzag(v));
    return this;
  }

  i64(id: number, v: number): this {
    this.field(id, T.i64);
    this.varint(zigzag(v));
    return this;
  }

  bool(id: number, v: boolean): this {
    this.field(id, v ? T.true : T.false);
    return this;
  }

  binary(id: number, bytes: Uint8Array): this {
    this.field(id, T.binary);
    this.bytes(bytes);
    return this;
  }

  string(id: number, s: string): this {
    return this.binary(id, Buffer.from(s, 'utf8'));
  }

  /** A struct field: `body` writes its fields. */
  struct(id: number, body: (w: this) => void): this {
    this.field(id, T.struct);
    this.structBody(body);
    return this;
  }

  /** A list of i32 (enum values). */
  i32List(id: number, values: readonly number[]): this {
    this.listHeader(id, T.i32, values.length);
    for (const v of values) this.varint(zigzag(v));
    return this;
  }

  stringList(id: number, values: readonly string[]): this {
    this.listHeader(id, T.binary, values.length);
    for (const v of values) this.bytes(Buffer.from(v, 'utf8'));
    return this;
  }

  /** A list of structs: `body` writes the fields of one item. */
  structList<I>(id: number, items: readonly I[], body: (w: this, item: I) => void): this {
    this.listHeader(id, T.struct, items.length);
    for (const item of items) this.structBody((w) => body(w, item));
    return this;
  }

  /** The fields of a struct and its stop byte, written at the top level (a message). */
  structBody(body: (w: this) => void): void {
    this.last.push(0);
    body(this);
    this.out.ensure(1);
    this.out.byte(0);
    this.last.pop();
  }

  private field(id: number, type: number): void {
    const delta = id - (this.last.at(-1) as number);
    this.out.ensure(4);
    if (delta > 0 && delta <= 15) this.out.byte((delta << 4) | type);
    else {
      this.out.byte(type);
      this.varint(zigzag(id));
    }
    this.last[this.last.length - 1] = id;
  }

  private listHeader(id: number, type: number, size: number): void {
    this.field(id, T.list);
    this.out.ensure(1);
    if (size < 15) this.out.byte((size << 4) | type);
    else {
      this.out.byte(0xf0 | type);
      this.varint(size);
    }
  }

  private bytes(b: Uint8Array): void {
    this.varint(b.length);
    this.out.ensure(b.length);
    this.out.buf.set(b, this.out.len);
    this.out.len += b.length;
  }

  varint(n: number): void {
    this.out.ensure(10);
    while (n >= 0x80) {
      this.out.byte((n % 0x80) | 0x80);
      n = Math.floor(n / 0x80);
    }
    this.out.byte(n);
  }
}

/** Zigzag of a signed integer up to 2^52 in magnitude. */
function zigzag(v: number): number {
  return v >= 0 ? 2 * v : -2 * v - 1;
}
