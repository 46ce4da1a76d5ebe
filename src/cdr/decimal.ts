// Money as exact decimals. The feed's `cost` is a decimal string (at most 12 integer and 6
// fraction digits, may be negative); Avro carries it as `decimal(18, 6)`: the unscaled value as a
// big-endian two's-complement integer in the fewest bytes. No binary float touches it.

export const COST_SCALE = 6;
const COST_PATTERN = /^(-?)(\d{1,12})(?:\.(\d{1,6}))?$/;

export function isCostText(text: string): boolean {
  return COST_PATTERN.test(text);
}

/** "0.417" -> 417000n at scale 6. Throws RangeError on text that is not a contract decimal. */
export function unscaledCost(text: string): bigint {
  const m = COST_PATTERN.exec(text);
  if (!m) throw new RangeError(`not a decimal with at most 12 integer and 6 fraction digits: ${text}`);
  const digits = BigInt((m[2] as string) + (m[3] ?? '').padEnd(COST_SCALE, '0'));
  return m[1] === '-' ? -digits : digits;
}

export function bigintToTwosComplement(value: bigint): Buffer {
  let bytes = 1;
  while (value >= 1n << BigInt(bytes * 8 - 1) || value < -(1n << BigInt(bytes * 8 - 1))) bytes++;
  const out = Buffer.allocUnsafe(bytes);
  let v = BigInt.asUintN(bytes * 8, value);
  for (let i = bytes - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/**
 * Two's complement bytes as a number when there are 1 to 6 of them (every cost under 140 million:
 * below 2^47, exact as a double, no BigInt); undefined for more.
 */
export function smallUnscaled(bytes: Uint8Array): number | undefined {
  const n = bytes.length;
  if (n === 0 || n > 6) return undefined;
  let v = 0;
  for (let i = 0; i < n; i++) v = v * 256 + (bytes[i] as number);
  return (bytes[0] as number) & 0x80 ? v - 2 ** (8 * n) : v;
}

export function twosComplementToBigint(bytes: Uint8Array): bigint {
  const small = smallUnscaled(bytes);
  if (small !== undefined) return BigInt(small);
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return bytes.length > 0 ? BigInt.asIntN(bytes.length * 8, v) : 0n;
}

/** Encodes a contract cost string as Avro decimal bytes. */
export function costToBytes(text: string): Buffer {
  const small = smallCost(text);
  if (small !== undefined) return safeIntToTwosComplement(small);
  const m = COST_PATTERN.exec(text);
  if (!m) throw new RangeError(`not a decimal with at most 12 integer and 6 fraction digits: ${text}`);
  const digits = (m[2] as string) + (m[3] ?? '').padEnd(COST_SCALE, '0');
  // Up to 15 digits the unscaled value is an exact double; the BigInt path covers the rest.
  if (digits.length <= 15) {
    const v = Number(digits);
    return safeIntToTwosComplement(m[1] === '-' ? -v : v);
  }
  return bigintToTwosComplement(unscaledCost(text));
}

/**
 * The unscaled value (scale 6) of a contract decimal with at most 9 integer digits, read digit by
 * digit (no regex, no string made: this runs for every CDR); undefined for any other text, which
 * the general path reads or refuses.
 */
function smallCost(text: string): number | undefined {
  const n = text.length;
  let i = text.charCodeAt(0) === 45 ? 1 : 0; // '-'
  const negative = i === 1;
  let v = 0;
  let intDigits = 0;
  for (; i < n; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) break;
    v = v * 10 + c;
    intDigits++;
  }
  if (intDigits === 0 || intDigits > 9) return undefined;
  let fraction = 0;
  if (i < n) {
    if (text.charCodeAt(i) !== 46 || i + 1 === n) return undefined; // '.' and a digit after it
    for (i++; i < n; i++) {
      const c = text.charCodeAt(i) - 48;
      if (c < 0 || c > 9 || fraction === COST_SCALE) return undefined;
      v = v * 10 + c;
      fraction++;
    }
  }
  v *= 10 ** (COST_SCALE - fraction);
  return negative ? -v : v;
}

/** Two's complement of a safe integer in the fewest bytes, without BigInt. */
function safeIntToTwosComplement(value: number): Buffer {
  let bytes = 1;
  while (value >= 2 ** (bytes * 8 - 1) || value < -(2 ** (bytes * 8 - 1))) bytes++;
  const out = Buffer.allocUnsafe(bytes);
  // Big-endian byte by byte. A negative value's bytes are those of -value - 1 inverted (computing
  // 2^(8*bytes) + value instead leaves the doubles' exact range past 6 bytes).
  const negative = value < 0;
  let v = negative ? -value - 1 : value;
  for (let i = bytes - 1; i >= 0; i--) {
    const b = v % 256;
    out[i] = negative ? 255 - b : b;
    v = Math.floor(v / 256);
  }
  return out;
}

/** Avro decimal bytes back to a plain decimal string with `scale` fraction digits: "-0.000500". */
export function bytesToDecimalString(bytes: Uint8Array, scale = COST_SCALE): string {
  const v = smallUnscaled(bytes) ?? twosComplementToBigint(bytes);
  const negative = v < 0;
  const abs = String(negative ? -v : v).padStart(scale + 1, '0');
  const text = scale > 0 ? `${abs.slice(0, -scale)}.${abs.slice(-scale)}` : abs;
  return negative ? `-${text}` : text;
}

/** Canonical form of a contract decimal string at scale 6, for comparing feed text and decoded values. */
export function canonicalCost(text: string): string {
  return bytesToDecimalString(costToBytes(text));
}

/**
 * An exact sum of unscaled costs that makes no BigInt per term: terms below 2^47 add up as a
 * double, folded into the bigint before the double could lose a digit (2^52).
 */
export class ExactSum {
  private small = 0;
  private big = 0n;

  add(v: number | bigint): void {
    if (typeof v === 'bigint') {
      this.big += v;
      return;
    }
    this.small += v;
    if (this.small > 2 ** 52 || this.small < -(2 ** 52)) {
      this.big += BigInt(this.small);
      this.small = 0;
    }
  }

  get value(): bigint {
    return this.big + BigInt(this.small);
  }
}
