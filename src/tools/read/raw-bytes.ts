// A cdr-raw record of the current schema read where it lies: its numbers read, its texts located
// (start and end of their UTF-8 bytes), no JavaScript string made unless asked for. The exports
// write CSV and JSON Lines from these spans (replay/csv-transcode.ts, replay/json-transcode.ts);
// strings made only to be written again were most of an export's work and garbage.
import type { RawCdr } from '../../cdr/row.ts';
import { HEADER_BYTES } from '../../codec/wire.ts';
import type { ByteSink } from './byte-sink.ts';

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

/** The optional texts, in the order the CSV and Parquet exports give them columns. */
export const OPTIONAL_TEXTS = [
  F.currency,
  F.layout,
  F.dateText,
  F.timeText,
  F.status,
  F.terminated,
  F.smartcode,
  F.smartcodeDescription,
  F.recording,
] as const;
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

  /**
   * Whether JSON.stringify would write `extra`'s keys in map order (no index-like key, none twice).
   * Read on the bytes, no string made: ASCII keys compared byte for byte; a key with other bytes
   * sends the map to the string comparison (two byte sequences can decode to one string).
   */
  extraIsPlain(): boolean {
    if (this.extraEnd - this.extraAt <= 1) return true;
    this.p = this.extraAt;
    const b = this.b;
    let k = 0;
    /** The keys as strings, from the first key that is not ASCII on. */
    let strings: Set<string> | undefined;
    for (let count = this.readLong(); count !== 0; count = this.readLong()) {
      if (count < 0) {
        this.readLong();
        count = -count;
      }
      for (let i = 0; i < count; i++) {
        const n = this.readLong();
        const s = this.p;
        const e = s + n;
        this.p = e;
        this.skipBytes();
        let ascii = strings === undefined;
        for (let x = s; x < e && ascii; x++) ascii = (b[x] as number) < 0x80;
        if (ascii) {
          if (indexLike(b, s, e)) return false;
          for (let j = 0; j < k; j++)
            if (sameBytes(b, this.keyStarts[j] as number, this.keyEnds[j] as number, s, e)) return false;
        } else {
          strings ??= new Set(
            Array.from({ length: k }, (_, j) => this.textAt(this.keyStarts[j], this.keyEnds[j])),
          );
          const key = this.textAt(s, e);
          if (ARRAY_INDEX.test(key) || strings.has(key)) return false;
          strings.add(key);
        }
        if (k === this.keyStarts.length) {
          this.keyStarts = grow(this.keyStarts);
          this.keyEnds = grow(this.keyEnds);
        }
        this.keyStarts[k] = s;
        this.keyEnds[k] = e;
        k++;
      }
    }
    return true;
  }

  private keyStarts = new Int32Array(16);
  private keyEnds = new Int32Array(16);

  private textAt(s: number | undefined, e: number | undefined): string {
    return this.b.toString('utf8', s, e);
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

/** Whether ASCII `b[s..e)` is a key JavaScript orders first as an array index (as ARRAY_INDEX). */
function indexLike(b: Uint8Array, s: number, e: number): boolean {
  const n = e - s;
  if (n < 1 || n > 10 || (n > 1 && b[s] === 0x30)) return false;
  for (let i = s; i < e; i++) {
    const c = b[i] as number;
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

function sameBytes(b: Uint8Array, s1: number, e1: number, s2: number, e2: number): boolean {
  if (e1 - s1 !== e2 - s2) return false;
  for (let i = 0; i < e1 - s1; i++) if (b[s1 + i] !== b[s2 + i]) return false;
  return true;
}

function grow(a: Int32Array): Int32Array<ArrayBuffer> {
  const next = new Int32Array(2 * a.length);
  next.set(a);
  return next;
}

/** UTF-8 bytes `b[s..e)` as a JSON string literal, with JSON.stringify's escapes. */
export function jsonString(b: Buffer, s: number, e: number, j: ByteSink): void {
  // Most texts need no escape: copied as they are read, in one pass; the first byte that needs one
  // sends the rest to the escaping loop.
  j.ensure(6 * (e - s) + 2);
  const o = j.buf;
  let at = j.len;
  o[at++] = QUOTE;
  let i = s;
  for (; i < e; i++) {
    const c = b[i] as number;
    if (c < 0x20 || c === QUOTE || c === BACKSLASH) break;
    o[at++] = c;
  }
  j.len = at;
  for (; i < e; i++) {
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
