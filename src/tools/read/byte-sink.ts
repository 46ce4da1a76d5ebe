// A growing buffer of output bytes, and the writers the exports use on it: numbers, times and
// costs written as digits straight into the bytes, the same text JavaScript would make, with no
// string made for them (most of a scan's garbage was such strings, made only to be copied).
import { bytesToDecimalString, COST_SCALE } from '../../cdr/decimal.ts';

const UNIT = 10 ** COST_SCALE;

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

  /** Bytes made once (a key, a separator): copied byte by byte, cheaper than a call for a few. */
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    const o = this.buf;
    let at = this.len;
    for (let i = 0; i < b.length; i++) o[at++] = b[i] as number;
    this.len = at;
  }

  /** `b[s..e)`, short spans byte by byte (Buffer.copy makes a view for each call). */
  span(b: Uint8Array, s: number, e: number): void {
    this.ensure(e - s);
    if (e - s > 32) {
      this.buf.set(b.subarray(s, e), this.len);
      this.len += e - s;
      return;
    }
    const o = this.buf;
    let at = this.len;
    for (let i = s; i < e; i++) o[at++] = b[i] as number;
    this.len = at;
  }

  /** An integer (at most 2^53 in magnitude) in decimal digits, as String(n) writes it. */
  digits(n: number): void {
    this.ensure(20);
    if (n < 0) {
      this.buf[this.len++] = 0x2d;
      n = -n;
    }
    let width = 1;
    for (let p = 10; p <= n; p *= 10) width++;
    const o = this.buf;
    let at = this.len + width;
    this.len = at;
    do {
      const q = Math.floor(n / 10);
      o[--at] = 0x30 + (n - q * 10);
      n = q;
    } while (n > 0);
  }

  /** A time as Date.prototype.toISOString writes it (UTC, milliseconds, Z), with no Date made. */
  isoTime(ms: number): void {
    const days = Math.floor(ms / 86_400_000);
    civil(days, CIVIL);
    const year = CIVIL[0] as number;
    if (year < 0 || year > 9999 || !Number.isFinite(ms)) {
      this.text(new Date(ms).toISOString());
      return;
    }
    this.ensure(24);
    const month = CIVIL[1] as number;
    const day = CIVIL[2] as number;
    let rest = ms - days * 86_400_000;
    const h = Math.floor(rest / 3_600_000);
    rest -= h * 3_600_000;
    const mi = Math.floor(rest / 60_000);
    rest -= mi * 60_000;
    const sec = Math.floor(rest / 1000);
    this.pad(year, 4);
    this.buf[this.len++] = 0x2d;
    this.pad(month, 2);
    this.buf[this.len++] = 0x2d;
    this.pad(day, 2);
    this.buf[this.len++] = 0x54; // T
    this.pad(h, 2);
    this.buf[this.len++] = 0x3a;
    this.pad(mi, 2);
    this.buf[this.len++] = 0x3a;
    this.pad(sec, 2);
    this.buf[this.len++] = 0x2e;
    this.pad(rest - sec * 1000, 3);
    this.buf[this.len++] = 0x5a; // Z
  }

  /** A cost from its Avro decimal bytes `b[s..e)`, as bytesToDecimalString writes it (scale 6). */
  cost(b: Uint8Array, s: number, e: number): void {
    const n = e - s;
    if (n === 0 || n > 6) {
      this.text(bytesToDecimalString(b.subarray(s, e)));
      return;
    }
    let v = 0;
    for (let i = s; i < e; i++) v = v * 256 + (b[i] as number);
    if ((b[s] as number) & 0x80) v -= 2 ** (8 * n);
    this.ensure(24);
    if (v < 0) {
      this.buf[this.len++] = 0x2d;
      v = -v;
    }
    const whole = Math.floor(v / UNIT);
    this.digits(whole);
    this.buf[this.len++] = 0x2e;
    this.pad(v - whole * UNIT, COST_SCALE);
  }

  /** A non-negative integer in exactly `width` digits (room ensured by the caller). */
  private pad(n: number, width: number): void {
    const o = this.buf;
    for (let i = width - 1; i >= 0; i--) {
      const q = Math.floor(n / 10);
      o[this.len + i] = 0x30 + (n - q * 10);
      n = q;
    }
    this.len += width;
  }
}

const CIVIL = new Float64Array(3);

/**
 * Year, month (1-12) and day of a day count since 1970-01-01 (proleptic Gregorian, any sign),
 * into `out`.
 */
function civil(days: number, out: Float64Array): void {
  // Howard Hinnant's days_from_civil inverse (http://howardhinnant.github.io/date_algorithms.html).
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  out[0] = yoe + era * 400 + (m <= 2 ? 1 : 0);
  out[1] = m;
  out[2] = d;
}
