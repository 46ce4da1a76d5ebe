// The kafkajs patch (patches/kafkajs+2.2.4.patch) changes how produce requests are encoded, not
// what they hold: the same messages give the very bytes unpatched kafkajs 2.2.4 gives. The
// digests below are of requests encoded by kafkajs 2.2.4 as published, with these inputs.
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it, vi } from 'vitest';

const require = createRequire(import.meta.url);
const Long = require('kafkajs/src/utils/long') as { fromInt(n: number): unknown };
const produceRequest = require('kafkajs/src/protocol/requests/produce/v3/request.js') as (
  args: Record<string, unknown>,
) => { encode(): Promise<{ buffer: Buffer }> };

const createRequest = require('kafkajs/src/protocol/request.js') as (args: {
  correlationId: number;
  clientId: string;
  request: { apiKey: number; apiVersion: number; encode(): Promise<unknown> };
}) => Promise<{ buffer: Buffer; size(): number; writableParts(): Buffer[] }>;

const NOW = 1795850000000;

/** A produce request (v3, uncompressed) of the given partitions' data, as the producer makes them. */
function produce(transactionalId: string | null, topicData: unknown[]) {
  return produceRequest({
    acks: -1,
    timeout: 30000,
    transactionalId,
    producerId: Long.fromInt(5),
    producerEpoch: 2,
    compression: 0,
    topicData,
  });
}

/** Buffer and string keys, null keys, headers on some, values of 0 to 500 bytes. */
function messages(withTimestamps: boolean) {
  return Array.from({ length: 300 }, (_, i) => ({
    key: i % 3 ? Buffer.from(`grp-${i}`) : i % 5 ? `strkéy€${i}` : null,
    value: Buffer.alloc((i * 7) % 500, i),
    ...(withTimestamps ? { timestamp: NOW + i * 13 } : {}),
    ...(i % 50 === 0 ? { headers: { a: 'b', c: Buffer.from('d') } } : {}),
  }));
}

const UNPATCHED: Array<[string | null, boolean, string]> = [
  ['tx', false, 'f1c00983d3eecac165e4f7965eddf1bf90dba6ddd9b45f0a4b71293065745499'],
  ['tx', true, 'f4f0bd9ed512bc94ce431f867f97188799a262d9a0b9074f6585af0ba13d46ea'],
  [null, false, 'c401ccb8f8782e7a1f2f16751ed10a65c00c1002acd68e090659d0ec8e1b0bf1'],
  [null, true, 'b01d923058d15124a3d81be0f015a64da822b8b97cd6b2f7799cf9ac0031abdf'],
];

describe('kafkajs patch', () => {
  afterEach(() => vi.restoreAllMocks());

  it.each(UNPATCHED)(
    'encodes an uncompressed produce request (transactional id %s, timestamps %s) byte for byte as kafkajs 2.2.4',
    async (transactionalId, withTimestamps, digest) => {
      // Records without a timestamp take the time of encoding.
      vi.spyOn(Date, 'now').mockReturnValue(NOW);
      const request = produce(transactionalId, [
        {
          topic: 't',
          partitions: [
            { partition: 0, firstSequence: 0, messages: messages(withTimestamps) },
            { partition: 3, firstSequence: 7, messages: messages(withTimestamps).slice(5) },
          ],
        },
      ]);
      const { buffer } = await request.encode();
      expect(createHash('sha256').update(buffer).digest('hex')).toBe(digest);
    },
  );

  it('encodes records of 17-20 KB, with and without headers, byte for byte as kafkajs 2.2.4', async () => {
    // Large records with headers (dead letters) are encoded on their own: they must land whole
    // inside the record batch, which is written in place (its header and CRC after its records).
    vi.spyOn(Date, 'now').mockReturnValue(NOW);
    const large = () =>
      Array.from({ length: 40 }, (_, i) => ({
        key: Buffer.from(`k${i}`),
        value: Buffer.alloc(i % 10 === 3 ? 20000 + i : 300, i),
        ...(i % 4 === 0
          ? { headers: { 'cdr-error-code': 'X', big: Buffer.alloc(i === 8 ? 17000 : 5, 7) } }
          : {}),
      }));
    const request = produce('tx', [
      {
        topic: 't',
        partitions: [
          { partition: 0, firstSequence: 0, messages: large() },
          { partition: 1, firstSequence: 3, messages: large().slice(2) },
        ],
      },
    ]);
    const { buffer } = await request.encode();
    expect(buffer.length).toBe(216746);
    expect(createHash('sha256').update(buffer).digest('hex')).toBe(
      '3490d9ccefb1f7a5a8e04066d5f621b8d3f380108bf183961cae87bb83fe966b',
    );
  });

  it('frames a request of large record batches (kept as parts, not copied) as its size, header and body', async () => {
    vi.spyOn(Date, 'now').mockReturnValue(NOW);
    const topicData = [0, 1, 2].map((n) => ({
      topic: `t${n}`,
      partitions: [0, 1].map((partition) => ({ partition, firstSequence: 0, messages: messages(n === 1) })),
    }));
    const encode = () => produce('tx', topicData).encode();
    const body = (await encode()).buffer;
    const framed = await createRequest({
      correlationId: 42,
      clientId: 'cdr',
      request: { apiKey: 0, apiVersion: 3, encode },
    });
    const header = Buffer.alloc(4 + 2 + 2 + 4 + 2 + 3);
    header.writeInt32BE(header.length - 4 + body.length, 0);
    header.writeInt16BE(0, 4);
    header.writeInt16BE(3, 6);
    header.writeInt32BE(42, 8);
    header.writeInt16BE(3, 12);
    header.write('cdr', 14);
    expect(framed.size()).toBe(header.length + body.length);
    // What the connection writes to the socket: the parts, in order, without a join.
    const parts = framed.writableParts();
    expect(parts.length).toBeGreaterThan(1);
    expect(Buffer.concat(parts).equals(Buffer.concat([header, body]))).toBe(true);
    expect(framed.buffer.equals(Buffer.concat([header, body]))).toBe(true);
    // Read twice, the same bytes.
    expect(framed.buffer.equals(Buffer.concat([header, body]))).toBe(true);
  });
});

describe('record decoding (patched: offsets and timestamps as numbers where exact)', () => {
  const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as {
    RecordBatch(args: Record<string, unknown>): Promise<{ buffer: Buffer }>;
  };
  const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (
    args: Record<string, unknown>,
  ) => unknown;
  const decodeBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder.js') as (
    d: unknown,
  ) => Promise<{ records: Array<{ offset: string; timestamp: string; key: Buffer; value: Buffer }> }>;
  const Decoder = require('kafkajs/src/protocol/decoder.js') as new (b: Buffer) => unknown;
  const LongOf = require('kafkajs/src/utils/long') as { fromString(s: string): unknown };

  // Deltas of every varint size, negative timestamp deltas, and ones past 2^49 (the Long path).
  const TIMESTAMP_DELTAS = [0, 1, -1, 63, -64, 8_191, 2 ** 31, -(2 ** 35), 2 ** 48 - 1, 2 ** 49, -(2 ** 52)];

  it.each([
    ['small offsets, now', '0', String(NOW)],
    ['offsets crossing 2^53', String(2n ** 53n - 5n), String(NOW)],
    ['offsets far past 2^53', String(2n ** 62n), String(NOW)],
    ['a timestamp near 2^53', '42', String(2n ** 53n - 3n)],
    ['negative timestamps', '7', '-5000'],
  ])(
    'gives the same offsets and timestamps as Long arithmetic: %s',
    async (_name, firstOffset, firstTimestamp) => {
      const records = TIMESTAMP_DELTAS.map((timestampDelta, i) =>
        Record({
          offsetDelta: i * 3,
          timestampDelta,
          key: Buffer.from(`k${i}`),
          value: Buffer.from(`v${i}`),
        }),
      );
      const batch = await RecordBatch({
        firstOffset: LongOf.fromString(firstOffset),
        firstTimestamp: LongOf.fromString(firstTimestamp),
        maxTimestamp: LongOf.fromString(firstTimestamp),
        lastOffsetDelta: (records.length - 1) * 3,
        records,
      });
      // The encoder writes the batch as a fetch response holds it: first offset, length, batch.
      const decoded = await decodeBatch(new Decoder(batch.buffer));
      expect(
        decoded.records.map((r) => [r.offset, r.timestamp, r.key.toString(), r.value.toString()]),
      ).toEqual(
        TIMESTAMP_DELTAS.map((d, i) => [
          String(BigInt(firstOffset) + BigInt(i * 3)),
          String(BigInt(firstTimestamp) + BigInt(d)),
          `k${i}`,
          `v${i}`,
        ]),
      );
    },
  );
});
