// A totals file: CSV with a header, one line per key (the carrier's invoice summary, or a billing
// system's own totals). Key columns are any subset of billing_period, account, billing_group, type
// and sub_type; value columns any of count, seconds, cost, first_id and last_id. Headers are read
// case-insensitively, spaces as underscores, with the usual short names (period, group, subtype).
import { readFileSync } from 'node:fs';
import { CdrError, ErrorCodes } from '../../errors.ts';
import { CsvReader } from '../../feed/csv-records.ts';
import {
  emptyTotals,
  KEY_COLUMNS,
  type KeyColumn,
  parseCost,
  type Totals,
  type TotalsKey,
  TotalsTable,
  VALUE_COLUMNS,
  type ValueColumn,
} from './totals.ts';

const ALIASES: Record<string, KeyColumn | ValueColumn> = {
  period: 'billing_period',
  group: 'billing_group',
  subtype: 'sub_type',
  records: 'count',
  cdrs: 'count',
  calls: 'count',
};

export interface TotalsFile {
  table: TotalsTable;
  values: ValueColumn[];
  /** Key (joined like TotalsTable's) -> line of the file. */
  lines: Map<string, number>;
}

function bad(file: string, message: string): never {
  throw new CdrError(ErrorCodes.CONFIG_INVALID, `invalid option: --totals-file: ${file}: ${message}`);
}

export function readTotalsFile(path: string): TotalsFile {
  const records = csvRecords(path);
  const header = records.shift();
  if (!header) bad(path, 'is empty: a header line is needed');
  const columns = header.fields.map((h) => column(path, h));
  if (new Set(columns).size !== columns.length) bad(path, 'a column is named twice');
  const keys = KEY_COLUMNS.filter((k) => columns.includes(k));
  const values = VALUE_COLUMNS.filter((v) => columns.includes(v));
  if (values.length === 0) bad(path, `no value column (${VALUE_COLUMNS.join(', ')})`);
  const table = new TotalsTable(keys);
  const lines = new Map<string, number>();
  for (const { fields, line } of records) {
    if (fields.length === 1 && fields[0] === '') continue;
    if (fields.length !== columns.length)
      bad(path, `line ${line}: ${fields.length} fields where the header has ${columns.length}`);
    const { key, totals } = totalsLine(path, line, columns, fields);
    const joined = keys.map((k) => key[k] ?? '').join('\u0000');
    const before = lines.get(joined);
    if (before !== undefined) bad(path, `lines ${before} and ${line} have the same key`);
    lines.set(joined, line);
    table.add(key, totals);
  }
  return { table, values, lines };
}

/** The file's CSV records, each with its line; a record that cannot be read names its line. */
function csvRecords(path: string): Array<{ fields: string[]; line: number }> {
  let text: Buffer;
  try {
    text = readFileSync(path);
  } catch (err) {
    bad(path, (err as Error).message);
  }
  const reader = new CsvReader({ delimiter: ',', maxRecordChars: 1_000_000, rawClipChars: 200 });
  const records: Array<{ fields: string[]; line: number }> = [];
  for (const ev of [...reader.push(text), ...reader.end(() => true)]) {
    if (ev.kind === 'broken') bad(path, `line ${ev.line}: ${ev.reason}`);
    if (ev.kind === 'tail') bad(path, `line ${ev.line}: cannot be read`);
    if (ev.kind === 'record') records.push({ fields: ev.fields, line: ev.line });
  }
  return records;
}

/** A header cell as a key or value column (its aliases and spellings taken). */
function column(path: string, h: string): KeyColumn | ValueColumn {
  const name = h
    .trim()
    .replace(/^\uFEFF/, '')
    .toLowerCase()
    .replace(/[\s-]+/g, '_');
  const c = ALIASES[name] ?? name;
  if (!(KEY_COLUMNS as readonly string[]).includes(c) && !(VALUE_COLUMNS as readonly string[]).includes(c))
    bad(path, `column "${h}" is not one of ${[...KEY_COLUMNS, ...VALUE_COLUMNS].join(', ')}`);
  return c as KeyColumn | ValueColumn;
}

/** One line's key and totals; a value that is not a number names its line and column. */
function totalsLine(
  path: string,
  line: number,
  columns: ReadonlyArray<KeyColumn | ValueColumn>,
  fields: readonly string[],
): { key: Partial<TotalsKey>; totals: Totals } {
  const key: Partial<TotalsKey> = {};
  const totals: Totals = emptyTotals();
  columns.forEach((c, i) => {
    const v = (fields[i] as string).trim();
    if ((KEY_COLUMNS as readonly string[]).includes(c)) {
      key[c as KeyColumn] = fields[i] as string;
      return;
    }
    if (c === 'cost') {
      totals.cost =
        parseCost(v) ??
        bad(path, `line ${line}: cost "${v}" is not a decimal with at most 6 fraction digits`);
      return;
    }
    if (!/^-?\d{1,16}$/.test(v) || !Number.isSafeInteger(Number(v)))
      bad(path, `line ${line}: ${c} "${v}" is not a whole number`);
    const n = Number(v);
    if (c === 'count') totals.count = n;
    else if (c === 'seconds') totals.seconds = n;
    else if (c === 'first_id') totals.firstId = n;
    else totals.lastId = n;
  });
  return { key, totals };
}
