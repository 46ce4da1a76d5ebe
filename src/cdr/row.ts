// One CSV row of the feed to one CDR value for `schemas/cdr-raw.avsc`, or the reason it is invalid,
// in whichever layout the header picked. Pure: no I/O, no clock (the caller passes the ingest
// metadata). Every value is kept as sent beside its normalised form.
import { costToBytes, isCostText } from './decimal.ts';
import type { Field, HeaderMap } from './layouts.ts';
import { DateTimeReader } from './local-time.ts';
import type { TimeZone } from './time-zone.ts';

/** The Avro value of a `cdr.raw` record (field names as in the schema). */
const DAY_MS = 86_400_000;

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
  layout: string | null;
  billing_period_derived: boolean;
  currency: string | null;
  date_text: string | null;
  time_text: string | null;
  status: string | null;
  terminated: string | null;
  smartcode: string | null;
  smartcode_description: string | null;
  recording: string | null;
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
const PERIOD = /^\d{4}-(0[1-9]|1[0-2])$/;

/** A contract id (1 to 2^53-1) from its text, else undefined. */
export function parseId(text: string | undefined): number | undefined {
  if (text === undefined || !DIGITS.test(text)) return undefined;
  const id = Number(text);
  return id >= 1 && Number.isSafeInteger(id) ? id : undefined;
}

/** The row's id when it is a valid contract id (1 to 2^53-1), else undefined. */
export function rowId(fields: readonly string[], header: HeaderMap): number | undefined {
  return parseId(fields[header.index.id]);
}

export interface RowContext {
  zone: TimeZone;
  /** The feed login: the account of layouts without an account column. */
  login: string;
}

/** Reads the rows of one response: built once per header, then called per row. */
export class RowReader {
  private readonly header: HeaderMap;
  private readonly ctx: RowContext;
  private readonly dates: DateTimeReader;
  /** The combined form is the date form, a space and the time form. */
  private readonly formsAgree: boolean;
  private readonly required: Field[];
  private readonly optional: Array<[Field, keyof RawCdr]>;
  /** The local day (days since the epoch) and month of the last billing period derived. */
  private lastDay = Number.NaN;
  private lastMonth = '';

  constructor(header: HeaderMap, ctx: RowContext) {
    this.header = header;
    this.ctx = ctx;
    this.dates = new DateTimeReader(header.layout.forms);
    const { forms } = header.layout;
    this.formsAgree = forms.dateTime === `${forms.date} ${forms.time}`;
    this.required = header.layout.required.filter((f): f is Field => f !== 'start' && f !== 'id');
    const typed: Array<[Field, keyof RawCdr]> = [
      ['status', 'status'],
      ['terminated', 'terminated'],
      ['smartcode', 'smartcode'],
      ['smartcode_description', 'smartcode_description'],
      ['recording', 'recording'],
    ];
    this.optional = typed.filter(([f]) => header.index[f] !== -1);
  }

  id(fields: readonly string[]): number | undefined {
    return rowId(fields, this.header);
  }

  /** The id column is there and empty: in the 17-column layout, a first row like that means an empty response. */
  idIsEmpty(fields: readonly string[]): boolean {
    return (fields[this.header.index.id] ?? '').trim() === '';
  }

  /** A pointer row: an id, and every one of the layout's pointer fields empty. It is not a CDR. */
  isPointer(fields: readonly string[]): boolean {
    const when = this.header.layout.pointerWhenEmpty;
    if (!when || when.length === 0 || this.id(fields) === undefined) return false;
    return when.every((f) => (fields[this.header.index[f]] ?? '').trim() === '');
  }

  convert(fields: readonly string[], ingest: IngestMeta): RowResult {
    const { header } = this;
    const id = this.id(fields);
    if (fields.length !== header.width)
      return invalid(id, '(row)', `has ${fields.length} fields, the header has ${header.width}`);
    if (id === undefined) return invalid(id, this.name('id'), 'must be a whole number from 1 to 2^53-1');
    const { index } = header;
    for (const f of this.required) {
      if (fieldOf(fields, index, f) === '') return invalid(id, this.name(f), 'is required and empty');
    }
    const start = this.start(fields);
    if (!start.ok) return invalid(id, start.field, start.reason);

    let billingPeriod = fieldOf(fields, index, 'billing_period');
    let derived = false;
    if (index.billing_period === -1) {
      billingPeriod = this.monthOf(start.instant);
      derived = true;
    } else if (!PERIOD.test(billingPeriod)) {
      return invalid(
        id,
        this.name('billing_period'),
        `must be YYYY-MM with a real month, got "${clip(billingPeriod)}"`,
      );
    }
    const secondsText = fieldOf(fields, index, 'seconds');
    if (!DIGITS.test(secondsText) || !Number.isSafeInteger(Number(secondsText))) {
      return invalid(id, this.name('seconds'), `must be a whole number >= 0, got "${clip(secondsText)}"`);
    }
    const costText = fieldOf(fields, index, 'cost');
    const costDecimal = header.layout.decimalSeparator === ',' ? costText.replace(',', '.') : costText;
    if (!isCostText(costDecimal)) {
      return invalid(
        id,
        this.name('cost'),
        `must be a decimal with at most 12 integer and 6 fraction digits (separator "${header.layout.decimalSeparator}", no currency sign), got "${clip(costText)}"`,
      );
    }
    return {
      ok: true,
      cdr: this.record(fields, ingest, {
        id,
        billingPeriod,
        derived,
        start,
        secondsText,
        costText,
        costDecimal,
      }),
    };
  }

  /** The CDR of a row whose values were checked. */
  private record(
    fields: readonly string[],
    ingest: IngestMeta,
    checked: {
      id: number;
      billingPeriod: string;
      derived: boolean;
      start: { instant: number; text: string };
      secondsText: string;
      costText: string;
      costDecimal: string;
    },
  ): RawCdr {
    const { header } = this;
    const { index } = header;
    const { id, billingPeriod, derived, start, secondsText, costText, costDecimal } = checked;
    const extra: Record<string, string> = {};
    for (const [name, i] of header.extra) extra[name] = fields[i] as string;
    const cdr: RawCdr = {
      id,
      account: index.account === -1 ? this.ctx.login : fieldOf(fields, index, 'account'),
      billing_group: fieldOf(fields, index, 'billing_group'),
      billing_period: billingPeriod,
      start_time: start.instant,
      start_time_text: start.text,
      from: fieldOf(fields, index, 'from'),
      to: fieldOf(fields, index, 'to'),
      seconds: Number(secondsText),
      type: fieldOf(fields, index, 'type'),
      sub_type: fieldOf(fields, index, 'sub_type'),
      cost: costToBytes(costDecimal),
      cost_text: costText,
      description: fieldOf(fields, index, 'description'),
      extra,
      ingest,
      layout: header.layout.name,
      billing_period_derived: derived,
      currency: header.currency ?? null,
      date_text: index.date === -1 ? null : fieldOf(fields, index, 'date'),
      time_text: index.time === -1 ? null : fieldOf(fields, index, 'time'),
      status: null,
      terminated: null,
      smartcode: null,
      smartcode_description: null,
      recording: null,
    };
    for (const [f, key] of this.optional)
      (cdr as unknown as Record<string, string>)[key] = fieldOf(fields, index, f);
    return cdr;
  }

  /**
   * The call start, from start_time (the contract's forms), or Date/Time, or Date and Time; when
   * Date/Time and Date (+ Time) are both sent they must name the same instant.
   */
  private start(
    fields: readonly string[],
  ): { ok: true; instant: number; text: string } | { ok: false; field: string; reason: string } {
    const { index } = this.header;
    const { zone } = this.ctx;
    if (index.start_time !== -1) {
      const text = fieldOf(fields, index, 'start_time');
      const r = this.dates.readDateTime(text, zone);
      if (!r.ok)
        return {
          ok: false,
          field: this.name('start_time'),
          reason: `must be ISO 8601 with an offset or YYYY-MM-DD HH:MM:SS, got "${clip(text)}"`,
        };
      return { ok: true, instant: r.value, text };
    }
    return this.legacyStart(fields);
  }

  /** The call start from Date/Time, or Date and Time (the 17-column layout and column maps). */
  private legacyStart(
    fields: readonly string[],
  ): { ok: true; instant: number; text: string } | { ok: false; field: string; reason: string } {
    const { index } = this.header;
    const { zone } = this.ctx;
    const forms = this.dates.forms;
    const dateTimeText = index.date_time === -1 ? '' : fieldOf(fields, index, 'date_time');
    const dateText = index.date === -1 ? '' : fieldOf(fields, index, 'date');
    const timeText = index.time === -1 ? '' : fieldOf(fields, index, 'time');
    let fromDateTime: number | undefined;
    if (dateTimeText !== '') {
      const r = this.dates.readDateTime(dateTimeText, zone);
      if (!r.ok)
        return {
          ok: false,
          field: this.name('date_time'),
          reason: this.dateReason(dateTimeText, r.why, forms.dateTime),
        };
      fromDateTime = r.value;
    }
    let fromParts: number | undefined;
    // The usual 17-column row sends Date/Time as Date, a space and Time: the same text read with
    // the same forms names the same instant, so it is not read twice.
    const sameText =
      fromDateTime !== undefined && this.formsAgree && isDateAndTime(dateTimeText, dateText, timeText);
    if (dateText !== '' && !sameText) {
      const d = this.dates.readDate(dateText);
      if (!d.ok)
        return { ok: false, field: this.name('date'), reason: this.dateReason(dateText, d.why, forms.date) };
      const t = this.dates.readTime(timeText === '' ? '00:00:00' : timeText);
      if (!t.ok)
        return { ok: false, field: this.name('time'), reason: this.dateReason(timeText, t.why, forms.time) };
      fromParts = this.dates.instant(d.value, t.value, zone);
      if (fromDateTime !== undefined) {
        // Without a Time, only the day has to agree.
        const same =
          timeText === ''
            ? this.monthDay(fromDateTime) === this.monthDay(fromParts)
            : fromDateTime === fromParts;
        if (!same) {
          return {
            ok: false,
            field: this.name('date_time'),
            reason: `"${clip(dateTimeText)}" and ${this.name('date')} "${clip(dateText)}"${timeText === '' ? '' : ` ${this.name('time')} "${clip(timeText)}"`} name different instants`,
          };
        }
      }
    }
    if (fromDateTime !== undefined) return { ok: true, instant: fromDateTime, text: dateTimeText };
    if (fromParts !== undefined)
      return { ok: true, instant: fromParts, text: timeText === '' ? dateText : `${dateText} ${timeText}` };
    return {
      ok: false,
      field: this.name(index.date_time !== -1 ? 'date_time' : 'date'),
      reason: 'is required and empty',
    };
  }

  private dateReason(text: string, why: 'form' | 'not-real', form: string): string {
    return why === 'not-real'
      ? `"${clip(text)}" is not a real date or time`
      : `"${clip(text)}" is not in the form ${form} (nor ISO 8601)`;
  }

  /** YYYY-MM of an instant in the feed's zone (made once per day: a feed's rows go day by day). */
  private monthOf(instant: number): string {
    const day = Math.floor((instant + this.ctx.zone.offsetMinutesAt(instant) * 60_000) / DAY_MS);
    if (day !== this.lastDay) {
      this.lastDay = day;
      this.lastMonth = new Date(day * DAY_MS).toISOString().slice(0, 7);
    }
    return this.lastMonth;
  }

  private monthDay(instant: number): string {
    return new Date(instant + this.ctx.zone.offsetMinutesAt(instant) * 60_000).toISOString().slice(0, 10);
  }

  /** The header name of a field as the feed sent it, for reasons a person reads. */
  private name(f: Field): string {
    return this.header.names[f] ?? this.header.layout.columns[f] ?? f;
  }
}

function invalid(id: number | undefined, field: string, reason: string): RowResult {
  return { ok: false, id, problem: { field, reason } };
}

/** The text of a field, empty when the layout has no such column. */
function fieldOf(fields: readonly string[], index: HeaderMap['index'], f: Field): string {
  const i = index[f];
  return i === -1 ? '' : (fields[i] as string);
}

/** Whether `text` is `date`, or `date`, a space and `time` (without making that string). */
function isDateAndTime(text: string, date: string, time: string): boolean {
  if (time === '') return text === date;
  return (
    text.length === date.length + 1 + time.length &&
    text.startsWith(date) &&
    text.charCodeAt(date.length) === 32 &&
    text.endsWith(time)
  );
}

const readers = new WeakMap<HeaderMap, Map<string, RowReader>>();

/** One row with a reader cached per header (tests and tools; the producer keeps its own RowReader). */
export function convertRow(
  fields: readonly string[],
  header: HeaderMap,
  zone: TimeZone,
  ingest: IngestMeta,
  login = '',
): RowResult {
  let byZone = readers.get(header);
  if (!byZone) {
    byZone = new Map();
    readers.set(header, byZone);
  }
  const key = `${zone.name}\u0000${login}`;
  let reader = byZone.get(key);
  if (!reader) {
    reader = new RowReader(header, { zone, login });
    byZone.set(key, reader);
  }
  return reader.convert(fields, ingest);
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}
