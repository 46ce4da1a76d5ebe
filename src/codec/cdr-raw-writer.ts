// cdr.raw's Avro body written field by field (schemas/cdr-raw.avsc, in its order), for the parse
// worker's hot path: the very bytes avsc writes for the same value, without avsc's dispatch per
// field. It takes only values the producer makes (RowReader.convert) whose texts are all ASCII;
// anything else it declines, and the caller encodes with avsc as before. It is bound to the
// schema it was written for by the schema's fingerprint: another schema, and it declines all.
// test/unit/cdr-raw-writer.test.ts holds it to avsc's bytes.
import type avro from 'avsc';
import type { RawCdr } from '../cdr/row.ts';
import { writeAvroLong } from './avro-long.ts';

/** SHA-256 of the Parsing Canonical Form of the schema this writer follows. */
export const CDR_RAW_FINGERPRINT = '6ad9e182956ff9e8a51e6c30b71b48305ee50d865780fe57560548a097af34d6';

/** The writer's answer when it does not take a value (the caller uses avsc). */
const DECLINED = Number.NaN;

/** The largest long avsc writes (it refuses 2^53 - 1). */
const MAX_LONG = 9007199254740990;

export class CdrRawWriter {
  private buf: Uint8Array = new Uint8Array(0);
  private pos = 0;
  /** Whether the schema is the one this writer follows. */
  readonly fits: boolean;

  constructor(type: avro.Type) {
    this.fits = type.fingerprint('sha256').toString('hex') === CDR_RAW_FINGERPRINT;
  }

  /**
   * Writes the body of `cdr` into `buf` at `pos`: returns where it ends, minus the bytes missing
   * (at most) when `buf` is too small, or DECLINED.
   */
  write(cdr: RawCdr, buf: Uint8Array, pos: number): number {
    if (!this.fits) return DECLINED;
    const room = buf.length - pos - this.bound(cdr);
    if (Number.isNaN(room)) return DECLINED;
    if (room < 0) return room;
    this.buf = buf;
    this.pos = pos;
    if (!this.record(cdr)) return DECLINED;
    return this.pos;
  }

  /** At most the bytes `cdr` takes (ASCII texts: a byte a character), or NaN for a value it does not take. */
  private bound(c: RawCdr): number {
    let n =
      text(c.account) +
      text(c.billing_group) +
      text(c.billing_period) +
      text(c.start_time_text) +
      text(c.from) +
      text(c.to) +
      text(c.type) +
      text(c.sub_type) +
      text(c.cost_text) +
      text(c.description) +
      text(c.ingest.feed_host) +
      optionalText(c.layout) +
      optionalText(c.currency) +
      optionalText(c.date_text) +
      optionalText(c.time_text) +
      optionalText(c.status) +
      optionalText(c.terminated) +
      optionalText(c.smartcode) +
      optionalText(c.smartcode_description) +
      optionalText(c.recording);
    if (!Buffer.isBuffer(c.cost) || typeof c.billing_period_derived !== 'boolean') return Number.NaN;
    n += c.cost.length + 10;
    const extra = c.extra;
    if (extra === null || typeof extra !== 'object') return Number.NaN;
    for (const k in extra) n += text(k) + text(extra[k]);
    // Five longs (id, start time, seconds, ingested at, line), the map's counts and the boolean.
    return n + 5 * 10 + 20 + 1;
  }

  private record(c: RawCdr): boolean {
    if (!this.long(c.id)) return false;
    if (!this.string(c.account) || !this.string(c.billing_group) || !this.string(c.billing_period))
      return false;
    if (!this.long(c.start_time) || !this.string(c.start_time_text)) return false;
    if (!this.string(c.from) || !this.string(c.to) || !this.long(c.seconds)) return false;
    if (!this.string(c.type) || !this.string(c.sub_type)) return false;
    this.bytes(c.cost);
    if (!this.string(c.cost_text) || !this.string(c.description)) return false;
    const keys = Object.keys(c.extra);
    if (keys.length > 0) {
      this.long(keys.length);
      for (const k of keys) if (!this.string(k) || !this.string(c.extra[k] as string)) return false;
    }
    this.long(0);
    const i = c.ingest;
    if (!this.long(i.ingested_at) || !this.string(i.feed_host) || !this.long(i.line)) return false;
    if (!this.optional(c.layout)) return false;
    this.buf[this.pos++] = c.billing_period_derived ? 1 : 0;
    return (
      this.optional(c.currency) &&
      this.optional(c.date_text) &&
      this.optional(c.time_text) &&
      this.optional(c.status) &&
      this.optional(c.terminated) &&
      this.optional(c.smartcode) &&
      this.optional(c.smartcode_description) &&
      this.optional(c.recording)
    );
  }

  /** A long as Avro writes it; false for a number it does not take. */
  private long(n: number): boolean {
    // As avsc: integers of at most 2^53 - 2 in magnitude.
    if (!Number.isInteger(n) || n > MAX_LONG || n < -MAX_LONG) return false;
    this.pos = writeAvroLong(this.buf, this.pos, n);
    return true;
  }

  /** An ASCII string (its length, then its characters as bytes); false for any other text. */
  private string(s: string): boolean {
    const n = s.length;
    this.long(n);
    const buf = this.buf;
    const at = this.pos;
    for (let k = 0; k < n; k++) {
      const c = s.charCodeAt(k);
      if (c >= 0x80) return false;
      buf[at + k] = c;
    }
    this.pos = at + n;
    return true;
  }

  private bytes(b: Buffer): void {
    this.long(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** A ["null", "string"] union: branch 0 for null, else branch 1 and the string. */
  private optional(s: string | null): boolean {
    if (s === null) {
      this.buf[this.pos++] = 0;
      return true;
    }
    this.buf[this.pos++] = 2; // branch 1, zig-zag
    return this.string(s);
  }
}

/** Bytes a text takes at most (length and characters), NaN when it is not a string. */
function text(s: unknown): number {
  return typeof s === 'string' ? s.length + 10 : Number.NaN;
}

function optionalText(s: unknown): number {
  return s === null ? 1 : 1 + text(s);
}
