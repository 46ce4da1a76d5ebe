// What a reconciliation found: the totals read from Kafka, every difference with what it is about
// (a totals line, an id or a range of ids), and each account's continuity. Pure.
import type { ContinuityIssue } from './continuity.ts';
import type { GapPart } from './gaps.ts';
import {
  type KeyColumn,
  type Totals,
  type TotalsKey,
  type TotalsTable,
  type ValueColumn,
  valueText,
} from './totals.ts';

export const DIFFERENCE_KINDS = [
  /** A totals line whose value differs. */
  'totals_differ',
  /** A totals line, an id or ids that the other side has and Kafka does not. */
  'missing_in_kafka',
  /** ... that Kafka has and the other side does not. */
  'missing_in_other',
  /** The same id with other values. */
  'values_differ',
  /** Not in Kafka because the producer dead-lettered it. */
  'dead_lettered',
  'duplicate',
  'out_of_order',
  /** A record that could not be decoded. */
  'undecodable',
] as const;

export type DifferenceKind = (typeof DIFFERENCE_KINDS)[number];

export interface Difference {
  kind: DifferenceKind;
  key?: Partial<TotalsKey>;
  /** The totals file's line. */
  line?: number;
  account?: string;
  /** One id, or the first of a range. */
  id?: number;
  /** The last id of a range. */
  toId?: number;
  column?: string;
  kafka?: string;
  other?: string;
  detail?: string;
}

export interface AccountSummary {
  account: string;
  firstId: number | undefined;
  lastId: number | undefined;
  ids: number;
  /** Holes between ids: legal in the feed, shown so a person can ask the carrier. */
  gaps: Array<[number, number]>;
  /** With --feed: each gap split by why it is one (dead letters, pointer rows, never sent...). */
  gapParts?: GapPart[];
}

export interface ReconcileReport {
  /** What Kafka was compared with. */
  against: 'nothing' | 'feed' | 'totals-file' | 'enriched';
  /** scan: cdr.raw read; fast: the control records summed. */
  source: 'scan' | 'fast';
  columns: readonly KeyColumn[];
  totals: Array<{ key: Partial<TotalsKey>; totals: Totals }>;
  differences: Difference[];
  /** Differences found beyond the listing limit: counted, not listed. */
  unlisted: number;
  accounts: AccountSummary[];
  records: number;
  /** Differences of the kinds the caller accepted (`--accept`): listed, but not what makes `ok` false. */
  accepted?: number;
  ok: boolean;
}

/** Keeps differences up to a limit and counts the rest. */
export class Differences {
  readonly list: Difference[] = [];
  unlisted = 0;
  /** Differences of an accepted kind (known dead letters, say): listed, not counted against `ok`. */
  accepted = 0;
  private readonly max: number;
  private readonly accept: ReadonlySet<DifferenceKind>;

  constructor(max = 100_000, accept: ReadonlySet<DifferenceKind> = new Set()) {
    this.max = max;
    this.accept = accept;
  }

  add(d: Difference): void {
    if (this.accept.has(d.kind)) this.accepted++;
    if (this.list.length < this.max) this.list.push(d);
    else this.unlisted++;
  }

  get count(): number {
    return this.list.length + this.unlisted;
  }

  /** The differences that are not of an accepted kind. */
  get blocking(): number {
    return this.count - this.accepted;
  }
}

export function continuityDifference(i: ContinuityIssue): Difference {
  return {
    kind: i.kind,
    account: i.account,
    id: i.id,
    detail:
      i.kind === 'duplicate'
        ? `id ${i.id} read again at partition ${i.partition} offset ${i.offset}`
        : `id ${i.id} after id ${i.after} on partition ${i.partition} (offset ${i.offset})`,
  };
}

/**
 * Kafka's totals against another side's, line by line over `values`: lines of one side only and
 * values that differ. `lines` gives the other side's line numbers (a totals file).
 */
export function compareTotals(
  kafka: TotalsTable,
  other: TotalsTable,
  values: readonly ValueColumn[],
  out: Differences,
  lines?: Map<string, number>,
): void {
  const columns = other.columns;
  const theirs = other.list();
  const lineOf = (key: Partial<TotalsKey>) => lines?.get(columns.map((c) => key[c] ?? '').join('\u0000'));
  for (const { key, totals } of theirs) {
    const ours = kafka.get(key);
    const line = lineOf(key);
    if (ours === undefined) {
      out.add({
        kind: 'missing_in_kafka',
        key,
        ...(line ? { line } : {}),
        detail: 'no CDR of this line in Kafka',
      });
      continue;
    }
    for (const v of values) {
      const a = valueText(ours, v);
      const b = valueText(totals, v);
      if (a !== b)
        out.add({ kind: 'totals_differ', key, ...(line ? { line } : {}), column: v, kafka: a, other: b });
    }
  }
  for (const { key } of kafka.list())
    if (other.get(key) === undefined)
      out.add({ kind: 'missing_in_other', key, detail: 'not in the other side' });
}
