import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import type { RawCdr } from '../../src/cdr/row.ts';
import { CDR_RAW_FINGERPRINT, CdrRawWriter } from '../../src/codec/cdr-raw-writer.ts';
import { avroType, schemaText } from '../../src/codec/schemas.ts';

const type = avroType('cdr-raw');

/** A CDR as RowReader.convert makes them, every field set from `n` (so that fields vary). */
function cdr(n: number): RawCdr {
  const pick = <T>(values: readonly T[]) => values[n % values.length] as T;
  // avsc writes longs of at most 2^53 - 2 in magnitude.
  const longs = [0, 1, 63, 64, 127, 128, 8191, 8192, 2 ** 30 - 1, 2 ** 30, 2 ** 31, 2 ** 53 - 9, 2 ** 53 - 2];
  const text = (len: number) => 'x0-Z:/ .'.repeat(Math.ceil(len / 8)).slice(0, len);
  return {
    id: Math.min(pick(longs.slice(1)) + (n % 7), 2 ** 53 - 2),
    account: pick(['90001', '', 'a'.repeat(200)]),
    billing_group: pick(['Sales', '', 'G'.repeat(64), 'G'.repeat(63)]),
    billing_period: '2026-11',
    start_time: pick([Date.UTC(2026, 10, 3, 9, 15, 2), 0, -86_400_000, 2 ** 41 + n]),
    start_time_text: '03/11/2026 09:15:02',
    from: pick(['6129', '']),
    to: text(n % 300),
    seconds: pick(longs),
    type: pick(['M', 'S', 'X']),
    sub_type: pick(['M', 'MO']),
    cost: Buffer.from(
      pick([[0], [0xff, 0x85], [0x00, 0xff, 0xff, 0xff], Array.from({ length: 16 }, (_, i) => i * 13)]),
    ),
    cost_text: pick(['0.5', '-12.345678']),
    description: text((n * 37) % 1000),
    extra: pick<Record<string, string>>([{}, { Carrier: 'Telco', 'Cell ID': text(n % 150) }, { a: '' }]),
    ingest: { ingested_at: Date.UTC(2026, 10, 28) + n, feed_host: '127.0.0.1:18080', line: n + 2 },
    layout: pick([null, 'contract', 'legacy17']),
    billing_period_derived: n % 2 === 0,
    currency: pick([null, 'NZD']),
    date_text: pick([null, '03/11/2026', '']),
    time_text: pick([null, '09:15:02']),
    status: pick([null, 'ANSWERED']),
    terminated: pick([null, 'caller']),
    smartcode: pick([null, 'NZ-MOB']),
    smartcode_description: pick([null, text(n % 90)]),
    recording: pick([null, '', 'rec/123.mp3']),
  };
}

function written(writer: CdrRawWriter, value: RawCdr): Buffer | number {
  const buf = Buffer.alloc(8192, 0xee);
  const end = writer.write(value, buf, 3);
  return Number.isNaN(end) || end < 0 ? end : buf.subarray(3, end);
}

describe('cdr.raw writer', () => {
  it('follows the schema in schemas/cdr-raw.avsc (its fingerprint)', () => {
    // A change to the schema must come with a change to the writer (and this fingerprint).
    expect(type.fingerprint('sha256').toString('hex')).toBe(CDR_RAW_FINGERPRINT);
    expect(new CdrRawWriter(type).fits).toBe(true);
  });

  it('writes the very bytes avsc writes, for values across every field and length boundary', () => {
    const writer = new CdrRawWriter(type);
    for (let n = 0; n < 3000; n++) {
      const value = cdr(n);
      const got = written(writer, value);
      expect(Buffer.isBuffer(got), `value ${n}`).toBe(true);
      expect((got as Buffer).equals(type.toBuffer(value)), `value ${n}`).toBe(true);
    }
  });

  it('declines a text that is not ASCII, a value of the wrong type, or another schema', () => {
    const writer = new CdrRawWriter(type);
    expect(written(writer, { ...cdr(1), description: 'Zürich' })).toBeNaN();
    expect(written(writer, { ...cdr(2), extra: { 'Zelle €': 'x' } })).toBeNaN();
    expect(written(writer, { ...cdr(3), recording: 'テスト' })).toBeNaN();
    expect(written(writer, { ...cdr(4), seconds: 1.5 })).toBeNaN();
    // avsc refuses 2^53 - 1 (the producer dead-letters such a CDR): so does the writer.
    expect(written(writer, { ...cdr(4), id: 2 ** 53 - 1 })).toBeNaN();
    expect(() => type.toBuffer({ ...cdr(4), id: 2 ** 53 - 1 })).toThrow();
    expect(written(writer, { ...cdr(5), from: 6129 as unknown as string })).toBeNaN();
    const schema = JSON.parse(schemaText('cdr-raw')) as { fields: unknown[] };
    schema.fields.push({ name: 'added', type: ['null', 'string'], default: null });
    const other = new CdrRawWriter(avro.Type.forSchema(schema as avro.Schema));
    expect(other.fits).toBe(false);
    expect(written(other, cdr(6))).toBeNaN();
  });

  it('asks for more room when the buffer is too small, and writes the same bytes with it', () => {
    const writer = new CdrRawWriter(type);
    const value = cdr(299);
    const expected = type.toBuffer(value);
    const small = Buffer.alloc(expected.length - 10);
    const missing = writer.write(value, small, 0);
    expect(missing).toBeLessThanOrEqual(-10);
    const big = Buffer.alloc(small.length - missing);
    const end = writer.write(value, big, 0);
    expect(big.subarray(0, end).equals(expected)).toBe(true);
  });
});
