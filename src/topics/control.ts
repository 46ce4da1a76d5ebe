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

/**
 * What the control records count of a batch's CDRs, as columns (PackedRecords is one): CDR i has
 * id `ids[i]`, `seconds[i]`, cost `costs[i]` and the texts `refs[4i..4i+3]` point to.
 */
export interface TallyColumns {
  readonly count: number;
  readonly ids: ArrayLike<number>;
  readonly seconds: ArrayLike<number>;
  /** Unscaled cost at scale 6; NaN for a cost kept as a bigint in `bigCosts` (by CDR index). */
  readonly costs: ArrayLike<number>;
  readonly bigCosts?: ReadonlyMap<number, bigint> | undefined;
  /** Per CDR, the indexes in `texts` of its billing period, billing group, type and sub type. */
  readonly refs: ArrayLike<number>;
  readonly texts: readonly string[];
}

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
 * The control values of a batch, one per billing period: `raw[i]` is the record of CDR i of
 * `tallies`, `offsets[i]` the offset Kafka gave it in the open transaction (NaN when not known;
 * its partition is the record's own).
 */
export function controlValues(
  options: Pick<ControlOptions, 'account' | 'topic'>,
  raw: readonly Message[],
  tallies: TallyColumns,
  offsets: ArrayLike<number>,
  cursor: number,
  now = Date.now(),
): ControlValue[] {
  // Per CDR: one map lookup for its period, three for its line, one for its partition, and no
  // object made; costs summed without a BigInt per CDR (`cost` is set from the sums at the end).
  const periods = new Map<string, PeriodCount>();
  const { texts, refs } = tallies;
  for (let i = 0; i < tallies.count; i++) {
    const at = i * 4;
    const period = texts[refs[at] as number] as string;
    const group = texts[refs[at + 1] as number] as string;
    const type = texts[refs[at + 2] as number] as string;
    const subType = texts[refs[at + 3] as number] as string;
    const id = tallies.ids[i] as number;
    const seconds = tallies.seconds[i] as number;
    const small = tallies.costs[i] as number;
    const cost = Number.isNaN(small) ? (tallies.bigCosts?.get(i) as bigint) : small;
    let p = periods.get(period);
    if (p === undefined) {
      p = new PeriodCount(options, period, id, cursor, now);
      periods.set(period, p);
    }
    p.add(id, seconds, cost);
    let types = p.lines.get(group);
    if (types === undefined) {
      types = new Map();
      p.lines.set(group, types);
    }
    let subTypes = types.get(type);
    if (subTypes === undefined) {
      subTypes = new Map();
      types.set(type, subTypes);
    }
    let line = subTypes.get(subType);
    if (line === undefined) {
      line = new LineCount(group, type, subType, id);
      subTypes.set(subType, line);
    }
    line.add(id, seconds, cost);
    const offset = offsets[i] as number;
    const partition = (raw[i] as Message).partition;
    if (Number.isNaN(offset) || partition === undefined) continue;
    const part = p.partitions.get(partition);
    if (part === undefined)
      p.partitions.set(partition, { partition, first_offset: offset, last_offset: offset, count: 1 });
    else {
      if (offset < part.first_offset) part.first_offset = offset;
      if (offset > part.last_offset) part.last_offset = offset;
      part.count++;
    }
  }
  return [...periods.values()].map((p) => p.value());
}

/** A control line being counted: its counters, and its cost as an exact sum. */
class LineCount {
  readonly line: ControlLine;
  readonly sum = new ExactSum();

  constructor(group: string, type: string, subType: string, firstId: number) {
    this.line = { billing_group: group, type, sub_type: subType, ...zero(firstId) };
  }

  add(id: number, seconds: number, cost: number | bigint): void {
    add(this.line, id, seconds);
    this.sum.add(cost);
  }
}

/** A period's control value being counted, with its lines (group -> type -> sub type: no key string per CDR) and partitions. */
class PeriodCount {
  private readonly total: ControlValue;
  private readonly sum = new ExactSum();
  readonly lines = new Map<string, Map<string, Map<string, LineCount>>>();
  readonly partitions = new Map<number, ControlPartition>();

  constructor(
    options: Pick<ControlOptions, 'account' | 'topic'>,
    period: string,
    firstId: number,
    cursor: number,
    now: number,
  ) {
    this.total = {
      account: options.account,
      billing_period: period,
      topic: options.topic,
      ...zero(firstId),
      lines: [],
      partitions: [],
      cursor,
      written_at: now,
    };
  }

  add(id: number, seconds: number, cost: number | bigint): void {
    add(this.total, id, seconds);
    this.sum.add(cost);
  }

  value(): ControlValue {
    const v = this.total;
    v.cost = this.sum.value;
    for (const types of this.lines.values())
      for (const subTypes of types.values())
        for (const l of subTypes.values()) {
          l.line.cost = l.sum.value;
          v.lines.push(l.line);
        }
    v.partitions = [...this.partitions.values()].sort((a, b) => a.partition - b.partition);
    return v;
  }
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
  options: ControlOptions,
  raw: readonly Message[],
  tallies: TallyColumns,
  offsets: ArrayLike<number>,
  cursor: number,
  now = Date.now(),
): Message[] {
  return controlValues(options, raw, tallies, offsets, cursor, now).map((v) => controlMessage(options, v));
}

export function controlMessage(options: Pick<ControlOptions, 'type' | 'schemaId'>, v: ControlValue): Message {
  return { key: v.account, value: encodeValue(options.type, options.schemaId, toAvro(v)) };
}

/** The cdr.control.totals record of a running total: keyed by account and period (compacted). */
export function totalsMessage(options: Pick<ControlOptions, 'type' | 'schemaId'>, v: ControlValue): Message {
  return {
    key: totalsKey(v.account, v.billing_period),
    value: encodeValue(options.type, options.schemaId, toAvro(v)),
  };
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

function add(
  into: { count: number; seconds: number; first_id: number; last_id: number },
  id: number,
  seconds: number,
): void {
  into.count++;
  into.seconds += seconds;
  if (id < into.first_id) into.first_id = id;
  if (id > into.last_id) into.last_id = id;
}

function toAvro(v: ControlValue): unknown {
  return {
    ...v,
    cost: bigintToTwosComplement(v.cost),
    lines: v.lines.map((l) => ({ ...l, cost: bigintToTwosComplement(l.cost) })),
  };
}
