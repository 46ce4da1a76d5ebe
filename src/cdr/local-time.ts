// Dates and times written in a layout's forms (`DD/MM/YYYY`, `HH:MM:SS`, `DD/MM/YYYY HH:MM:SS`...)
// or in ISO 8601, read as wall-clock times in the feed's zone (the "compatible" rule, see
// time-zone.ts) unless the text carries an offset. Pure; the forms are compiled once per layout.
import type { DateTimeForms } from './layouts.ts';
import { daysInMonth, parseStartTime } from './start-time.ts';
import type { TimeZone } from './time-zone.ts';

interface DateParts {
  y: number;
  mo: number;
  d: number;
}
interface TimeParts {
  h: number;
  mi: number;
  s: number;
}

/** Why a text is not a date or time: the form is wrong, or the form is right but the day is not real. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; why: 'form' | 'not-real' };

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const ISO_TIME = /^(\d{2}):(\d{2}):(\d{2})$/;
const ISO_START = /^\d{4}-/;

interface Compiled {
  re: RegExp;
  order: string[];
  /** The capture group of each token of the form (0: the form has no such token). */
  group: Record<string, number>;
  /**
   * The form read at fixed widths (YYYY four digits, the other tokens two): where each token and
   * each literal character sits. Text of exactly that shape is read without the regex (the same
   * values the regex gives it); any other text goes to the regex.
   */
  fixed: { length: number; tokens: Array<{ at: number; width: number; token: string }>; literals: number[] };
}
const DATE_TOKENS = ['YYYY', 'MM', 'DD'] as const;
const TIME_TOKENS = ['HH', 'MM', 'SS'] as const;

function compile(form: string, tokens: readonly string[]): Compiled {
  const order: string[] = [];
  const fixed: Compiled['fixed'] = { length: 0, tokens: [], literals: [] };
  let source = '';
  let rest = form;
  while (rest.length > 0) {
    const token = tokens.find((t) => rest.startsWith(t));
    if (token) {
      order.push(token);
      source += token === 'YYYY' ? '(\\d{4})' : '(\\d{1,2})';
      rest = rest.slice(token.length);
      const width = token === 'YYYY' ? 4 : 2;
      fixed.tokens.push({ at: fixed.length, width, token });
      fixed.length += width;
    } else {
      source += (rest[0] as string).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
      fixed.literals.push(fixed.length, rest.charCodeAt(0));
      fixed.length++;
      rest = rest.slice(1);
    }
  }
  const group: Record<string, number> = {};
  for (const t of tokens) group[t] = order.indexOf(t) + 1;
  return { re: new RegExp(`^${source}$`), order, group, fixed };
}

/**
 * Reads `text` from `from` to `to` as the form at its fixed widths into `out` (by token; a token
 * the form lacks stays 0). False when the text is not of that exact shape (the regex decides then).
 */
function readFixed(
  text: string,
  from: number,
  to: number,
  form: Compiled,
  out: Record<string, number>,
): boolean {
  const f = form.fixed;
  if (to - from !== f.length) return false;
  const lit = f.literals;
  for (let i = 0; i < lit.length; i += 2)
    if (text.charCodeAt(from + (lit[i] as number)) !== lit[i + 1]) return false;
  for (const t of f.tokens) {
    let v = 0;
    for (let k = from + t.at, end = k + t.width; k < end; k++) {
      const c = text.charCodeAt(k) - 48;
      if (c < 0 || c > 9) return false;
      v = v * 10 + c;
    }
    out[t.token] = v;
  }
  return true;
}

const ISO_TIME_GROUPS: Record<string, number> = { HH: 1, MM: 2, SS: 3 };

export class DateTimeReader {
  readonly forms: DateTimeForms;
  private readonly date: Compiled;
  private readonly time: Compiled;
  /** The date and time halves of the combined form, which may differ from the separate forms. */
  private readonly dtDate: Compiled;
  private readonly dtTime: Compiled;
  /** The last date read, with its form: a feed's rows come day by day, so most dates repeat it. */
  private lastDate: { text: string; form: Compiled; result: Parsed<DateParts> } | undefined;

  constructor(forms: DateTimeForms) {
    this.forms = forms;
    this.date = compile(forms.date, DATE_TOKENS);
    this.time = compile(forms.time, TIME_TOKENS);
    const [d, t] = splitOnce(forms.dateTime);
    this.dtDate = compile(d, DATE_TOKENS);
    this.dtTime = compile(t ?? forms.time, TIME_TOKENS);
  }

  readDate(text: string, form: Compiled = this.date): Parsed<DateParts> {
    return this.readDateAt(text, text.length, form);
  }

  /** The date written in `text` before `to`: the last one read again without a new string. */
  private readDateAt(text: string, to: number, form: Compiled): Parsed<DateParts> {
    const last = this.lastDate;
    if (last !== undefined && last.form === form && last.text.length === to && text.startsWith(last.text))
      return last.result;
    const date = to === text.length ? text : text.slice(0, to);
    const result = this.parseDate(date, form);
    this.lastDate = { text: date, form, result };
    return result;
  }

  private parseDate(text: string, form: Compiled): Parsed<DateParts> {
    const fixed = { YYYY: 0, MM: 0, DD: 0 };
    const m = readFixed(text, 0, text.length, form, fixed) ? undefined : form.re.exec(text);
    let parts: DateParts | undefined;
    if (m === undefined) parts = { y: fixed.YYYY, mo: fixed.MM, d: fixed.DD };
    else if (m) {
      const g = form.group;
      parts = { y: Number(m[g.YYYY as number]), mo: Number(m[g.MM as number]), d: Number(m[g.DD as number]) };
    } else {
      const iso = ISO_DATE.exec(text);
      if (iso) parts = { y: Number(iso[1]), mo: Number(iso[2]), d: Number(iso[3]) };
    }
    if (!parts) return { ok: false, why: 'form' };
    if (parts.mo < 1 || parts.mo > 12 || parts.d < 1 || parts.d > daysInMonth(parts.y, parts.mo))
      return { ok: false, why: 'not-real' };
    return { ok: true, value: parts };
  }

  readTime(text: string, form: Compiled = this.time): Parsed<TimeParts> {
    return this.readTimeAt(text, 0, text.length, form);
  }

  /** The time written in `text` from `from` to `to`. */
  private readTimeAt(text: string, from: number, to: number, form: Compiled): Parsed<TimeParts> {
    const fixed = { HH: 0, MM: 0, SS: 0 };
    if (readFixed(text, from, to, form, fixed)) return checkTime({ h: fixed.HH, mi: fixed.MM, s: fixed.SS });
    if (from !== 0 || to !== text.length) text = text.slice(from, to);
    const own = form.re.exec(text);
    const m = own ?? ISO_TIME.exec(text);
    if (!m) return { ok: false, why: 'form' };
    const g = own ? form.group : ISO_TIME_GROUPS;
    // A token the form lacks (group 0) reads as 0.
    const get = (i: number | undefined) => (i ? Number(m[i]) : 0);
    return checkTime({ h: get(g.HH), mi: get(g.MM), s: get(g.SS) });
  }

  /** Date and time as one instant in `zone`. */
  instant(date: DateParts, time: TimeParts, zone: TimeZone): number {
    return zone.instantOf(Date.UTC(date.y, date.mo - 1, date.d, time.h, time.mi, time.s));
  }

  /** A combined date-time: the layout's form (date, a space, time), or ISO 8601 with or without an offset. */
  readDateTime(text: string, zone: TimeZone): Parsed<number> {
    // ISO first, for text that starts like it.
    if (ISO_START.test(text)) {
      const iso = parseStartTime(text, zone);
      if (iso !== undefined) return { ok: true, value: iso };
      const noOffset = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})$/.exec(text);
      if (noOffset)
        return this.combine(
          this.readDate(noOffset[1] as string, this.date),
          this.readTime(noOffset[2] as string, this.time),
          zone,
        );
    }
    // The layout's form: its date, a space, its time.
    const space = text.indexOf(' ');
    if (space === -1) return { ok: false, why: 'form' };
    return this.combine(
      this.readDateAt(text, space, this.dtDate),
      this.readTimeAt(text, space + 1, text.length, this.dtTime),
      zone,
    );
  }

  private combine(date: Parsed<DateParts>, time: Parsed<TimeParts>, zone: TimeZone): Parsed<number> {
    if (!date.ok) return date;
    if (!time.ok) return time;
    return { ok: true, value: this.instant(date.value, time.value, zone) };
  }
}

function checkTime(parts: TimeParts): Parsed<TimeParts> {
  if (parts.h > 23 || parts.mi > 59 || parts.s > 59) return { ok: false, why: 'not-real' };
  return { ok: true, value: parts };
}

function splitOnce(text: string): [string, string | undefined] {
  const i = text.indexOf(' ');
  return i === -1 ? [text, undefined] : [text.slice(0, i), text.slice(i + 1)];
}
