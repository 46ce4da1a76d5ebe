// Control records: per (account, billing period) of a batch, the count, seconds, exact cost and
// id range of its CDRs, per billing group and call type too, and where they sit in cdr.raw (first
// and last offset per partition). Written in the batch's own transaction to two topics:
// - cdr.control, one record per (account, period) per transaction: what a billing system matches
//   transaction by transaction, and whose sum is exactly what cdr.raw holds;
// - cdr.control.totals, compacted, keyed `account|period`: the running total of those records up
//   to and including the transaction. Its latest record per key is the period's totals so far, so
//   `reconcile --fast` and the period index (the lowest first offset per partition: where a
//   period's replay starts) read a few records per account and period, not one per transaction.
// No I/O.
import type avro from 'avsc';
import type { Message } from 'kafkajs';
import { bigintToTwosComplement, ExactSum } from '../cdr/decimal.ts';
import { encodeValue } from '../codec/wire.ts';

/** What a control record needs of one published CDR. */
export interface CdrTally {
  id: number;
  period: string;
  group: string;
  type: string;
  subType: string;
  seconds: number;
  /** Unscaled cost at scale 6: a number below 2^47 (6 bytes, every cost under 140 million), else a bigint. */
  cost: number | bigint;
}

export interface ControlLine {
  billing_group: string;
  type: string;
  sub_type: string;
  count: number;
  seconds: number;
  cost: bigint;
  first_id: number;
  last_id: number;
}

export interface ControlPartition {
  partition: number;
  first_offset: number;
  last_offset: number;
  count: number;
}

/** A decoded control record, cost as unscaled bigints. */
export interface ControlValue {
  account: string;
  billing_period: string;
  topic: string;
  count: number;
  seconds: number;
  cost: bigint;
  first_id: number;
  last_id: number;
  lines: ControlLine[];
  partitions: ControlPartition[];
  cursor: number;
  written_at: number;
}

export interface ControlOptions {
  account: string;
  topic: string;
  type: avro.Type;
  schemaId: number;
}

/**
 * The control values of a batch, one per billing period: `raw[i]` is the record of `tallies[i]`;
 * `offsetOf` gives the offset Kafka gave each raw record in the open transaction (its partition is
 * the record's own).
 */
export function controlValues(
  o: Pick<ControlOptions, 'account' | 'topic'>,
  raw: readonly Message[],
  tallies: readonly CdrTally[],
  offsetOf: (m: Message) => number | undefined,
  cursor: number,
  now = Date.now(),
): ControlValue[] {
  interface Period {
    value: ControlValue;
    // group -> type -> sub type: no key string made per CDR.
    lines: Map<string, Map<string, Map<string, ControlLine>>>;
    partitions: Map<number, ControlPartition>;
  }
  const periods = new Map<string, Period>();
  // Costs are summed without a BigInt per CDR; `cost` is set from these at the end.
  const sums = new Map<{ cost: bigint }, ExactSum>();
  const count = (into: ControlValue | ControlLine, t: CdrTally) => {
    add(into, t);
    entry(sums, into, () => new ExactSum()).add(t.cost);
  };
  for (let i = 0; i < tallies.length; i++) {
    const t = tallies[i] as CdrTally;
    const m = raw[i] as Message;
    const p = entry(periods, t.period, () => ({
      value: {
        account: o.account,
        billing_period: t.period,
        topic: o.topic,
        ...zero(t.id),
        lines: [],
        partitions: [],
        cursor,
        written_at: now,
      },
      lines: new Map(),
      partitions: new Map(),
    }));
    count(p.value, t);
    const subTypes = entry(
      entry(p.lines, t.group, () => new Map()),
      t.type,
      () => new Map(),
    );
    count(
      entry(subTypes, t.subType, () => ({
        billing_group: t.group,
        type: t.type,
        sub_type: t.subType,
        ...zero(t.id),
      })),
      t,
    );
    const at = offsetOf(m);
    if (at === undefined || m.partition === undefined) continue;
    const part = entry(p.partitions, m.partition, () => ({
      partition: m.partition as number,
      first_offset: at,
      last_offset: at,
      count: 0,
    }));
    part.first_offset = Math.min(part.first_offset, at);
    part.last_offset = Math.max(part.last_offset, at);
    part.count++;
  }
  for (const [into, sum] of sums) into.cost = sum.value;
  return [...periods.values()].map((p) => {
    for (const types of p.lines.values())
      for (const subTypes of types.values()) p.value.lines.push(...subTypes.values());
    p.value.partitions = [...p.partitions.values()].sort((a, b) => a.partition - b.partition);
    return p.value;
  });
}

/** Counters of a control value or line before its first CDR. */
function zero(id: number) {
  return { count: 0, seconds: 0, cost: 0n, first_id: id, last_id: id };
}

/** The entry of `key`, made by `make` the first time. */
function entry<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let v = map.get(key);
  if (v === undefined) {
    v = make();
    map.set(key, v);
  }
  return v;
}

/** The cdr.control records of a batch (see controlValues), keyed by account. */
export function controlMessages(
  o: ControlOptions,
  raw: readonly Message[],
  tallies: readonly CdrTally[],
  offsetOf: (m: Message) => number | undefined,
  cursor: number,
  now = Date.now(),
): Message[] {
  return controlValues(o, raw, tallies, offsetOf, cursor, now).map((v) => controlMessage(o, v));
}

export function controlMessage(o: Pick<ControlOptions, 'type' | 'schemaId'>, v: ControlValue): Message {
  return { key: v.account, value: encodeValue(o.type, o.schemaId, toAvro(v)) };
}

/** The cdr.control.totals record of a running total: keyed by account and period (compacted). */
export function totalsMessage(o: Pick<ControlOptions, 'type' | 'schemaId'>, v: ControlValue): Message {
  return { key: totalsKey(v.account, v.billing_period), value: encodeValue(o.type, o.schemaId, toAvro(v)) };
}

export function totalsKey(account: string, period: string): string {
  return `${account}|${period}`;
}

/** `total` (the running total so far, or undefined) plus one transaction's `delta` of the same period. */
export function addControl(total: ControlValue | undefined, delta: ControlValue): ControlValue {
  if (total === undefined) return structuredClone(delta);
  const key = (l: ControlLine) => `${l.billing_group}\u0000${l.type}\u0000${l.sub_type}`;
  const lines = new Map(total.lines.map((l) => [key(l), { ...l }]));
  for (const l of delta.lines)
    merge(
      entry(lines, key(l), () => ({ ...l, ...zero(l.first_id) })),
      l,
    );
  const partitions = new Map(total.partitions.map((p) => [p.partition, { ...p }]));
  for (const p of delta.partitions) {
    const now = entry(partitions, p.partition, () => ({ ...p, count: 0 }));
    now.first_offset = Math.min(now.first_offset, p.first_offset);
    now.last_offset = Math.max(now.last_offset, p.last_offset);
    now.count += p.count;
  }
  const sum = { ...total };
  merge(sum, delta);
  return {
    ...sum,
    lines: [...lines.values()],
    partitions: [...partitions.values()].sort((a, b) => a.partition - b.partition),
    cursor: delta.cursor,
    written_at: delta.written_at,
  };
}

type Counters = { count: number; seconds: number; cost: bigint; first_id: number; last_id: number };

/** `from`'s counters added into `into`'s. */
function merge(into: Counters, from: Counters): void {
  into.count += from.count;
  into.seconds += from.seconds;
  into.cost += from.cost;
  into.first_id = Math.min(into.first_id, from.first_id);
  into.last_id = Math.max(into.last_id, from.last_id);
}

function add(into: { count: number; seconds: number; first_id: number; last_id: number }, t: CdrTally): void {
  into.count++;
  into.seconds += t.seconds;
  if (t.id < into.first_id) into.first_id = t.id;
  if (t.id > into.last_id) into.last_id = t.id;
}

function toAvro(v: ControlValue): unknown {
  return {
    ...v,
    cost: bigintToTwosComplement(v.cost),
    lines: v.lines.map((l) => ({ ...l, cost: bigintToTwosComplement(l.cost) })),
  };
}
