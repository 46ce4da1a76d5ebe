// Export formats of CDRs. CSV: RFC 4180 in the contract's column order, then the normalised and
// 17-column fields, then `extra` as one JSON object; money exactly as sent (`cost`) beside the
// exact decimal (`cost_decimal`), times as sent beside the UTC instant. Text a spreadsheet would
// run as a formula (=, +, -, @, tab, CR first) gets a leading apostrophe, in CSV only.
// JSON Lines: every field, money as a decimal string, the id as a number (ids stay below 2^53).
import { bytesToDecimalString } from '../cdr/decimal.ts';
import { CONTRACT_COLUMNS } from '../cdr/layouts.ts';
import type { RawCdr } from '../cdr/row.ts';

const NUMERIC = new Set(['id', 'seconds', 'cost', 'cost_decimal']);

export const CSV_COLUMNS = [
  // The contract's columns, in its order, then the normalised and 17-column fields.
  ...CONTRACT_COLUMNS,
  'start_time_utc',
  'cost_decimal',
  'billing_period_derived',
  'currency',
  'layout',
  'date_text',
  'time_text',
  'status',
  'terminated',
  'smartcode',
  'smartcode_description',
  'recording',
  'extra',
] as const;
type Column = (typeof CSV_COLUMNS)[number];

const FORMULA = /^[=+\-@\t\r]/;

/** A spreadsheet would evaluate this cell: keep it text. */
export function neutralise(text: string): string {
  return FORMULA.test(text) ? `'${text}` : text;
}

/** An RFC 4180 cell. */
export function quote(text: string): string {
  return /[",\r\n]|^ | $/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function values(c: RawCdr): Record<Column, string> {
  return {
    id: String(c.id),
    account: c.account,
    billing_group: c.billing_group,
    billing_period: c.billing_period,
    start_time: c.start_time_text,
    from: c.from,
    to: c.to,
    seconds: String(c.seconds),
    type: c.type,
    sub_type: c.sub_type,
    cost: c.cost_text,
    description: c.description,
    start_time_utc: new Date(c.start_time).toISOString(),
    cost_decimal: bytesToDecimalString(c.cost),
    billing_period_derived: String(c.billing_period_derived ?? false),
    currency: c.currency ?? '',
    layout: c.layout ?? '',
    date_text: c.date_text ?? '',
    time_text: c.time_text ?? '',
    status: c.status ?? '',
    terminated: c.terminated ?? '',
    smartcode: c.smartcode ?? '',
    smartcode_description: c.smartcode_description ?? '',
    recording: c.recording ?? '',
    extra: Object.keys(c.extra).length === 0 ? '' : JSON.stringify(c.extra),
  };
}

export function csvHeaderLine(): string {
  return `${CSV_COLUMNS.join(',')}\r\n`;
}

export function csvLine(c: RawCdr): string {
  const v = values(c);
  return `${CSV_COLUMNS.map((k) => quote(NUMERIC.has(k) ? v[k] : neutralise(v[k]))).join(',')}\r\n`;
}

export function jsonLine(c: RawCdr): string {
  const { cost, ingest, ...rest } = c;
  return `${JSON.stringify({
    ...rest,
    cost: bytesToDecimalString(cost),
    start_time: new Date(c.start_time).toISOString(),
    ingest: { ...ingest, ingested_at: new Date(ingest.ingested_at).toISOString() },
  })}\n`;
}
