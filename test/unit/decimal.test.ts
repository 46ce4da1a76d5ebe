import { describe, expect, it } from 'vitest';
import {
  bytesToDecimalString,
  canonicalCost,
  costToBytes,
  isCostText,
  unscaledCost,
} from '../../src/cdr/decimal.ts';

/** Two's complement of a bigint in the fewest bytes, by BigInt arithmetic alone. */
function bigintBytes(v: bigint): Buffer {
  let bytes = 1;
  while (v >= 1n << BigInt(bytes * 8 - 1) || v < -(1n << BigInt(bytes * 8 - 1))) bytes++;
  return Buffer.from(
    BigInt.asUintN(bytes * 8, v)
      .toString(16)
      .padStart(bytes * 2, '0'),
    'hex',
  );
}

describe('decimal cost', () => {
  // Golden bytes: Avro decimal(18,6) is the unscaled value, big-endian two's complement, fewest bytes.
  it.each([
    ['0', [0x00]],
    ['0.000001', [0x01]],
    ['-0.000001', [0xff]],
    ['0.000128', [0x00, 0x80]],
    ['-0.0005', [0xfe, 0x0c]],
    ['1.2', [0x12, 0x4f, 0x80]],
    ['0.4170', [0x06, 0x5c, 0xe8]],
  ])('%s encodes to %j', (text, bytes) => {
    expect([...costToBytes(text)]).toEqual(bytes);
  });

  it('round-trips the extremes of the contract exactly', () => {
    for (const text of ['999999999999.999999', '-999999999999.999999', '123456789012.000001', '-0.5']) {
      expect(bytesToDecimalString(costToBytes(text))).toBe(canonicalCost(text));
    }
    expect(unscaledCost('999999999999.999999')).toBe(999_999_999_999_999_999n);
    expect(unscaledCost('-0.5')).toBe(-500_000n);
    expect(canonicalCost('999999999999.999999')).toBe('999999999999.999999');
    expect(canonicalCost('-0.5')).toBe('-0.500000');
    expect(canonicalCost('7')).toBe('7.000000');
  });

  it('encodes negative costs below -2^47 (7 bytes) exactly', () => {
    // Their two's complement needs 2^56 minus the value, past 2^53: not a double's integer.
    for (const text of ['-757290220.844078', '-140737488.355329', '-999999999.999999', '-123456789.000001']) {
      expect(bytesToDecimalString(costToBytes(text))).toBe(text);
      expect(costToBytes(text).equals(bigintBytes(unscaledCost(text)))).toBe(true);
    }
  });

  it('keeps values a binary float would round', () => {
    expect(canonicalCost('0.1')).toBe('0.100000');
    expect(bytesToDecimalString(costToBytes('123456789012.345678'))).toBe('123456789012.345678');
  });

  it.each(['', '1.2.3', '1e5', '1,5', '0x10', '1234567890123', '1.1234567', '+1', '.5', '5.'])(
    'rejects %j',
    (text) => {
      expect(isCostText(text)).toBe(false);
      expect(() => costToBytes(text)).toThrow(RangeError);
    },
  );
});
