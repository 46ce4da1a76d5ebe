// Which CDRs a search or an export keeps: the carrier portal's criteria (call start, billing
// period, billing group, seconds, from, to, type) plus account and id range. Pure.
import { CONTRACT_COLUMNS } from '../../cdr/layouts.ts';
import { numberMatches, type PhoneNumbers } from '../../cdr/phone.ts';
import type { RawCdr } from '../../cdr/row.ts';
import { type TimeZone, zonedInstant } from '../../cdr/time-zone.ts';

export interface NumberMatch {
  value: string;
  /** Match the start of the number instead of all of it. */
  prefix: boolean;
}

export interface CdrFilter {
  /** Call start at or after, epoch ms. */
  startFrom?: number;
  /** Call start before, epoch ms. */
  startBefore?: number;
  periods?: ReadonlySet<string>;
  groups?: ReadonlySet<string>;
  accounts?: ReadonlySet<string>;
  /** `type` or `type/sub_type`. */
  types?: ReadonlyArray<{ type: string; subType?: string }>;
  secondsMin?: number;
  secondsMax?: number;
  from?: NumberMatch;
  to?: NumberMatch;
  /** With from/to: numbers also matched on their E.164 form, parsed in the account's home country. */
  phones?: PhoneNumbers;
  idMin?: number;
  idMax?: number;
}

/** The fields of a CDR `matches` reads (a pass may decode only these to filter: ScanOptions.keepFields). */
export const FILTER_FIELDS: readonly string[] = [
  // The contract's columns but the money and the description; the layout says the home country.
  ...CONTRACT_COLUMNS.filter((c) => c !== 'cost' && c !== 'description'),
  'layout',
];

export function matches(c: RawCdr, f: CdrFilter): boolean {
  if (f.startFrom !== undefined && c.start_time < f.startFrom) return false;
  if (f.startBefore !== undefined && c.start_time >= f.startBefore) return false;
  if (f.periods && !f.periods.has(c.billing_period)) return false;
  if (f.groups && !f.groups.has(c.billing_group)) return false;
  if (f.accounts && !f.accounts.has(c.account)) return false;
  if (
    f.types &&
    !f.types.some((t) => t.type === c.type && (t.subType === undefined || t.subType === c.sub_type))
  )
    return false;
  if (f.secondsMin !== undefined && c.seconds < f.secondsMin) return false;
  if (f.secondsMax !== undefined && c.seconds > f.secondsMax) return false;
  if (f.from && !numberMatches(c.from, c.layout, f.from, f.phones)) return false;
  if (f.to && !numberMatches(c.to, c.layout, f.to, f.phones)) return false;
  if (f.idMin !== undefined && c.id < f.idMin) return false;
  if (f.idMax !== undefined && c.id > f.idMax) return false;
  return true;
}

/**
 * The instant a `--start-from`/`--start-to` value names: ISO 8601 with a zone as it says; a date
 * (YYYY-MM-DD) is the start of that day in `zone`, and as an upper bound it takes the whole day.
 */
export function boundary(text: string, zone: TimeZone, upper: boolean): number | undefined {
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (day) {
    const [y, m, d] = [Number(day[1]), Number(day[2]), Number(day[3])];
    const wall = Date.UTC(y, m - 1, d + (upper ? 1 : 0));
    return Number.isNaN(wall) || m < 1 || m > 12 || d < 1 || d > 31 ? undefined : zone.instantOf(wall);
  }
  return zonedInstant(text);
}
