// Reading the running control totals (cdr.control.totals, see records.ts): compacted, keyed
// `account|period`, the latest record per key is the period's total so far. Read bounded and
// read_committed. (cdr.control, one record per transaction, is for billing systems to consume.)
import type { Kafka } from 'kafkajs';
import { twosComplementToBigint } from '../cdr/decimal.ts';
import { WriterSchemaDecoder } from '../codec/raw-decoder.ts';
import type { RegistryOptions } from '../codec/registry.ts';
import { avroType } from '../codec/schemas.ts';
import { readToEnd } from '../kafka/bounded-read.ts';
import { freshSharedRead } from '../ops/fresh-read.ts';
import { type ControlValue, totalsKey } from './control.ts';

type Encoded = Omit<ControlValue, 'cost' | 'lines'> & {
  cost: Buffer;
  lines: Array<Omit<ControlValue['lines'][number], 'cost'> & { cost: Buffer }>;
};

export interface ControlScope {
  accounts?: ReadonlySet<string>;
  periods?: ReadonlySet<string>;
  /** Only the control records of CDRs published to this topic. */
  rawTopic?: string;
}

/**
 * The running totals in scope: the latest record per account and period. Records are keyed
 * `account|period`, so only the last value of each key is decoded, however many the topic holds
 * before compaction.
 */
export async function latestTotals(
  kafka: Kafka,
  registry: RegistryOptions,
  totalsTopic: string,
  scope: ControlScope,
  options: {
    timeoutMs?: number;
    groupPrefix?: string;
    awaitOpenTransactionsMs?: number;
    onOpenTransactionsWaiting?: () => Promise<unknown>;
  } = {},
): Promise<{ totals: Map<string, ControlValue>; undecodable: number }> {
  const last = new Map<string, Buffer | null>();
  const unkeyed: Array<Buffer | null> = [];
  await readToEnd(
    kafka,
    [totalsTopic],
    ({ messages }) => {
      for (const m of messages) {
        if (m.key === null) unkeyed.push(m.value);
        else last.set(m.key.toString('utf8'), m.value);
      }
    },
    {
      timeoutMs: options.timeoutMs ?? 10 * 60_000,
      groupPrefix: options.groupPrefix ?? 'cdr-control-read',
      ...(options.awaitOpenTransactionsMs === undefined
        ? {}
        : { awaitOpenTransactionsMs: options.awaitOpenTransactionsMs }),
      ...(options.onOpenTransactionsWaiting === undefined
        ? {}
        : { onOpenTransactionsWaiting: options.onOpenTransactionsWaiting }),
    },
  );
  const decoder = new WriterSchemaDecoder<Encoded>(avroType('cdr-control'), registry, 'cdr-control');
  const values = [...unkeyed, ...last.values()];
  await decoder.prepare(values);
  const totals = new Map<string, ControlValue>();
  let undecodable = 0;
  for (const v of values) {
    if (v === null) continue; // a tombstone
    let c: ControlValue;
    try {
      c = fromEncoded(decoder.decode(v));
    } catch {
      undecodable++;
      continue;
    }
    if (inScope(c, scope)) totals.set(totalsKey(c.account, c.billing_period), c);
  }
  return { totals, undecodable };
}

function inScope(
  e: { account: string; billing_period: string; topic: string },
  scope: ControlScope,
): boolean {
  return (
    (!scope.accounts || scope.accounts.has(e.account)) &&
    (!scope.periods || scope.periods.has(e.billing_period)) &&
    (scope.rawTopic === undefined || e.topic === scope.rawTopic)
  );
}

function fromEncoded(e: Encoded): ControlValue {
  return {
    ...e,
    cost: twosComplementToBigint(e.cost),
    lines: e.lines.map((l) => ({ ...l, cost: twosComplementToBigint(l.cost) })),
  };
}

/**
 * The period index: per partition of `rawTopic`, the offset of the first CDR of any of `periods`
 * ever ingested (late CDRs included: they come after other periods' CDRs, and the running totals
 * keep the lowest offset). `complete` when the totals cover each partition from its first record
 * still held (`lows`: the partitions holding records, with their first offset); otherwise CDRs
 * written before control records existed are not indexed, and the caller must scan.
 */
export async function periodIndex(
  kafka: Kafka,
  registry: RegistryOptions,
  totalsTopic: string,
  rawTopic: string,
  periods: ReadonlySet<string>,
  lows: ReadonlyMap<number, bigint>,
): Promise<{ complete: boolean; starts: Map<number, bigint> }> {
  const starts = new Map<number, bigint>();
  const covered = new Map<number, bigint>();
  const lower = (m: Map<number, bigint>, partition: number, at: bigint) => {
    const now = m.get(partition);
    if (now === undefined || at < now) m.set(partition, at);
  };
  const { totals } = await latestTotals(kafka, registry, totalsTopic, { rawTopic });
  for (const c of totals.values())
    for (const p of c.partitions) {
      const at = BigInt(p.first_offset);
      lower(covered, p.partition, at);
      if (periods.has(c.billing_period)) lower(starts, p.partition, at);
    }
  let complete = covered.size > 0;
  for (const [partition, low] of lows) {
    const first = covered.get(partition);
    // Records before the first one a control record names: not indexed.
    if (first === undefined || first > low) complete = false;
  }
  return { complete, starts };
}

/**
 * The running totals of every account, read for the producer after its InitProducerId (so nothing
 * of ours is pending): account -> period -> total. Callers asking together share one read.
 */
export class TotalsReader {
  readonly readAll: () => Promise<Map<string, Map<string, ControlValue>>>;

  constructor(
    kafka: Kafka,
    registry: RegistryOptions,
    topic: string,
    options: {
      timeoutMs: number;
      groupPrefix: string;
      awaitOpenTransactionsMs?: number;
      onOpenTransactionsWaiting?: () => Promise<unknown>;
    },
  ) {
    this.readAll = freshSharedRead(async () => {
      const { totals } = await latestTotals(kafka, registry, topic, {}, options);
      const out = new Map<string, Map<string, ControlValue>>();
      for (const c of totals.values()) {
        let periods = out.get(c.account);
        if (periods === undefined) {
          periods = new Map();
          out.set(c.account, periods);
        }
        periods.set(c.billing_period, c);
      }
      return out;
    });
  }
}
