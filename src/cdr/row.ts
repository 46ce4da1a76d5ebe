// One CSV row of the feed to one CDR value for `schemas/cdr-raw.avsc`, or the reason it is invalid.
// Pure: no I/O, no clock (the caller passes the ingest metadata).
import { costToBytes, isCostText } from './decimal.ts';
import { CONTRACT_COLUMNS, type ContractColumn, type HeaderMap, OPTIONAL_VALUE_COLUMNS } from './header.ts';
import { parseStartTime } from './start-time.ts';
import type { TimeZone } from './time-zone.ts';

/** The Avro value of a `cdr.raw` record (field names as in the schema). */
export interface RawCdr {
  id: number;
  account: string;
  billing_group: string;
  billing_period: string;
  start_time: number;
  start_time_text: string;
  from: string;
  to: string;
  seconds: number;
  type: string;
  sub_type: string;
  cost: Buffer;
  cost_text: string;
  description: string;
  extra: Record<string, string>;
  ingest: IngestMeta;
}

export interface IngestMeta {
  ingested_at: number;
  feed_host: string;
  line: number;
}

export interface RowProblem {
  field: string;
  reason: string;
}

export type RowResult =
  | { ok: true; cdr: RawCdr }
  | { ok: false; id: number | undefined; problem: RowProblem };

const DIGITS = /^\d{1,16}$/;
/** Columns whose value may not be empty (the id is checked on its own, first). */
const REQUIRED_VALUES = CONTRACT_COLUMNS.filter((c) => c !== 'id' && !OPTIONAL_VALUE_COLUMNS.has(c));
const PERIOD = /^\d{4}-(0[1-9]|1[0-2])$/;

/** The row's id when it is a valid contract id (1 to 2^53-1), else undefined. */
export function rowId(fields: readonly string[], header: HeaderMap): number | undefined {
  return parseId(fields[header.index.id]);
}

/** A contract id (1 to 2^53-1) from its text, else undefined. */
export function parseId(text: string | undefined): number | undefined {
  if (text === undefined || !DIGITS.test(text)) return undefined;
  const id = Number(text);
  return id >= 1 && Number.isSafeInteger(id) ? id : undefined;
}

export function convertRow(
  fields: readonly string[],
  header: HeaderMap,
  zone: TimeZone,
  ingest: IngestMeta,
): RowResult {
  const id = rowId(fields, header);
  const bad = (field: string, reason: string): RowResult => ({ ok: false, id, problem: { field, reason } });
  if (fields.length < header.width)
    return bad('(row)', `has ${fields.length} fields, the header has ${header.width}`);
  if (fields.length > header.width)
    return bad('(row)', `has ${fields.length} fields, the header has ${header.width}`);
  if (id === undefined) return bad('id', 'must be a whole number from 1 to 2^53-1');

  const { index } = header;
  const get = (c: ContractColumn): string => (index[c] === -1 ? '' : (fields[index[c]] as string));
  for (const c of REQUIRED_VALUES) {
    if (get(c) === '') return bad(c, 'is required and empty');
  }
  const period = get('billing_period');
  if (!PERIOD.test(period))
    return bad('billing_period', `must be YYYY-MM with a real month, got "${clip(period)}"`);
  const startText = get('start_time');
  const start = parseStartTime(startText, zone);
  if (start === undefined) {
    return bad(
      'start_time',
      `must be ISO 8601 with an offset or YYYY-MM-DD HH:MM:SS, got "${clip(startText)}"`,
    );
  }
  const secondsText = get('seconds');
  if (!DIGITS.test(secondsText) || !Number.isSafeInteger(Number(secondsText))) {
    return bad('seconds', `must be a whole number >= 0, got "${clip(secondsText)}"`);
  }
  const costText = get('cost');
  if (!isCostText(costText)) {
    return bad(
      'cost',
      `must be a decimal with at most 12 integer and 6 fraction digits, got "${clip(costText)}"`,
    );
  }
  const extra: Record<string, string> = {};
  for (const [name, i] of header.extra) extra[name] = fields[i] as string;
  return {
    ok: true,
    cdr: {
      id,
      account: get('account'),
      billing_group: get('billing_group'),
      billing_period: period,
      start_time: start,
      start_time_text: startText,
      from: get('from'),
      to: get('to'),
      seconds: Number(secondsText),
      type: get('type'),
      sub_type: get('sub_type'),
      cost: costToBytes(costText),
      cost_text: costText,
      description: get('description'),
      extra,
      ingest,
    },
  };
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}
