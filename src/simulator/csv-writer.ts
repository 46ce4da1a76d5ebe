// The simulator's CSV, in either layout the producer reads built in: the contract's columns, or
// the carrier's 17-column layout (shared/feed-contract.md, "Real feeds"). RFC 4180: a field is
// quoted when it holds the delimiter, a quote, a line break or edge spaces; quotes are doubled.
import type { PoisonRow } from './faults.ts';
import { SHORT_ROW_MARK, SIM_COLUMNS, type SimRow } from './generator.ts';

export type SimLayout = 'contract' | 'legacy17';

export const LEGACY17_COLUMNS = [
  'ID',
  'Billing Group',
  'Origin Number',
  'Destination Number',
  'Description',
  'Status',
  'Terminated',
  'Date',
  'Time',
  'Date/Time',
  'Call Length (seconds)',
  'Call Cost (NZD)',
  'Smartcode',
  'Smartcode Description',
  'Type',
  'SubType',
  'MP3',
] as const;

/** The 17-column layout's fields the contract has no column for, derived from the row. */
export interface Legacy17Extras {
  status: string;
  terminated: string;
  smartcode: string;
  smartcode_description: string;
  recording: string;
}

export function legacy17Extras(row: SimRow): Legacy17Extras {
  const id = Number(row.id);
  const answered = row.seconds !== '0';
  return {
    status: answered ? 'ANSWERED' : 'NO ANSWER',
    terminated: id % 5 === 0 ? 'Caller' : 'Callee',
    smartcode: `SC${row.type}${row.sub_type}`,
    smartcode_description: `${row.type}/${row.sub_type} rate`,
    recording: answered && id % 7 === 0 ? `recordings/${row.id}.mp3` : '',
  };
}

/** `2026-11-03T09:15:02+11:00` or `2026-11-03 09:15:02` -> [`03/11/2026`, `09:15:02`], the wall clock as sent. */
function dayFirst(startTime: string): [string, string] {
  const date = startTime.slice(0, 10);
  return [`${date.slice(8, 10)}/${date.slice(5, 7)}/${date.slice(0, 4)}`, startTime.slice(11, 19)];
}

export class CsvWriter {
  readonly layout: SimLayout;
  readonly delimiter: string;
  private readonly needsQuotes: RegExp;

  constructor(layout: SimLayout = 'contract', delimiter = ',') {
    this.layout = layout;
    this.delimiter = delimiter;
    this.needsQuotes = new RegExp(`["\\r\\n${delimiter === '\t' ? '\\t' : `\\${delimiter}`}]|^ | $`);
  }

  field(value: string): string {
    return this.needsQuotes.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
  }

  header(eol: string): string {
    return (this.layout === 'contract' ? SIM_COLUMNS : LEGACY17_COLUMNS).join(this.delimiter) + eol;
  }

  /** The row's values in this layout's column order; SHORT_ROW_MARK cuts a malformed row short. */
  values(row: SimRow): string[] {
    if (this.layout === 'contract') return SIM_COLUMNS.map((c) => row[c]);
    const x = legacy17Extras(row);
    const malformedStart = !/^\d{4}-\d{2}-\d{2}/.test(row.start_time);
    const [date, time] = malformedStart ? [row.start_time, ''] : dayFirst(row.start_time);
    return [
      row.id,
      row.billing_group,
      row.from,
      row.to,
      row.description,
      x.status,
      x.terminated,
      date,
      time,
      malformedStart ? row.start_time : `${date} ${time}`,
      row.seconds,
      row.cost,
      x.smartcode,
      x.smartcode_description,
      row.type,
      row.sub_type,
      x.recording,
    ];
  }

  row(row: SimRow, eol: string): string {
    let line = '';
    const values = this.values(row);
    for (let i = 0; i < values.length; i++) {
      const value = values[i] as string;
      // A malformed row "with fewer fields than the header" ends before the marked column.
      if (value === SHORT_ROW_MARK) break;
      line += i === 0 ? this.field(value) : `${this.delimiter}${this.field(value)}`;
    }
    return line + eol;
  }

  /** A windowed feed's pointer row: only an id, where data continues (17-column layout). */
  pointer(id: number, eol: string): string {
    return String(id) + this.delimiter.repeat(LEGACY17_COLUMNS.length - 1) + eol;
  }

  /** The start of a row's line that ends right after a whole field, or inside a quoted field. */
  cut(row: SimRow, inside: 'field' | 'quoted'): string {
    const fields = this.values(row).map((v) => this.field(v));
    if (inside === 'field') return fields.slice(0, 4).join(this.delimiter);
    // Everything before the description, then a quoted description cut after a line break in it.
    const d = this.descriptionIndex();
    return `${fields.slice(0, d).join(this.delimiter)}${this.delimiter}"Cut short\nafter a line bre`;
  }

  /** A poison row: an oversized description, or one that opens a quote and never closes it. */
  poison(row: SimRow, poison: PoisonRow, eol: string): string {
    const description =
      poison.kind === 'oversize' ? 'X'.repeat(poison.bytes ?? 2 * 1024 * 1024) : '"Unclosed quote, and more';
    const d = this.descriptionIndex();
    return (
      this.values(row)
        .map((v, i) => (i === d ? description : this.field(v)))
        .join(this.delimiter) + eol
    );
  }

  private descriptionIndex(): number {
    return this.layout === 'contract'
      ? SIM_COLUMNS.indexOf('description')
      : LEGACY17_COLUMNS.indexOf('Description');
  }
}

const contractWriter = new CsvWriter();

export function csvField(value: string): string {
  return contractWriter.field(value);
}

export function csvHeader(eol: string): string {
  return contractWriter.header(eol);
}

export function csvRow(row: SimRow, eol: string): string {
  return contractWriter.row(row, eol);
}
