// A reconciliation report for a person (table), a program (json), a spreadsheet (csv) or a
// ticket (markdown). Money is the exact decimal in every format. Pure.

import { neutralise, quote } from '../read/formats.ts';
import { renderTable } from '../read/table.ts';
import type { Difference, ReconcileReport } from './report.ts';
import { KEY_COLUMNS, type Totals, type TotalsKey, VALUE_COLUMNS, valueText } from './totals.ts';

export const REPORT_FORMATS = ['table', 'json', 'csv', 'markdown'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

const CSV_COLUMNS = [
  'section',
  'kind',
  ...KEY_COLUMNS,
  'line',
  'id',
  'to_id',
  'column',
  'kafka',
  'other',
  ...VALUE_COLUMNS,
  'detail',
] as const;
type CsvColumn = (typeof CSV_COLUMNS)[number];

function totalsCells(key: Partial<TotalsKey>, t: Totals): Partial<Record<CsvColumn, string>> {
  const cells: Partial<Record<CsvColumn, string>> = { ...key };
  for (const v of VALUE_COLUMNS) cells[v] = valueText(t, v);
  return cells;
}

function differenceCells(d: Difference): Partial<Record<CsvColumn, string>> {
  return {
    ...(d.key ?? {}),
    ...(d.account !== undefined ? { account: d.account } : {}),
    kind: d.kind,
    ...(d.line !== undefined ? { line: String(d.line) } : {}),
    ...(d.id !== undefined ? { id: String(d.id) } : {}),
    ...(d.toId !== undefined ? { to_id: String(d.toId) } : {}),
    ...(d.column !== undefined ? { column: d.column } : {}),
    ...(d.kafka !== undefined ? { kafka: d.kafka } : {}),
    ...(d.other !== undefined ? { other: d.other } : {}),
    ...(d.detail !== undefined ? { detail: d.detail } : {}),
  };
}

/** What a difference is about, in a few words. */
function subject(d: Difference): string {
  const parts: string[] = [];
  if (d.line !== undefined) parts.push(`line ${d.line}`);
  if (d.key)
    parts.push(
      KEY_COLUMNS.filter((c) => d.key?.[c] !== undefined)
        .map((c) => `${c}=${d.key?.[c]}`)
        .join(' '),
    );
  if (d.account !== undefined && !d.key) parts.push(d.account);
  if (d.id !== undefined)
    parts.push(d.toId !== undefined && d.toId !== d.id ? `ids ${d.id}-${d.toId}` : `id ${d.id}`);
  return parts.join(' ');
}

function what(d: Difference): string {
  const values = d.column !== undefined ? `${d.column}: kafka ${d.kafka ?? ''}, other ${d.other ?? ''}` : '';
  return [values, d.detail ?? ''].filter((x) => x !== '').join('; ');
}

function summary(r: ReconcileReport): string {
  const n = r.differences.length + r.unlisted;
  const accepted = r.accepted ? ` (${r.accepted.toLocaleString('en')} accepted difference(s) listed)` : '';
  return r.ok
    ? `OK: ${r.records.toLocaleString('en')} CDRs reconciled (${r.source}, against ${r.against}), ${r.accepted ? 'no other difference' : 'no difference'}${accepted}`
    : `DIFFERENT: ${n.toLocaleString('en')} difference(s) over ${r.records.toLocaleString('en')} CDRs (${r.source}, against ${r.against})${r.unlisted > 0 ? `, ${r.unlisted} not listed` : ''}`;
}

export function formatReport(r: ReconcileReport, format: ReportFormat): string {
  switch (format) {
    case 'json':
      return jsonReport(r);
    case 'csv':
      return csvReport(r);
    case 'markdown':
      return markdownReport(r);
    case 'table':
      return tableReport(r);
  }
}

function jsonReport(r: ReconcileReport): string {
  const totals = r.totals.map((t) => ({
    ...t.key,
    ...Object.fromEntries(VALUE_COLUMNS.map((v) => [v, valueText(t.totals, v)])),
  }));
  return `${JSON.stringify({ ...r, totals }, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`;
}

const DECIMAL = /^-?\d+(\.\d+)?$/;
/** Compared fields whose values are numbers (money, seconds, ids, counts). */
const NUMERIC_FIELDS: ReadonlySet<string> = new Set([
  'cost',
  'seconds',
  'count',
  'first_id',
  'last_id',
  'id',
]);

function csvReport(r: ReconcileReport): string {
  const rows: Array<Partial<Record<CsvColumn, string>>> = [
    ...r.totals.map((t) => ({ section: 'totals', ...totalsCells(t.key, t.totals) })),
    ...r.differences.map((d) => ({ section: 'difference', ...differenceCells(d) })),
    ...r.accounts.flatMap((a) =>
      // With the feed, each part of a gap says why; without it, a gap is ids cdr.raw lacks.
      a.gapParts
        ? a.gapParts.map((p) => ({
            section: 'gap',
            kind: p.reason,
            account: a.account,
            id: String(p.from),
            to_id: String(p.to),
            detail: p.detail,
          }))
        : a.gaps.map(([from, to]) => ({
            section: 'gap',
            account: a.account,
            id: String(from),
            to_id: String(to),
            detail: `${to - from + 1} id(s) not in cdr.raw (reconcile --feed says why)`,
          })),
    ),
  ];
  // A number in a numeric cell (a credit's cost is negative) is written as a number a spreadsheet
  // sums; the formula guard is for text.
  const text = (v: string | undefined, numeric: boolean) =>
    numeric && v !== undefined && DECIMAL.test(v) ? v : quote(neutralise(v ?? ''));
  const numericCell = (row: Partial<Record<CsvColumn, string>>, c: CsvColumn) =>
    (VALUE_COLUMNS as readonly string[]).includes(c) ||
    ((c === 'kafka' || c === 'other') && NUMERIC_FIELDS.has(row.column ?? ''));
  return [
    CSV_COLUMNS.join(','),
    ...rows.map((row) => CSV_COLUMNS.map((c) => text(row[c], numericCell(row, c))).join(',')),
  ]
    .map((l) => `${l}\r\n`)
    .join('');
}

function markdownTable(headers: string[], rows: Array<Array<string | number>>): string {
  const cell = (v: string | number) => String(v).replaceAll('|', '\\|').replaceAll('\n', ' ');
  return [
    `| ${headers.join(' | ')} |`,
    `| ${headers.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${row.map(cell).join(' | ')} |`),
  ].join('\n');
}

function markdownReport(r: ReconcileReport): string {
  const parts = [`## Reconciliation\n\n**${summary(r)}**`];
  if (r.differences.length > 0)
    parts.push(
      `### Differences\n\n${markdownTable(
        ['kind', 'about', 'what'],
        r.differences.map((d) => [d.kind, subject(d), what(d)]),
      )}`,
    );
  parts.push(
    `### Totals\n\n${markdownTable(
      [...KEY_COLUMNS, ...VALUE_COLUMNS],
      r.totals.map((t) => [
        ...KEY_COLUMNS.map((c) => t.key[c] ?? ''),
        ...VALUE_COLUMNS.map((v) => valueText(t.totals, v)),
      ]),
    )}`,
  );
  if (r.accounts.length > 0)
    parts.push(`### Continuity\n\n${markdownTable(CONTINUITY_HEADERS, continuityRows(r))}`);
  return `${parts.join('\n\n')}\n`;
}

const CONTINUITY_HEADERS = ['account', 'first id', 'last id', 'ids', 'gaps'];

function continuityRows(r: ReconcileReport): Array<Array<string | number>> {
  return r.accounts.map((a) => [
    a.account,
    a.firstId ?? '',
    a.lastId ?? '',
    a.ids,
    a.gapParts ? gapPartsText(a.gapParts) : gapsText(a.gaps),
  ]);
}

function tableReport(r: ReconcileReport): string {
  const parts = [
    renderTable(
      ['period', 'account', 'group', 'type', 'count', 'seconds', 'cost', 'first id', 'last id'],
      r.totals.map((t) => [
        t.key.billing_period ?? '',
        t.key.account ?? '',
        t.key.billing_group ?? '',
        `${t.key.type ?? ''}/${t.key.sub_type ?? ''}`,
        t.totals.count,
        t.totals.seconds,
        valueText(t.totals, 'cost'),
        valueText(t.totals, 'first_id'),
        valueText(t.totals, 'last_id'),
      ]),
    ),
  ];
  if (r.accounts.length > 0) parts.push(renderTable(CONTINUITY_HEADERS, continuityRows(r)));
  if (r.differences.length > 0)
    parts.push(
      renderTable(
        ['difference', 'about', 'what'],
        r.differences.map((d) => [d.kind, subject(d), what(d)]),
      ),
    );
  parts.push(summary(r));
  return `${parts.join('\n\n')}\n`;
}

const range = (a: number, b: number) => (a === b ? String(a) : `${a}-${b}`);

/** Gaps with why, e.g. `3: 4-9 skipped_by_feed, 12 dead_lettered, 13 not_in_feed`. */
function gapPartsText(parts: NonNullable<ReconcileReport['accounts'][number]['gapParts']>): string {
  if (parts.length === 0) return 'none';
  const shown = parts.slice(0, 5).map((p) => `${range(p.from, p.to)} ${p.reason}`);
  return `${parts.length}: ${shown.join(', ')}${parts.length > 5 ? ', ...' : ''}`;
}

function gapsText(gaps: Array<[number, number]>): string {
  if (gaps.length === 0) return 'none';
  const shown = gaps.slice(0, 5).map(([a, b]) => range(a, b));
  return `${gaps.length}: ${shown.join(', ')}${gaps.length > 5 ? ', ...' : ''}`;
}
