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

export function twosComplementToBigint(bytes: Uint8Array): bigint {
  // Up to 6 bytes (every cost under 140 million) a double holds the value exactly.
  if (bytes.length > 0 && bytes.length <= 6)
    return BigInt(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).readIntBE(0, bytes.length));
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return bytes.length > 0 ? BigInt.asIntN(bytes.length * 8, v) : 0n;
}

/** Encodes a contract cost string as Avro decimal bytes. */
export function costToBytes(text: string): Buffer {
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

/** Two's complement of a safe integer in the fewest bytes, without BigInt. */
function safeIntToTwosComplement(value: number): Buffer {
  let bytes = 1;
  while (value >= 2 ** (bytes * 8 - 1) || value < -(2 ** (bytes * 8 - 1))) bytes++;
  const out = Buffer.allocUnsafe(bytes);
  // value mod 2^(8*bytes), as a non-negative number, written big-endian byte by byte.
  let v = value < 0 ? value + 2 ** (bytes * 8) : value;
  for (let i = bytes - 1; i >= 0; i--) {
    out[i] = v % 256;
    v = Math.floor(v / 256);
  }
  return out;
}

/** Avro decimal bytes back to a plain decimal string with `scale` fraction digits: "-0.000500". */
export function bytesToDecimalString(bytes: Uint8Array, scale = COST_SCALE): string {
  const n = bytes.length;
  if (n > 0 && n <= 6) {
    // Below 2^47 the unscaled value is an exact double: no BigInt.
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 256 + (bytes[i] as number);
    if ((bytes[0] as number) & 0x80) v -= 2 ** (8 * n);
    const abs = String(v < 0 ? -v : v).padStart(scale + 1, '0');
    const text = scale > 0 ? `${abs.slice(0, -scale)}.${abs.slice(-scale)}` : abs;
    return v < 0 ? `-${text}` : text;
  }
  const v = twosComplementToBigint(bytes);
  const abs = (v < 0n ? -v : v).toString().padStart(scale + 1, '0');
  const text = scale > 0 ? `${abs.slice(0, -scale)}.${abs.slice(-scale)}` : abs;
  return v < 0n ? `-${text}` : text;
}

/** Canonical form of a contract decimal string at scale 6, for comparing feed text and decoded values. */
export function canonicalCost(text: string): string {
  return bytesToDecimalString(costToBytes(text));
}
