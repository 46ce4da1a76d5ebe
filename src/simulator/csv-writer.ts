// RFC 4180 output for the simulator: a field is quoted when it holds a comma, a quote, a line
// break or edge spaces, and quotes inside are doubled.
import { SHORT_ROW_MARK, SIM_COLUMNS, type SimRow } from './generator.ts';

const NEEDS_QUOTES = /[",\r\n]|^ | $/;

export function csvField(value: string): string {
  return NEEDS_QUOTES.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

export function csvHeader(eol: string): string {
  return SIM_COLUMNS.join(',') + eol;
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
