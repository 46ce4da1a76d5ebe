// Reconciling cdr.raw with the enriched topics: every raw CDR enriched exactly once, nothing
// extra. Both sides are kept as id ranges per account (memory grows with gaps, not CDRs), and as
// totals, which must be equal line for line.
import type { Kafka } from 'kafkajs';
import type { RegistryOptions } from '../../codec/registry.ts';
import { scan } from '../read/scan.ts';
import type { Continuity } from './continuity.ts';
import { IdSet, MERGE_PACE_MS } from './continuity.ts';
import { compareTotals, type Differences } from './report.ts';
import { type CdrScope, TOTALS_FIELDS } from './scope.ts';
import { TotalsTable, VALUE_COLUMNS } from './totals.ts';

export async function reconcileWithEnriched(
  kafka: Kafka,
  registry: RegistryOptions,
  topics: string[],
  scope: CdrScope,
  raw: { continuity: Continuity; totals: TotalsTable },
  out: Differences,
): Promise<{ records: number }> {
  const ids = new Map<string, IdSet>();
  const totals = new TotalsTable();
  let records = 0;
  const done = await scan(kafka, {
    paceMs: MERGE_PACE_MS,
    fields: TOTALS_FIELDS,
    topics,
    registry,
    keep: scope.keep,
    onMatch: (c, at) => {
      records++;
      let r = ids.get(c.account);
      if (r === undefined) {
        r = new IdSet();
        ids.set(c.account, r);
      }
      if (!r.add(c.id))
        out.add({
          kind: 'duplicate',
          account: c.account,
          id: c.id,
          detail: `enriched again: ${at.topic} partition ${at.partition} offset ${at.offset}`,
        });
      totals.addCdr(c, c.seconds, c.cost, c.id);
    },
  });
  if (done.undecodable > 0)
    out.add({ kind: 'undecodable', detail: `${done.undecodable} enriched records could not be decoded` });
  const accounts = new Set([...raw.continuity.accounts.keys(), ...ids.keys()]);
  for (const account of [...accounts].sort()) {
    const ours = raw.continuity.accounts.get(account)?.ids ?? new IdSet();
    const theirs = ids.get(account) ?? new IdSet();
    for (const [id, toId] of ours.minus(theirs))
      out.add({ kind: 'missing_in_other', account, id, toId, detail: 'in cdr.raw, not enriched' });
    for (const [id, toId] of theirs.minus(ours))
      out.add({ kind: 'missing_in_kafka', account, id, toId, detail: 'enriched, not in cdr.raw' });
  }
  compareTotals(raw.totals, totals, VALUE_COLUMNS, out);
  return { records };
}
