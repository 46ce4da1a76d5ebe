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
import { bigintToTwosComplement } from '../cdr/decimal.ts';
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
  const periods = new Map<string, ControlValue>();
  // period -> group -> type -> sub type: no key string made per CDR.
  const lineKeys = new Map<string, Map<string, Map<string, Map<string, ControlLine>>>>();
  // Small costs add up as exact doubles first (no bigint per CDR), folded in below 2^53.
  const pending = new Map<{ cost: bigint }, number>();
  const addCost = (into: { cost: bigint }, cost: number | bigint) => {
    if (typeof cost === 'bigint') {
      into.cost += cost;
      return;
    }
    const v = (pending.get(into) ?? 0) + cost;
    if (v > 2 ** 52 || v < -(2 ** 52)) {
      into.cost += BigInt(v);
      pending.set(into, 0);
    } else pending.set(into, v);
  };
  const partitionKeys = new Map<string, Map<number, ControlPartition>>();
  for (let i = 0; i < tallies.length; i++) {
    const t = tallies[i] as CdrTally;
    const m = raw[i] as Message;
    let p = periods.get(t.period);
    if (p === undefined) {
      p = {
        account: o.account,
        billing_period: t.period,
        topic: o.topic,
        count: 0,
        seconds: 0,
        cost: 0n,
        first_id: t.id,
        last_id: t.id,
        lines: [],
        partitions: [],
        cursor,
        written_at: now,
      };
      periods.set(t.period, p);
      lineKeys.set(t.period, new Map());
      partitionKeys.set(t.period, new Map());
    }
    add(p, t);
    addCost(p, t.cost);
    const groups = lineKeys.get(t.period) as Map<string, Map<string, Map<string, ControlLine>>>;
    let types = groups.get(t.group);
    if (types === undefined) {
      types = new Map();
      groups.set(t.group, types);
    }
    let subTypes = types.get(t.type);
    if (subTypes === undefined) {
      subTypes = new Map();
      types.set(t.type, subTypes);
    }
    let line = subTypes.get(t.subType);
    if (line === undefined) {
      line = {
        billing_group: t.group,
        type: t.type,
        sub_type: t.subType,
        count: 0,
        seconds: 0,
        cost: 0n,
        first_id: t.id,
        last_id: t.id,
      };
      subTypes.set(t.subType, line);
    }
    add(line, t);
    addCost(line, t.cost);
    const at = offsetOf(m);
    if (at === undefined || m.partition === undefined) continue;
    const parts = partitionKeys.get(t.period) as Map<number, ControlPartition>;
    const part = parts.get(m.partition);
    if (part === undefined)
      parts.set(m.partition, { partition: m.partition, first_offset: at, last_offset: at, count: 1 });
    else {
      part.first_offset = Math.min(part.first_offset, at);
      part.last_offset = Math.max(part.last_offset, at);
      part.count++;
    }
  }
  for (const [into, v] of pending) if (v !== 0) into.cost += BigInt(v);
  for (const [period, p] of periods) {
    p.lines = [];
    for (const types of (lineKeys.get(period) as Map<string, Map<string, Map<string, ControlLine>>>).values())
      for (const subTypes of types.values()) p.lines.push(...subTypes.values());
    p.partitions = [...(partitionKeys.get(period) as Map<number, ControlPartition>).values()].sort(
      (a, b) => a.partition - b.partition,
    );
  }
  return [...periods.values()];
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
  const lines = new Map(
    total.lines.map((l) => [`${l.billing_group}\u0000${l.type}\u0000${l.sub_type}`, { ...l }]),
  );
  for (const l of delta.lines) {
    const key = `${l.billing_group}\u0000${l.type}\u0000${l.sub_type}`;
    const now = lines.get(key);
    if (now === undefined) lines.set(key, { ...l });
    else {
      now.count += l.count;
      now.seconds += l.seconds;
      now.cost += l.cost;
      now.first_id = Math.min(now.first_id, l.first_id);
      now.last_id = Math.max(now.last_id, l.last_id);
    }
  }
  const partitions = new Map(total.partitions.map((p) => [p.partition, { ...p }]));
  for (const p of delta.partitions) {
    const now = partitions.get(p.partition);
    if (now === undefined) partitions.set(p.partition, { ...p });
    else {
      now.first_offset = Math.min(now.first_offset, p.first_offset);
      now.last_offset = Math.max(now.last_offset, p.last_offset);
      now.count += p.count;
    }
  }
  return {
    ...total,
    count: total.count + delta.count,
    seconds: total.seconds + delta.seconds,
    cost: total.cost + delta.cost,
    first_id: Math.min(total.first_id, delta.first_id),
    last_id: Math.max(total.last_id, delta.last_id),
    lines: [...lines.values()],
    partitions: [...partitions.values()].sort((a, b) => a.partition - b.partition),
    cursor: delta.cursor,
    written_at: delta.written_at,
  };
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
