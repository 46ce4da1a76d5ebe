// The enricher's fast path: the enriched record spliced from the raw record's bytes must be byte
// for byte what decoding, enriching and encoding give, for every call type of the contract, an
// unknown one, and values that stress the encoding (non-ASCII, long strings, big ids and offsets).
import { describe, expect, it } from 'vitest';
import { CALL_TYPES } from '../../src/cdr/call-types.ts';
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
    const splicer = new EnrichedSplicer(77);
    for (const [offset, now] of [
      [0, 1_790_000_000_000],
      [4_000_000_000_123, 1_790_000_000_001],
      [63, 1_790_000_000_001],
      [64, 1_790_000_000_001],
    ] as const) {
      const source = { topic: 'cdr.raw', partition: 5, offset };
      const spliced = splicer.splice(framed, source, now);
      const decoded = rawType.fromBuffer(unframe(framed).body) as RawCdr;
      const expected = enrich(decoded, source, now);
      expect(spliced.category).toBe(expected.category);
      expect(spliced.value.equals(encodeValue(enrichedType, 77, expected))).toBe(true);
    }
  });
});
