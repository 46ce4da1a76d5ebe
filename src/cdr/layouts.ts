// Feed layouts as data: which header name holds each field of a CDR, how dates, times and money
// are written, and what marks a pointer row. The contract layout and the carrier's 17-column
// layout (shared/feed-contract.md, "Real feeds") are two such maps; any other layout is one more,
// read from a column map file (config/layouts.ts), with no code. The header line picks the layout.
import { CdrError, ErrorCodes } from '../errors.ts';

export const FIELDS = [
  'id',
  'account',
  'billing_group',
  'billing_period',
  'start_time',
  'date',
  'time',
  'date_time',
  'from',
  'to',
  'seconds',
  'type',
  'sub_type',
  'cost',
  'description',
  'status',
  'terminated',
  'smartcode',
  'smartcode_description',
  'recording',
] as const;
export type Field = (typeof FIELDS)[number];

export interface DateTimeForms {
  /** e.g. `DD/MM/YYYY`: YYYY, MM, DD and literal separators. ISO `YYYY-MM-DD` is always read too. */
  date: string;
  /** e.g. `HH:MM:SS` (MM is minutes here). ISO `HH:MM:SS` is always read too. */
  time: string;
  /** A date form, one space, a time form. ISO 8601 (with or without an offset) is always read too. */
  dateTime: string;
}

export interface Layout {
  name: string;
  /**
   * Header name of each field it has, matched case-insensitively with spaces trimmed. In a name,
   * `{currency}` stands for a three-letter currency code, which the header then supplies
   * (`Call Cost ({currency})` matches `Call Cost (NZD)`).
   */
  columns: Partial<Record<Field, string>>;
  /**
   * Fields the header must have and every row must fill; `start` means a call start of some form
   * (start_time, date_time, or date). Without `account`, the account is the feed login; without
   * `billing_period`, it is derived from the start.
   */
  required: ReadonlyArray<Field | 'start'>;
  /** A row with an id and all of these empty is a pointer: data continues at its id. */
  pointerWhenEmpty?: readonly Field[];
  forms: DateTimeForms;
  decimalSeparator: '.' | ',';
  /** Currency of `cost` when the header does not name one. */
  currency?: string;
}

export const DEFAULT_FORMS: DateTimeForms = {
  date: 'DD/MM/YYYY',
  time: 'HH:MM:SS',
  dateTime: 'DD/MM/YYYY HH:MM:SS',
};

/** The contract's column names, in the contract's order: each is the field of the same name. */
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
] as const satisfies readonly Field[];
export type ContractColumn = (typeof CONTRACT_COLUMNS)[number];

/** The feed contract's own columns (shared/feed-contract.md, "Columns"). */
export const CONTRACT_LAYOUT: Layout = {
  name: 'contract',
  columns: Object.fromEntries(CONTRACT_COLUMNS.map((c) => [c, c])),
  required: ['id', 'account', 'billing_period', 'start', 'from', 'to', 'seconds', 'type', 'sub_type', 'cost'],
  forms: DEFAULT_FORMS,
  decimalSeparator: '.',
};

/** The layout real accounts of the carrier family receive (shared/feed-contract.md, "Real feeds"). */
export const LEGACY17_LAYOUT: Layout = {
  name: 'legacy17',
  columns: {
    id: 'ID',
    billing_group: 'Billing Group',
    from: 'Origin Number',
    to: 'Destination Number',
    description: 'Description',
    status: 'Status',
    terminated: 'Terminated',
    date: 'Date',
    time: 'Time',
    date_time: 'Date/Time',
    seconds: 'Call Length (seconds)',
    cost: 'Call Cost ({currency})',
    smartcode: 'Smartcode',
    smartcode_description: 'Smartcode Description',
    type: 'Type',
    sub_type: 'SubType',
    recording: 'MP3',
  },
  required: ['id', 'start', 'from', 'to', 'seconds', 'type', 'sub_type', 'cost'],
  pointerWhenEmpty: ['from', 'to'],
  forms: DEFAULT_FORMS,
  decimalSeparator: '.',
};

/** Where each field is in a row read with a given layout. */
export interface HeaderMap {
  layout: Layout;
  /** Index of each field in a row; -1 when the header does not have it. */
  index: Record<Field, number>;
  /** Header text of each field the header has, as sent (trimmed). */
  names: Partial<Record<Field, string>>;
  /** Columns the layout does not name: [name as sent, index], carried in `extra`. */
  extra: Array<[string, number]>;
  width: number;
  /** From the header (`Call Cost (NZD)`), else the layout's or the configured currency; undefined when none says. */
  currency: string | undefined;
}

const norm = (s: string) => s.trim().toLowerCase();
const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A matcher for one layout column name: exact, or with `{currency}` captured. */
function columnMatcher(name: string): (header: string) => { currency?: string } | undefined {
  const n = norm(name);
  if (!n.includes('{currency}')) return (h) => (h === n ? {} : undefined);
  const re = new RegExp(`^${n.split('{currency}').map(escapeRegExp).join('([a-z]{3})')}$`);
  return (h) => {
    const m = re.exec(h);
    return m ? { currency: (m[1] as string).toUpperCase() } : undefined;
  };
}

/** The field a header name stands for in `layout` (matched as a header is), else undefined. */
export function fieldNamed(layout: Layout, headerName: string): Field | undefined {
  const h = norm(headerName);
  for (const [field, name] of Object.entries(layout.columns) as Array<[Field, string]>)
    if (columnMatcher(name)(h) !== undefined) return field;
  return undefined;
}

/** Reads the header with one layout; lists what is missing instead when it does not fit. */
export function mapHeader(
  fields: readonly string[],
  layout: Layout,
  fallbackCurrency?: string,
): { ok: true; map: HeaderMap } | { ok: false; missing: string[] } {
  const index = Object.fromEntries(FIELDS.map((f) => [f, -1])) as Record<Field, number>;
  const matchers = (Object.entries(layout.columns) as Array<[Field, string]>).map(
    ([field, name]) => [field, columnMatcher(name)] as const,
  );
  const extra: Array<[string, number]> = [];
  const names: Partial<Record<Field, string>> = {};
  let currency: string | undefined;
  fields.forEach((raw, i) => {
    const h = norm(raw);
    for (const [field, match] of matchers) {
      const m = match(h);
      if (m === undefined) continue;
      if (index[field] !== -1) {
        throw new CdrError(ErrorCodes.FEED_HEADER, `the header names column "${raw.trim()}" twice`);
      }
      index[field] = i;
      names[field] = raw.trim();
      if (m.currency) currency = m.currency;
      return;
    }
    extra.push([raw.trim(), i]);
  });
  const missing: string[] = [];
  for (const f of layout.required) {
    if (f === 'start') {
      if (index.start_time === -1 && index.date_time === -1 && index.date === -1) {
        missing.push(
          [layout.columns.start_time, layout.columns.date_time, layout.columns.date]
            .filter(Boolean)
            .join(' or ') || 'a call start column',
        );
      }
    } else if (index[f] === -1) missing.push(layout.columns[f] ?? f);
  }
  if (missing.length > 0) return { ok: false, missing };
  return {
    ok: true,
    map: {
      layout,
      index,
      names,
      extra,
      width: fields.length,
      currency: currency ?? layout.currency ?? fallbackCurrency,
    },
  };
}

/**
 * The header map of the first layout the header fits, in order. When none fits, the error names
 * what the closest layout misses and the header it got.
 */
export function pickLayout(
  fields: readonly string[],
  layouts: readonly Layout[],
  fallbackCurrency?: string,
): HeaderMap {
  let closest: { layout: Layout; missing: string[] } | undefined;
  for (const layout of layouts) {
    const r = mapHeader(fields, layout, fallbackCurrency);
    if (r.ok) return r.map;
    if (!closest || r.missing.length < closest.missing.length) closest = { layout, missing: r.missing };
  }
  const got = fields.map((f) => f.trim()).join(',');
  const clipped = got.length > 300 ? `${got.slice(0, 300)}...` : got;
  throw new CdrError(
    ErrorCodes.FEED_HEADER,
    `the feed's header fits no layout (${layouts.map((l) => l.name).join(', ')}): closest is ${closest?.layout.name}, which needs ${closest?.missing.join(', ')}; got "${clipped}"`,
    {
      details: {
        layouts: layouts.map((l) => l.name),
        closest: closest?.layout.name,
        missing: closest?.missing,
        header: clipped,
      },
    },
  );
}
