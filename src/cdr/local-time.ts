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
}
const DATE_TOKENS = ['YYYY', 'MM', 'DD'] as const;
const TIME_TOKENS = ['HH', 'MM', 'SS'] as const;

function compile(form: string, tokens: readonly string[]): Compiled {
  const order: string[] = [];
  let source = '';
  let rest = form;
  while (rest.length > 0) {
    const token = tokens.find((t) => rest.startsWith(t));
    if (token) {
      order.push(token);
      source += token === 'YYYY' ? '(\\d{4})' : '(\\d{1,2})';
      rest = rest.slice(token.length);
    } else {
      source += (rest[0] as string).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
      rest = rest.slice(1);
    }
  }
  const group: Record<string, number> = {};
  for (const t of tokens) group[t] = order.indexOf(t) + 1;
  return { re: new RegExp(`^${source}$`), order, group };
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
    const last = this.lastDate;
    if (last !== undefined && last.text === text && last.form === form) return last.result;
    const result = this.parseDate(text, form);
    this.lastDate = { text, form, result };
    return result;
  }

  private parseDate(text: string, form: Compiled): Parsed<DateParts> {
    const m = form.re.exec(text);
    let parts: DateParts | undefined;
    if (m) {
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
    const own = form.re.exec(text);
    const m = own ?? ISO_TIME.exec(text);
    if (!m) return { ok: false, why: 'form' };
    const g = own ? form.group : ISO_TIME_GROUPS;
    // A token the form lacks (group 0) reads as 0.
    const get = (i: number | undefined) => (i ? Number(m[i]) : 0);
    const parts = { h: get(g.HH), mi: get(g.MM), s: get(g.SS) };
    if (parts.h > 23 || parts.mi > 59 || parts.s > 59) return { ok: false, why: 'not-real' };
    return { ok: true, value: parts };
  }

  /** Date and time as one instant in `zone`. */
  instant(date: DateParts, time: TimeParts, zone: TimeZone): number {
    return zone.instantOf(Date.UTC(date.y, date.mo - 1, date.d, time.h, time.mi, time.s));
  }

  /** A combined date-time: the layout's form (date, a space, time), or ISO 8601 with or without an offset. */
  readDateTime(text: string, zone: TimeZone): Parsed<number> {
    // ISO first, for text that starts like it (the common day-first text skips two regexes).
    const iso = ISO_START.test(text) ? parseStartTime(text, zone) : undefined;
    if (iso !== undefined) return { ok: true, value: iso };
    const noOffset = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})$/.exec(text);
    const [d, t] = noOffset ? [noOffset[1] as string, noOffset[2] as string] : splitOnce(text);
    if (t === undefined) return { ok: false, why: 'form' };
    const date = this.readDate(d, noOffset ? this.date : this.dtDate);
    const time = this.readTime(t, noOffset ? this.time : this.dtTime);
    if (!date.ok) return date;
    if (!time.ok) return time;
    return { ok: true, value: this.instant(date.value, time.value, zone) };
  }
}

function splitOnce(text: string): [string, string | undefined] {
  const i = text.indexOf(' ');
  return i === -1 ? [text, undefined] : [text.slice(0, i), text.slice(i + 1)];
}
