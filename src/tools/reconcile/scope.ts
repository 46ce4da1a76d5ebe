// Which CDRs a reconciliation covers: accounts, billing periods, an id range. Pure.
import type { RawCdr } from '../../cdr/row.ts';

export interface CdrScope {
  accounts?: ReadonlySet<string>;
  periods?: ReadonlySet<string>;
  idMin?: number;
  idMax?: number;
  /** Whether a CDR (or anything naming its account, billing period and id) is in the scope. */
  keep(c: Pick<RawCdr, 'account' | 'billing_period' | 'id'>): boolean;
}

export function cdrScope(options: Omit<CdrScope, 'keep'>): CdrScope {
  return {
    ...options,
    keep: (c) =>
      (!options.accounts || options.accounts.has(c.account)) &&
      (!options.periods || options.periods.has(c.billing_period)) &&
      (options.idMin === undefined || c.id >= options.idMin) &&
      (options.idMax === undefined || c.id <= options.idMax),
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
