// CSV straight from the Avro bytes of a cdr-raw record written with the current schema: each text
// field's UTF-8 bytes are copied into the output (quoted and neutralised on the bytes), numbers are
// written as digits, and no JavaScript string is made for them. The same cells as formats.ts's
// csvLine, which stays the path for records of other schema versions; an export spends most of its
// time here, and strings made only to be written again were most of its work and garbage.
import { bytesToDecimalString } from '../../cdr/decimal.ts';
import type { RawCdr } from '../../cdr/row.ts';
import { HEADER_BYTES } from '../../codec/wire.ts';

/** A growing output buffer of bytes. */
export class ByteSink {
  buf: Buffer;
  len = 0;

  constructor(size = 1 << 20) {
    this.buf = Buffer.allocUnsafe(size);
  }

  ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  byte(b: number): void {
    this.buf[this.len++] = b;
  }

  ascii(text: string): void {
    this.len += this.buf.write(text, this.len, 'latin1');
  }

  text(text: string): void {
    this.ensure(text.length * 3);
    this.len += this.buf.write(text, this.len, 'utf8');
  }

  take(): Buffer {
    const out = Buffer.from(this.buf.subarray(0, this.len));
    this.len = 0;
    return out;
  }
}

const QUOTE = 34;
const COMMA = 44;
const CR = 13;
const LF = 10;
const SPACE = 32;
const APOSTROPHE = 39;

/** Field numbers of the spans kept (the text fields the CSV writes, in Avro order). */
const F = {
  account: 0,
  group: 1,
  period: 2,
  startText: 3,
  from: 4,
  to: 5,
  type: 6,
  subType: 7,
  cost: 8,
  costText: 9,
  description: 10,
  layout: 11,
  currency: 12,
  dateText: 13,
  timeText: 14,
  status: 15,
  terminated: 16,
  smartcode: 17,
  smartcodeDescription: 18,
  recording: 19,
} as const;
const SPANS = 20;
export const WRITTEN = 1;
export const SKIPPED = 0;
export const GENERIC = -1;
const ARRAY_INDEX = /^(0|[1-9]\d{0,9})$/;

export class CsvTranscoder {
  private b: Buffer = Buffer.alloc(0);
  private p = 0;
  /** Per field: start and end of its bytes; start -1 for a null. */
  private readonly starts = new Int32Array(SPANS);
  private readonly ends = new Int32Array(SPANS);
  private id = 0;
  private startTime = 0;
  private seconds = 0;
  private derived = false;
  private extraAt = 0;
  private extraEnd = 0;
  private readonly json = new ByteSink(4096);

  /**
   * Appends the CSV record of a framed cdr-raw value written with the current schema to `out`:
   * WRITTEN, SKIPPED (`keep` said no) or GENERIC (nothing appended: the record needs the generic
   * path, an `extra` key that JSON would reorder or a key twice). Throws on bytes that are not
   * such a record.
   */
  write(value: Buffer, out: ByteSink, keep?: (c: RawCdr) => boolean): number {
    this.parse(value);
    if (keep && !keep(this.view())) return SKIPPED;
    if (!this.extraIsPlain()) return GENERIC;
    const s = this.starts;
    const e = this.ends;
    out.ensure(2 * (value.length + 64) + 200);
    out.ascii(String(this.id));
    out.byte(COMMA);
    this.cell(out, s[F.account] as number, e[F.account] as number, true);
    this.cell(out, s[F.group] as number, e[F.group] as number, true);
    this.cell(out, s[F.period] as number, e[F.period] as number, true);
    this.cell(out, s[F.startText] as number, e[F.startText] as number, true);
    this.cell(out, s[F.from] as number, e[F.from] as number, true);
    this.cell(out, s[F.to] as number, e[F.to] as number, true);
    out.ascii(String(this.seconds));
    out.byte(COMMA);
    this.cell(out, s[F.type] as number, e[F.type] as number, true);
    this.cell(out, s[F.subType] as number, e[F.subType] as number, true);
    this.cell(out, s[F.costText] as number, e[F.costText] as number, false);
    this.cell(out, s[F.description] as number, e[F.description] as number, true);
    out.ascii(new Date(this.startTime).toISOString());
    out.byte(COMMA);
    out.ascii(bytesToDecimalString(this.b.subarray(s[F.cost] as number, e[F.cost] as number)));
    out.byte(COMMA);
    out.ascii(this.derived ? 'true' : 'false');
    out.byte(COMMA);
    for (const f of [
      F.currency,
      F.layout,
      F.dateText,
      F.timeText,
      F.status,
      F.terminated,
      F.smartcode,
      F.smartcodeDescription,
      F.recording,
    ]) {
      if ((s[f] as number) < 0) out.byte(COMMA);
      else this.cell(out, s[f] as number, e[f] as number, true);
    }
    this.extra(out);
    out.byte(CR);
    out.byte(LF);
    return WRITTEN;
  }

  private readLong(): number {
    const b = this.b;
    let n = 0;
    let k = 0;
    let byte: number;
    // Up to 2^53: multiply rather than shift (shifts are 32-bit).
    do {
      byte = b[this.p++] as number;
      n += (byte & 0x7f) * 2 ** k;
      k += 7;
    } while (byte & 0x80);
    return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
  }

  private span(f: number): void {
    const n = this.readLong();
    this.starts[f] = this.p;
    this.p += n;
    this.ends[f] = this.p;
  }

  private skipBytes(): void {
    const n = this.readLong();
    this.p += n;
  }

  private optional(f: number): void {
    if (this.readLong() === 0) this.starts[f] = -1;
    else this.span(f);
  }

  private parse(value: Buffer): void {
    this.b = value;
    this.p = HEADER_BYTES;
    this.id = this.readLong();
    this.span(F.account);
    this.span(F.group);
    this.span(F.period);
    this.startTime = this.readLong();
    this.span(F.startText);
    this.span(F.from);
    this.span(F.to);
    this.seconds = this.readLong();
    this.span(F.type);
    this.span(F.subType);
    this.span(F.cost);
    this.span(F.costText);
    this.span(F.description);
    this.extraAt = this.p;
    for (let count = this.readLong(); count !== 0; count = this.readLong()) {
      if (count < 0) {
        this.readLong(); // the block's size in bytes
        count = -count;
      }
      for (let i = 0; i < count; i++) {
        this.skipBytes();
        this.skipBytes();
      }
    }
    this.extraEnd = this.p;
    // ingest: ingested_at, feed_host, line: not in the CSV.
    this.readLong();
    this.skipBytes();
    this.readLong();
    this.optional(F.layout);
    this.derived = this.b[this.p++] === 1;
    this.optional(F.currency);
    this.optional(F.dateText);
    this.optional(F.timeText);
    this.optional(F.status);
    this.optional(F.terminated);
    this.optional(F.smartcode);
    this.optional(F.smartcodeDescription);
    this.optional(F.recording);
    if (this.p !== value.length) throw new Error(`cdr-raw record of ${value.length} bytes read to ${this.p}`);
  }

  private str(f: number): string {
    return this.b.toString('utf8', this.starts[f] as number, this.ends[f] as number);
  }

  /** What a filter reads of the record (strings made only for a filtered export). */
  private view(): RawCdr {
    const self = this;
    return {
      get id() {
        return self.id;
      },
      get start_time() {
        return self.startTime;
      },
      get seconds() {
        return self.seconds;
      },
      get account() {
        return self.str(F.account);
      },
      get billing_group() {
        return self.str(F.group);
      },
      get billing_period() {
        return self.str(F.period);
      },
      get type() {
        return self.str(F.type);
      },
      get sub_type() {
        return self.str(F.subType);
      },
      get from() {
        return self.str(F.from);
      },
      get to() {
        return self.str(F.to);
      },
    } as RawCdr;
  }

  /** A text cell and its comma: neutralised (`text`) when a spreadsheet would run it, quoted when needed. */
  private cell(out: ByteSink, s: number, e: number, text: boolean): void {
    const b = this.b;
    if (s === e) {
      out.byte(COMMA);
      return;
    }
    const first = b[s] as number;
    const formula =
      text && (first === 61 || first === 43 || first === 45 || first === 64 || first === 9 || first === 13);
    let quote = first === SPACE || b[e - 1] === SPACE;
    let quotes = false;
    for (let i = s; i < e && !quotes; i++) {
      const c = b[i] as number;
      if (c === QUOTE) quotes = quote = true;
      else if (c === COMMA || c === CR || c === LF) quote = true;
    }
    if (quote) out.byte(QUOTE);
    if (formula) out.byte(APOSTROPHE);
    if (quotes)
      for (let i = s; i < e; i++) {
        const c = b[i] as number;
        out.buf[out.len++] = c;
        if (c === QUOTE) out.buf[out.len++] = QUOTE;
      }
    else {
      b.copy(out.buf, out.len, s, e);
      out.len += e - s;
    }
    if (quote) out.byte(QUOTE);
    out.byte(COMMA);
  }

  /** Whether JSON.stringify would write `extra`'s keys in map order (no index-like key, none twice). */
  private extraIsPlain(): boolean {
    if (this.extraEnd - this.extraAt <= 1) return true;
    const save = this.p;
    this.p = this.extraAt;
    const keys = new Set<string>();
    let plain = true;
    for (let count = this.readLong(); count !== 0 && plain; count = this.readLong()) {
      if (count < 0) {
        this.readLong();
        count = -count;
      }
      for (let i = 0; i < count; i++) {
        const n = this.readLong();
        const key = this.b.toString('utf8', this.p, this.p + n);
        this.p += n;
        this.skipBytes();
        if (ARRAY_INDEX.test(key) || keys.has(key)) plain = false;
        keys.add(key);
      }
    }
    this.p = save;
    return plain;
  }

  /** `extra` as JSON.stringify writes it, as a quoted CSV cell; empty when the map is. */
  private extra(out: ByteSink): void {
    this.p = this.extraAt;
    const j = this.json;
    j.len = 0;
    let first = true;
    for (let count = this.readLong(); count !== 0; count = this.readLong()) {
      if (count < 0) {
        this.readLong();
        count = -count;
      }
      for (let i = 0; i < count; i++) {
        j.ensure(16);
        j.byte(first ? 0x7b : COMMA); // { or ,
        first = false;
        this.jsonString(j);
        j.byte(0x3a); // :
        this.jsonString(j);
      }
    }
    if (first) return;
    j.ensure(1);
    j.byte(0x7d); // }
    // JSON always holds quotes: a quoted cell, quotes doubled; it starts with {, never a formula.
    out.ensure(2 * j.len + 2);
    out.byte(QUOTE);
    for (let i = 0; i < j.len; i++) {
      const c = j.buf[i] as number;
      out.buf[out.len++] = c;
      if (c === QUOTE) out.buf[out.len++] = QUOTE;
    }
    out.byte(QUOTE);
  }

  /** The Avro string at the cursor as a JSON string literal (JSON.stringify's escapes). */
  private jsonString(j: ByteSink): void {
    const n = this.readLong();
    const b = this.b;
    j.ensure(6 * n + 2);
    j.byte(QUOTE);
    for (let i = this.p; i < this.p + n; i++) {
      const c = b[i] as number;
      if (c === QUOTE || c === 0x5c) {
        j.byte(0x5c);
        j.byte(c);
      } else if (c < 0x20) {
        const short = c === 8 ? 'b' : c === 9 ? 't' : c === 10 ? 'n' : c === 12 ? 'f' : c === 13 ? 'r' : '';
        if (short) {
          j.byte(0x5c);
          j.ascii(short);
        } else j.ascii(`\\u${c.toString(16).padStart(4, '0')}`);
      } else j.byte(c);
    }
    this.p += n;
    j.byte(QUOTE);
  }
}
