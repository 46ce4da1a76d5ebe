// The feed's header line: names matched case-insensitively with surrounding spaces trimmed, in any
// order; columns the contract does not name are kept (by their header text) and carried.
import { CdrError, ErrorCodes } from '../errors.ts';

export const CONTRACT_COLUMNS = [
  'id',
  'account',
  'billing_group',
  'billing_period',
  'start_time',
  'from',
  'to',
  'seconds',
  'type',
  'sub_type',
  'cost',
  'description',
] as const;
export type ContractColumn = (typeof CONTRACT_COLUMNS)[number];

/** Every column but these two is required in the header and in each row. */
export const OPTIONAL_VALUE_COLUMNS: ReadonlySet<ContractColumn> = new Set(['billing_group', 'description']);

export interface HeaderMap {
  /** Index of each contract column in a row. `billing_group` and `description` may be absent (-1). */
  index: Record<ContractColumn, number>;
  /** Columns outside the contract: [name as sent, index]. */
  extra: Array<[string, number]>;
  width: number;
}

export function readHeader(fields: readonly string[]): HeaderMap {
  const index = Object.fromEntries(CONTRACT_COLUMNS.map((c) => [c, -1])) as Record<ContractColumn, number>;
  const extra: Array<[string, number]> = [];
  fields.forEach((raw, i) => {
    const name = raw.trim().toLowerCase();
    if ((CONTRACT_COLUMNS as readonly string[]).includes(name)) {
      if (index[name as ContractColumn] !== -1) {
        throw new CdrError(ErrorCodes.FEED_HEADER, `the header names column "${name}" twice`);
      }
      index[name as ContractColumn] = i;
    } else {
      extra.push([raw.trim(), i]);
    }
  });
  const missing = CONTRACT_COLUMNS.filter((c) => index[c] === -1 && !OPTIONAL_VALUE_COLUMNS.has(c));
  if (missing.length > 0) {
    throw new CdrError(ErrorCodes.FEED_HEADER, `the header lacks required columns: ${missing.join(', ')}`, {
      details: { missing },
    });
  }
  return { index, extra, width: fields.length };
}

/** True when a first line looks like the feed's header at all (not an HTML page or a text error). */
export function looksLikeHeader(fields: readonly string[]): boolean {
  const names = new Set(fields.map((f) => f.trim().toLowerCase()));
  return names.has('id') && names.has('cost') && names.has('start_time');
}
