// Control totals: count, seconds, exact cost (unscaled at scale 6) and first and last id, per
// billing period x account x billing group x call type. Memory grows with the number of keys,
// never with the number of CDRs. Pure.
import { ExactSum, smallUnscaled, twosComplementToBigint } from '../../cdr/decimal.ts';
export const KEY_COLUMNS = ['billing_period', 'account', 'billing_group', 'type', 'sub_type'] as const;
export type KeyColumn = (typeof KEY_COLUMNS)[number];
export const VALUE_COLUMNS = ['count', 'seconds', 'cost', 'first_id', 'last_id'] as const;
export type ValueColumn = (typeof VALUE_COLUMNS)[number];

export type TotalsKey = Record<KeyColumn, string>;

export interface Totals {
  count: number;
  seconds: number;
  /** Unscaled at scale 6. */
  cost: bigint;
  firstId: number;
  lastId: number;
}

export interface TotalsRow {
  key: Partial<TotalsKey>;
  totals: Totals;
}

/** A row being summed: its CDRs' costs in an ExactSum (no BigInt per CDR), added to totals.cost on reading. */
interface SummingRow extends TotalsRow {
  sum: ExactSum;
}

const SEP = '\u0000';

function keyOf(key: Partial<TotalsKey>, columns: readonly KeyColumn[]): string {
  return columns.map((c) => key[c] ?? '').join(SEP);
}

export function emptyTotals(): Totals {
  return {
    count: 0,
    seconds: 0,
    cost: 0n,
    firstId: Number.POSITIVE_INFINITY,
    lastId: Number.NEGATIVE_INFINITY,
  };
}

export function addTotals(into: Totals, t: Totals): void {
  into.count += t.count;
  into.seconds += t.seconds;
  into.cost += t.cost;
  if (t.firstId < into.firstId) into.firstId = t.firstId;
  if (t.lastId > into.lastId) into.lastId = t.lastId;
}

/** Totals per key over some of the key columns (all of them unless told). */
export class TotalsTable {
  readonly columns: readonly KeyColumn[];
  private readonly rows = new Map<string, SummingRow>();

  constructor(columns: readonly KeyColumn[] = KEY_COLUMNS) {
    this.columns = columns;
  }

  /** One CDR (of every key column), its cost as Avro decimal bytes (two's complement, scale 6). */
  addCdr(c: TotalsKey, seconds: number, costBytes: Uint8Array, id: number): void {
    const k =
      this.columns === KEY_COLUMNS
        ? `${c.billing_period}${SEP}${c.account}${SEP}${c.billing_group}${SEP}${c.type}${SEP}${c.sub_type}`
        : keyOf(c, this.columns);
    let row = this.rows.get(k);
    if (row === undefined) row = this.row(c);
    const t = row.totals;
    t.count++;
    t.seconds += seconds;
    row.sum.add(smallUnscaled(costBytes) ?? twosComplementToBigint(costBytes));
    if (id < t.firstId) t.firstId = id;
    if (id > t.lastId) t.lastId = id;
  }

  add(key: Partial<TotalsKey>, totals: Totals): void {
    addTotals(this.row(key).totals, totals);
  }

  get(key: Partial<TotalsKey>): Totals | undefined {
    const row = this.rows.get(keyOf(key, this.columns));
    return row ? settle(row).totals : undefined;
  }

  /** The same totals summed over fewer key columns. */
  rollUp(columns: readonly KeyColumn[]): TotalsTable {
    const out = new TotalsTable(columns);
    for (const r of this.rows.values()) out.add(r.key, settle(r).totals);
    return out;
  }

  /** Rows in key order. */
  list(): TotalsRow[] {
    return [...this.rows.values()]
      .map((r) => ({ key: r.key, totals: settle(r).totals }))
      .sort((a, b) => compareKeys(a.key, b.key, this.columns));
  }

  get size(): number {
    return this.rows.size;
  }

  private row(key: Partial<TotalsKey>): SummingRow {
    const k = keyOf(key, this.columns);
    let row = this.rows.get(k);
    if (row === undefined) {
      const own: Partial<TotalsKey> = {};
      for (const c of this.columns) own[c] = key[c] ?? '';
      row = { key: own, totals: emptyTotals(), sum: new ExactSum() };
      this.rows.set(k, row);
    }
    return row;
  }
}

function settle(row: SummingRow): SummingRow {
  row.totals.cost += row.sum.value;
  row.sum = new ExactSum();
  return row;
}

function compareKeys(a: Partial<TotalsKey>, b: Partial<TotalsKey>, columns: readonly KeyColumn[]): number {
  for (const c of columns) {
    const x = a[c] ?? '';
    const y = b[c] ?? '';
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** The value of a totals column as text: exact decimal cost, whole numbers otherwise. */
export function valueText(t: Totals, column: ValueColumn): string {
  switch (column) {
    case 'count':
      return String(t.count);
    case 'seconds':
      return String(t.seconds);
    case 'cost':
      return costText(t.cost);
    case 'first_id':
      return Number.isFinite(t.firstId) ? String(t.firstId) : '';
    case 'last_id':
      return Number.isFinite(t.lastId) ? String(t.lastId) : '';
  }
}

export function costText(unscaled: bigint): string {
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString().padStart(7, '0');
  return `${negative ? '-' : ''}${digits.slice(0, -6)}.${digits.slice(-6)}`;
}

/** A decimal text (any number of fraction digits up to 6, optional sign) to unscaled at scale 6. */
export function parseCost(text: string): bigint | undefined {
  const m = /^(-?)(\d+)(?:\.(\d{1,6}))?$/.exec(text.trim());
  if (!m) return undefined;
  const v = BigInt((m[2] as string) + (m[3] ?? '').padEnd(6, '0'));
  return m[1] === '-' ? -v : v;
}
