// Checks the control topics against cdr.raw, decoding them here (not through src/control): the
// sum of the cdr.control records and the latest cdr.control.totals record per account and period
// must both equal what cdr.raw holds, and each period's offsets must be where its CDRs are.
import type { Kafka } from 'kafkajs';
import { expect } from 'vitest';
import { twosComplementToBigint, unscaledCost } from '../../src/cdr/decimal.ts';
import { avroType } from '../../src/codec/schemas.ts';
import { unframe } from '../../src/codec/wire.ts';
import type { CdrTally, TallyColumns } from '../../src/topics/control.ts';
import { readTopics } from './kafka.ts';
import { decodeRaw } from './producer.ts';

const controlType = avroType('cdr-control');

interface Sum {
  count: number;
  seconds: number;
  cost: string;
}

function decodeControl(value: Buffer) {
  return controlType.fromBuffer(unframe(value).body) as {
    account: string;
    billing_period: string;
    count: number;
    seconds: number;
    cost: Buffer;
    partitions: Array<{ partition: number; first_offset: number; last_offset: number; count: number }>;
  };
}

export async function expectControlsMatchRaw(
  kafka: Kafka,
  env: { TOPIC_RAW: string; TOPIC_CONTROL: string; TOPIC_CONTROL_TOTALS: string },
): Promise<void> {
  const raw = new Map<string, { count: number; seconds: number; cost: bigint }>();
  const firstAt = new Map<string, Map<number, number>>();
  for (const r of await readTopics(kafka, [env.TOPIC_RAW])) {
    const c = decodeRaw(r.message);
    const key = `${c.account}|${c.billing_period}`;
    const t = raw.get(key) ?? { count: 0, seconds: 0, cost: 0n };
    t.count++;
    t.seconds += Number(c.seconds);
    t.cost += unscaledCost(c.cost);
    raw.set(key, t);
    const first = firstAt.get(key) ?? new Map<number, number>();
    if (!first.has(r.partition)) first.set(r.partition, Number(r.message.offset));
    firstAt.set(key, first);
  }
  const text = (m: Map<string, { count: number; seconds: number; cost: bigint }>) =>
    new Map<string, Sum>(
      [...m].map(([k, v]) => [k, { count: v.count, seconds: v.seconds, cost: v.cost.toString() }]),
    );

  const deltas = new Map<string, { count: number; seconds: number; cost: bigint }>();
  for (const r of await readTopics(kafka, [env.TOPIC_CONTROL])) {
    const c = decodeControl(r.message.value as Buffer);
    const key = `${c.account}|${c.billing_period}`;
    const t = deltas.get(key) ?? { count: 0, seconds: 0, cost: 0n };
    t.count += c.count;
    t.seconds += c.seconds;
    t.cost += twosComplementToBigint(c.cost);
    deltas.set(key, t);
  }
  expect(text(deltas), 'the sum of cdr.control').toEqual(text(raw));

  const latest = new Map<string, ReturnType<typeof decodeControl>>();
  for (const r of await readTopics(kafka, [env.TOPIC_CONTROL_TOTALS])) {
    const c = decodeControl(r.message.value as Buffer);
    expect(r.message.key?.toString()).toBe(`${c.account}|${c.billing_period}`);
    latest.set(`${c.account}|${c.billing_period}`, c);
  }
  expect(
    text(
      new Map(
        [...latest].map(([k, c]) => [
          k,
          { count: c.count, seconds: c.seconds, cost: twosComplementToBigint(c.cost) },
        ]),
      ),
    ),
    'the latest cdr.control.totals',
  ).toEqual(text(raw));
  // The period index: each period's first offset per partition is its first CDR there.
  for (const [key, c] of latest)
    expect(
      new Map(c.partitions.map((p) => [p.partition, p.first_offset])),
      `first offsets of ${key}`,
    ).toEqual(firstAt.get(key));
}

/** What each CDR of a batch's tally columns counts for, as objects. */
export function tallyObjects(p: TallyColumns): CdrTally[] {
  const out = new Array<CdrTally>(p.count);
  const t = p.texts;
  for (let i = 0; i < p.count; i++) {
    const at = i * 4;
    const cost = p.costs[i] as number;
    out[i] = {
      id: p.ids[i] as number,
      period: t[p.refs[at] as number] as string,
      group: t[p.refs[at + 1] as number] as string,
      type: t[p.refs[at + 2] as number] as string,
      subType: t[p.refs[at + 3] as number] as string,
      seconds: p.seconds[i] as number,
      cost: Number.isNaN(cost) ? (p.bigCosts?.get(i) as bigint) : cost,
    };
  }
  return out;
}
