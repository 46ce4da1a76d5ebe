// Reading cdr.control: the control records the producer wrote with each batch. Summed, they are
// the totals of cdr.raw without reading it (`reconcile --fast`); their offsets are the period
// index (where a billing period's first ingested CDR is, per partition).
import type { Kafka } from 'kafkajs';
import { twosComplementToBigint } from '../cdr/decimal.ts';
import { WriterSchemaDecoder } from '../codec/raw-decoder.ts';
import type { RegistryOptions } from '../codec/registry.ts';
import { avroType } from '../codec/schemas.ts';
import { readToEnd } from '../kafka/bounded-read.ts';
import type { ControlValue } from '../producer/control.ts';
import { TotalsTable } from './totals.ts';

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

/** Every control record in scope, in the order they were committed. */
export async function readControls(
  kafka: Kafka,
  registry: RegistryOptions,
  topic: string,
  scope: ControlScope,
  onControl: (c: ControlValue) => void,
  timeoutMs = 10 * 60_000,
): Promise<{ read: number; undecodable: number }> {
  const decoder = new WriterSchemaDecoder<Encoded>(avroType('cdr-control'), registry, 'cdr-control');
  let read = 0;
  let undecodable = 0;
  await readToEnd(
    kafka,
    [topic],
    async ({ messages }) => {
      await decoder.prepare(messages.map((m) => m.value));
      for (const m of messages) {
        let e: Encoded;
        try {
          e = decoder.decode(m.value);
        } catch {
          undecodable++;
          continue;
        }
        read++;
        if (scope.accounts && !scope.accounts.has(e.account)) continue;
        if (scope.periods && !scope.periods.has(e.billing_period)) continue;
        if (scope.rawTopic !== undefined && e.topic !== scope.rawTopic) continue;
        onControl({
          ...e,
          cost: twosComplementToBigint(e.cost),
          lines: e.lines.map((l) => ({ ...l, cost: twosComplementToBigint(l.cost) })),
        });
      }
    },
    { timeoutMs, groupPrefix: 'cdr-control-read' },
  );
  return { read, undecodable };
}

/** The totals the control records in scope add up to, per period x account x group x call type. */
export async function controlTotals(
  kafka: Kafka,
  registry: RegistryOptions,
  topic: string,
  scope: ControlScope,
): Promise<{ table: TotalsTable; records: number; undecodable: number }> {
  const table = new TotalsTable();
  let records = 0;
  const { undecodable } = await readControls(kafka, registry, topic, scope, (c) => {
    records++;
    for (const l of c.lines)
      table.add(
        {
          billing_period: c.billing_period,
          account: c.account,
          billing_group: l.billing_group,
          type: l.type,
          sub_type: l.sub_type,
        },
        { count: l.count, seconds: l.seconds, cost: l.cost, firstId: l.first_id, lastId: l.last_id },
      );
  });
  return { table, records, undecodable };
}

/**
 * The period index: per partition of `rawTopic`, the offset of the first CDR of any of `periods`
 * ever ingested (late CDRs included: they come after other periods' CDRs, and their control
 * records say where); a partition without any has none. `complete` when the control records cover
 * each partition from its first record still held (`lows`); otherwise CDRs written before control
 * records existed are not indexed, and the caller must scan. `lows`: the partitions holding
 * records, with their first offset.
 */
export async function periodIndex(
  kafka: Kafka,
  registry: RegistryOptions,
  controlTopic: string,
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
  await readControls(kafka, registry, controlTopic, { rawTopic }, (c) => {
    for (const p of c.partitions) {
      const at = BigInt(p.first_offset);
      lower(covered, p.partition, at);
      if (periods.has(c.billing_period)) lower(starts, p.partition, at);
    }
  });
  let complete = covered.size > 0;
  for (const [partition, low] of lows) {
    const first = covered.get(partition);
    // Records before the first one a control record names: not indexed.
    if (first === undefined || first > low) complete = false;
  }
  return { complete, starts };
}
