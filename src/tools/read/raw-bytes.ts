// A cdr-raw record of the current schema read where it lies: its numbers read, its texts located
// (start and end of their UTF-8 bytes), no JavaScript string made unless asked for. The exports
// write CSV and JSON Lines from these spans (replay/csv-transcode.ts, replay/json-transcode.ts);
// strings made only to be written again were most of an export's work and garbage.
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
}

/** Span numbers of the texts located (in Avro order). */
export const F = {
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
  feedHost: 11,
  layout: 12,
  currency: 13,
  dateText: 14,
  timeText: 15,
  status: 16,
  terminated: 17,
  smartcode: 18,
  smartcodeDescription: 19,
  recording: 20,
} as const;
const SPANS = 21;
const QUOTE = 34;
const BACKSLASH = 0x5c;
const ARRAY_INDEX = /^(0|[1-9]\d{0,9})$/;

export class RawSpans {
  b: Buffer = Buffer.alloc(0);
  private p = 0;
  /** Per span: start and end of its bytes; start -1 for a null. */
  readonly starts = new Int32Array(SPANS);
  readonly ends = new Int32Array(SPANS);
  id = 0;
  startTime = 0;
  seconds = 0;
  derived = false;
  ingestedAt = 0;
  line = 0;
  private extraAt = 0;
  private extraEnd = 0;

  /** Reads a framed cdr-raw value of the current schema; throws on bytes that are not one. */
  parse(value: Buffer): void {
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
    this.ingestedAt = this.readLong();
    this.span(F.feedHost);
    this.line = this.readLong();
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

  /** Whether a span is null. */
  isNull(f: number): boolean {
    return (this.starts[f] as number) < 0;
  }

  str(f: number): string {
    return this.b.toString('utf8', this.starts[f] as number, this.ends[f] as number);
  }

  /** What a filter reads of the record (strings made only for a filtered export). */
  view(): RawCdr {
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
      get layout() {
        return self.isNull(F.layout) ? null : self.str(F.layout);
      },
    } as RawCdr;
  }

  /** Whether JSON.stringify would write `extra`'s keys in map order (no index-like key, none twice). */
  extraIsPlain(): boolean {
    if (this.extraEnd - this.extraAt <= 1) return true;
    this.p = this.extraAt;
    const keys = new Set<string>();
    for (let count = this.readLong(); count !== 0; count = this.readLong()) {
      if (count < 0) {
        this.readLong();
        count = -count;
      }
      for (let i = 0; i < count; i++) {
        const n = this.readLong();
        const key = this.b.toString('utf8', this.p, this.p + n);
        this.p += n;
        this.skipBytes();
        if (ARRAY_INDEX.test(key) || keys.has(key)) return false;
        keys.add(key);
      }
    }
    return true;
  }

  /** `extra` as JSON.stringify writes it into `j` (`{}` when empty); false when it is empty. */
  extraJson(j: ByteSink): boolean {
    this.p = this.extraAt;
    let first = true;
    for (let count = this.readLong(); count !== 0; count = this.readLong()) {
      if (count < 0) {
        this.readLong();
        count = -count;
      }
      for (let i = 0; i < count; i++) {
        j.ensure(16);
        j.byte(first ? 0x7b : 0x2c); // { or ,
        first = false;
        const key = this.readLong();
        jsonString(this.b, this.p, this.p + key, j);
        this.p += key;
        j.byte(0x3a); // :
        const value = this.readLong();
        jsonString(this.b, this.p, this.p + value, j);
        this.p += value;
      }
    }
    j.ensure(2);
    if (first) j.byte(0x7b);
    j.byte(0x7d); // }
    return !first;
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
}

/** UTF-8 bytes `b[s..e)` as a JSON string literal, with JSON.stringify's escapes. */
export function jsonString(b: Buffer, s: number, e: number, j: ByteSink): void {
  // Most texts need no escape: copied in one piece.
  let plain = true;
  for (let i = s; i < e; i++) {
    const c = b[i] as number;
    if (c < 0x20 || c === QUOTE || c === BACKSLASH) {
      plain = false;
      break;
    }
  }
  if (plain) {
    j.ensure(e - s + 2);
    j.buf[j.len++] = QUOTE;
    b.copy(j.buf, j.len, s, e);
    j.len += e - s;
    j.buf[j.len++] = QUOTE;
    return;
  }
  j.ensure(6 * (e - s) + 2);
  j.byte(QUOTE);
  for (let i = s; i < e; i++) {
    const c = b[i] as number;
    if (c === QUOTE || c === BACKSLASH) {
      j.byte(BACKSLASH);
      j.byte(c);
    } else if (c < 0x20) {
      const short = c === 8 ? 'b' : c === 9 ? 't' : c === 10 ? 'n' : c === 12 ? 'f' : c === 13 ? 'r' : '';
      if (short) {
        j.byte(BACKSLASH);
        j.ascii(short);
      } else j.ascii(`\\u${c.toString(16).padStart(4, '0')}`);
    } else j.byte(c);
  }
  j.byte(QUOTE);
}
