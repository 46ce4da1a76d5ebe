// RFC 4180 output for the simulator: a field is quoted when it holds a comma, a quote, a line
// break or edge spaces, and quotes inside are doubled.
import type { PoisonRow } from './faults.ts';
import { SHORT_ROW_MARK, SIM_COLUMNS, type SimRow } from './generator.ts';

const NEEDS_QUOTES = /[",\r\n]|^ | $/;

export function csvField(value: string): string {
  return NEEDS_QUOTES.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

export function csvHeader(eol: string): string {
  return SIM_COLUMNS.join(',') + eol;
}

/** The start of a row's line that ends right after a whole field, or inside a quoted field. */
export function cutRow(row: SimRow, inside: 'field' | 'quoted'): string {
  const fields = SIM_COLUMNS.map((c) => csvField(row[c]));
  if (inside === 'field') return fields.slice(0, 4).join(',');
  // Everything up to the description, then a quoted description cut after a line break in it.
  return `${fields.slice(0, -1).join(',')},"Cut short\nafter a line bre`;
}

/** A poison row: an oversized description, or one that opens a quote and never closes it. */
export function poisonRow(row: SimRow, poison: PoisonRow, eol: string): string {
  const description =
    poison.kind === 'oversize' ? 'X'.repeat(poison.bytes ?? 2 * 1024 * 1024) : '"Unclosed quote, and more';
  const fields = SIM_COLUMNS.map((c) => (c === 'description' ? description : csvField(row[c])));
  return fields.join(',') + eol;
}

export function csvRow(row: SimRow, eol: string): string {
  let line = '';
  for (let i = 0; i < SIM_COLUMNS.length; i++) {
    const value = row[SIM_COLUMNS[i] as keyof SimRow];
    // A malformed row "with fewer fields than the header" ends before the marked column.
    if (value === SHORT_ROW_MARK) break;
    line += i === 0 ? csvField(value) : `,${csvField(value)}`;
  }
  return line + eol;
}
