// The enricher's fast path: the enriched record spliced from the raw record's bytes must be byte
// for byte what decoding, enriching and encoding give, for every call type of the contract, an
// unknown one, and values that stress the encoding (non-ASCII, long strings, big ids and offsets).
import { describe, expect, it } from 'vitest';
import { CALL_TYPES } from '../../src/cdr/call-types.ts';
import { PhoneNumbers } from '../../src/cdr/phone.ts';
import type { RawCdr } from '../../src/cdr/row.ts';
import { avroType } from '../../src/codec/schemas.ts';
import { encodeValue, unframe } from '../../src/codec/wire.ts';
import { enrich } from '../../src/enrich/enrich.ts';
import { EnrichedSplicer } from '../../src/enrich/splice.ts';
import { rawCdr } from '../helpers/raw-cdr.ts';

const rawType = avroType('cdr-raw');
const enrichedType = avroType('cdr-enriched');

const cdr = (o: Partial<RawCdr> = {}): RawCdr =>
  rawCdr({
    billing_group: 'Müller & Söhne',
    description: `東京 ${'x'.repeat(300)}`,
    ingest: { ingested_at: 1_790_000_000_000, feed_host: 'h:1', line: 2 },
    ...o,
  });

describe('enriched records spliced from raw bytes', () => {
  const pairs = [...CALL_TYPES.map((t) => [t.type, t.subType] as const), ['ZZ', 'Z9'] as const];

  it.each(pairs)('type %s/%s: the same bytes as decode, enrich and encode', (type, subType) => {
    const raw = cdr({ type, sub_type: subType });
    const framed = encodeValue(rawType, 3, raw);
    const phones = new PhoneNumbers();
    const splicer = new EnrichedSplicer(77, phones);
    for (const [offset, now] of [
      [0, 1_790_000_000_000],
      [4_000_000_000_123, 1_790_000_000_001],
      [63, 1_790_000_000_001],
      [64, 1_790_000_000_001],
    ] as const) {
      const source = { topic: 'cdr.raw', partition: 5, offset };
      const spliced = splicer.splice(framed, source, now);
      const decoded = rawType.fromBuffer(unframe(framed).body) as RawCdr;
      const expected = enrich(decoded, source, now, phones);
      expect(spliced.category).toBe(expected.category);
      expect(spliced.value.equals(encodeValue(enrichedType, 77, expected))).toBe(true);
    }
  });

  // The numbers are read past the fields before them (extra columns in one block or several, the
  // ingest record) to the layout, which says the home country.
  const numbers: Array<Pick<RawCdr, 'from' | 'to' | 'layout' | 'extra'>> = [
    { from: '61290001234', to: '61412345678', layout: 'contract', extra: {} },
    {
      from: '0011 1 212 555 0100',
      to: '1800123456',
      layout: 'contract',
      extra: { a: 'b', 'CLI Presentation': 'ü' },
    },
    { from: '+64211234567', to: '094001234', layout: 'legacy17', extra: { x: 'y'.repeat(200) } },
    { from: 'anonymous', to: '', layout: null, extra: {} },
    { from: '6494001234', to: '0900 12345', layout: 'legacy17', extra: {} },
  ];
  it.each(numbers)('numbers $from -> $to ($layout): the same bytes as decode, enrich and encode', (n) => {
    for (const country of [undefined, 'GB'] as const) {
      const phones = new PhoneNumbers(country);
      const splicer = new EnrichedSplicer(77, phones);
      const framed = encodeValue(rawType, 3, cdr(n));
      const source = { topic: 'cdr.raw', partition: 1, offset: 99 };
      const spliced = splicer.splice(framed, source, 1_790_000_000_000);
      const expected = enrich(cdr(n), source, 1_790_000_000_000, phones);
      expect(spliced.value.equals(encodeValue(enrichedType, 77, expected))).toBe(true);
      const back = enrichedType.fromBuffer(unframe(spliced.value).body) as Record<string, unknown>;
      expect(back.to_e164).toBe(expected.to_e164);
      expect(back.numbers_unparsed).toEqual(expected.numbers_unparsed);
    }
  });
});
