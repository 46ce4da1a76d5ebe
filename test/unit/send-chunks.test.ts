import { describe, expect, it } from 'vitest';
import { assertAcknowledged, sendChunks } from '../../src/kafka/sends.ts';

const msgs = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => ({ value: `${prefix}${i}` }));

describe('sendChunks', () => {
  it('splits into sends of at most N messages, keeping every message once and in order', () => {
    const input = [
      { topic: 'raw', messages: msgs('r', 1203) },
      { topic: 'dlq', messages: msgs('d', 3) },
      { topic: 'cursor', messages: msgs('c', 1) },
    ];
    const sends = sendChunks(input, 500);
    expect(sends.map((s) => s.reduce((n, t) => n + t.messages.length, 0))).toEqual([500, 500, 207]);
    for (const topic of ['raw', 'dlq', 'cursor']) {
      const flat = sends.flatMap((s) =>
        s.filter((t) => t.topic === topic).flatMap((t) => t.messages.map((m) => m.value)),
      );
      expect(flat).toEqual(input.find((t) => t.topic === topic)?.messages.map((m) => m.value));
    }
    // A topic appears at most once per send: kafkajs keys a send's topics by name.
    for (const s of sends) expect(new Set(s.map((t) => t.topic)).size).toBe(s.length);
  });

  it('also cuts sends by bytes, giving a message larger than the budget a send of its own', () => {
    const big = { value: Buffer.alloc(3000) };
    const small = (v: string) => ({ value: Buffer.alloc(400, v) });
    const input = [
      { topic: 'raw', messages: [small('a'), small('b'), big, small('c')] },
      { topic: 'dlq', messages: [small('d')] },
    ];
    const sends = sendChunks(input, 500, 1000);
    expect(
      sends.map((s) => s.map((t) => [t.topic, t.messages.map((m) => (m.value as Buffer).length)])),
    ).toEqual([
      [['raw', [400, 400]]],
      [['raw', [3000]]],
      [
        ['raw', [400]],
        ['dlq', [400]],
      ],
    ]);
  });

  it('cuts by bytes per partition: records of different partitions share a send up to the budget each', () => {
    const rec = (partition: number) => ({ value: Buffer.alloc(400), partition });
    const input = [{ topic: 'raw', messages: [rec(0), rec(1), rec(2), rec(0), rec(1), rec(0)] }];
    const sends = sendChunks(input, 500, 1000);
    // Partition 0's third record would pass 1,000 bytes: it starts the next send.
    expect(sends.map((s) => s.map((t) => t.messages.map((m) => m.partition)))).toEqual([
      [[0, 1, 2, 0, 1]],
      [[0]],
    ]);
    // And all partitions together stay under four times the budget.
    const many = [{ topic: 'raw', messages: Array.from({ length: 24 }, (_, i) => rec(i)) }];
    expect(sendChunks(many, 500, 1000).map((s) => s[0]?.messages.length)).toEqual([10, 10, 4]);
  });

  it('drops empty topics and returns no send for no messages', () => {
    expect(sendChunks([{ topic: 'a', messages: [] }], 10)).toEqual([]);
  });
});

describe('assertAcknowledged', () => {
  const answer = (topicName: string, partition: number, baseOffset = '7', errorCode = 0) => ({
    topicName,
    partition,
    baseOffset,
    errorCode,
  });
  const chunk = [
    {
      topic: 'raw',
      messages: [
        { value: 'a', partition: 0 },
        { value: 'b', partition: 2 },
      ],
    },
    { topic: 'cursor', messages: [{ key: 'A', value: 'c' }] },
  ];

  it('passes a send whose every partition came back with an offset', () => {
    expect(() =>
      assertAcknowledged(chunk, [answer('raw', 0), answer('raw', 2), answer('cursor', 0)]),
    ).not.toThrow();
  });

  it('fails a send that left out a partition it was given (what kafkajs 2.2.4 reported as success)', () => {
    expect(() => assertAcknowledged(chunk, [answer('raw', 0), answer('cursor', 0)])).toThrow(
      /without an offset for raw\/2/,
    );
    expect(() => assertAcknowledged(chunk, [answer('raw', 0), answer('raw', 2)])).toThrow(
      /without an offset for cursor/,
    );
  });

  it('fails a partition answered with an error or without an offset', () => {
    for (const bad of [answer('raw', 2, '-1'), answer('raw', 2, '9', 6)])
      expect(() => assertAcknowledged(chunk, [answer('raw', 0), bad, answer('cursor', 0)])).toThrow(/raw\/2/);
  });
});
