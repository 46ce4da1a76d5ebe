// Which CDRs a reconciliation covers: accounts, billing periods, an id range. Pure.
import type { RawCdr } from '../../cdr/row.ts';

export interface CdrScope {
  accounts?: ReadonlySet<string>;
  periods?: ReadonlySet<string>;
  idMin?: number;
  idMax?: number;
  keep(c: RawCdr): boolean;
}

export function cdrScope(o: Omit<CdrScope, 'keep'>): CdrScope {
  return {
    ...o,
    keep: (c) =>
      (!o.accounts || o.accounts.has(c.account)) &&
      (!o.periods || o.periods.has(c.billing_period)) &&
      (o.idMin === undefined || c.id >= o.idMin) &&
      (o.idMax === undefined || c.id <= o.idMax),
  };
}

/** What a totals and continuity scan reads of each CDR (scope, keys, values, id). */
export const TOTALS_FIELDS = [
  'id',
  'account',
  'billing_group',
  'billing_period',
  'seconds',
  'type',
  'sub_type',
  'cost',
] as const;
