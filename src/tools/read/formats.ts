// Export formats of CDRs. CSV: RFC 4180 in the contract's column order, then the normalised and
// 17-column fields, then `extra` as one JSON object; money exactly as sent (`cost`) beside the
// exact decimal (`cost_decimal`), times as sent beside the UTC instant. Text a spreadsheet would
// run as a formula (=, +, -, @, tab, CR first) gets a leading apostrophe, in CSV only.
// JSON Lines: every field, money as a decimal string, the id as a number (ids stay below 2^53).
import { bytesToDecimalString } from '../../cdr/decimal.ts';
import { CONTRACT_COLUMNS } from '../../cdr/layouts.ts';
import type { RawCdr } from '../../cdr/row.ts';

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

const FORMULA = /^[=+\-@\t\r]/;

/** A spreadsheet would evaluate this cell: keep it text. */
export function neutralise(text: string): string {
  return FORMULA.test(text) ? `'${text}` : text;
}

/** An RFC 4180 cell. */
export function quote(text: string): string {
  return /[",\r\n]|^ | $/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** A text cell: neutralised when a spreadsheet would run it, quoted when RFC 4180 needs it. */
function textCell(v: string): string {
  const n = v.length;
  if (n === 0) return v;
  const first = v.charCodeAt(0);
  // = + - @ tab CR
  const formula = first === 61 || first === 43 || first === 45 || first === 64 || first === 9 || first === 13;
  let quote = first === 32 || v.charCodeAt(n - 1) === 32;
  let quotes = false;
  for (let i = 0; i < n && !quotes; i++) {
    const ch = v.charCodeAt(i);
    if (ch === 34) quotes = quote = true;
    else if (ch === 44 || ch === 10 || ch === 13) quote = true;
  }
  const text = formula ? `'${v}` : v;
  if (!quote) return text;
  return `"${quotes ? text.replaceAll('"', '""') : text}"`;
}

function hasKeys(o: Record<string, string>): boolean {
  for (const _ in o) return true;
  return false;
}

const opt = (v: string | null | undefined) => (v === null || v === undefined ? '' : textCell(v));

export function csvHeaderLine(): string {
  return `${CSV_COLUMNS.join(',')}\r\n`;
}

/** One CDR as a CSV record, in CSV_COLUMNS order (built by hand: this runs once per exported CDR). */
export function csvLine(c: RawCdr): string {
  return (
    `${c.id},${textCell(c.account)},${textCell(c.billing_group)},${textCell(c.billing_period)},` +
    `${textCell(c.start_time_text)},${textCell(c.from)},${textCell(c.to)},${c.seconds},` +
    `${textCell(c.type)},${textCell(c.sub_type)},${quote(c.cost_text)},${textCell(c.description)},` +
    `${new Date(c.start_time).toISOString()},${bytesToDecimalString(c.cost)},${c.billing_period_derived ?? false},` +
    `${opt(c.currency)},${opt(c.layout)},${opt(c.date_text)},${opt(c.time_text)},${opt(c.status)},` +
    `${opt(c.terminated)},${opt(c.smartcode)},${opt(c.smartcode_description)},${opt(c.recording)},` +
    `${hasKeys(c.extra) ? textCell(JSON.stringify(c.extra)) : ''}\r\n`
  );
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
