// `start_time`: ISO 8601 with an offset (`2026-11-03T09:15:02+11:00`), or `YYYY-MM-DD HH:MM:SS`
// in the feed's configured zone (read with the "compatible" rule, see time-zone.ts).
import type { TimeZone } from './time-zone.ts';

const WITH_OFFSET =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?(Z|([+-])(\d{2}):(\d{2}))$/;
const LOCAL = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;

/** Epoch milliseconds, or undefined when the text is not a valid contract time. */
export function parseStartTime(text: string, zone: TimeZone): number | undefined {
  const fixed = fixedForm(text, zone);
  if (fixed !== null) return fixed;
  let m = WITH_OFFSET.exec(text);
  if (m) {
    const wall = wallClock(m);
    if (wall === undefined) return undefined;
    if (m[8] === 'Z') return wall;
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 18 || om > 59) return undefined;
    const offset = (oh * 60 + om) * (m[9] === '-' ? -1 : 1);
    return wall - offset * 60_000;
  }
  m = LOCAL.exec(text);
  if (m) {
    const wall = wallClock(m);
    return wall === undefined ? undefined : zone.instantOf(wall);
  }
  return undefined;
}

/**
 * The three forms every row of a contract feed uses, read at their fixed positions (no regex, no
 * strings: this runs for every CDR): `YYYY-MM-DDTHH:MM:SS+HH:MM`, `...Z` and `YYYY-MM-DD HH:MM:SS`.
 * null for any other text (fractions of a second, or not a time at all), which the regexes read;
 * otherwise what they would give.
 */
function fixedForm(t: string, zone: TimeZone): number | undefined | null {
  const n = t.length;
  if (n !== 19 && n !== 20 && n !== 25) return null;
  const sep = t.charCodeAt(10);
  if (
    t.charCodeAt(4) !== 45 || // '-'
    t.charCodeAt(7) !== 45 ||
    t.charCodeAt(13) !== 58 || // ':'
    t.charCodeAt(16) !== 58 ||
    (n === 19 ? sep !== 32 : sep !== 84) // ' ' local, 'T' with a zone
  )
    return null;
  const y = num(t, 0, 4);
  const mo = num(t, 5, 2);
  const d = num(t, 8, 2);
  const h = num(t, 11, 2);
  const mi = num(t, 14, 2);
  const s = num(t, 17, 2);
  if (y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || s < 0) return null;
  const wall = wallClockOf(y, mo, d, h, mi, s, 0);
  if (n === 19) return wall === undefined ? undefined : zone.instantOf(wall);
  if (n === 20) return t.charCodeAt(19) === 90 ? wall : null; // 'Z'
  const sign = t.charCodeAt(19);
  if ((sign !== 43 && sign !== 45) || t.charCodeAt(22) !== 58) return null; // '+' '-' ':'
  const oh = num(t, 20, 2);
  const om = num(t, 23, 2);
  if (oh < 0 || om < 0) return null;
  if (wall === undefined || oh > 18 || om > 59) return undefined;
  return wall - (oh * 60 + om) * (sign === 45 ? -1 : 1) * 60_000;
}

/** The decimal number of `len` digits at `at`, or -1 when one is not a digit. */
function num(t: string, at: number, len: number): number {
  let v = 0;
  for (let i = at; i < at + len; i++) {
    const c = t.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

function wallClock(m: RegExpExecArray): number | undefined {
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  const h = Number(m[4]);
  const mi = Number(m[5]);
  const s = Number(m[6]);
  const ms = m[7] ? Number(m[7].padEnd(3, '0')) : 0;
  return wallClockOf(y, mo, d, h, mi, s, ms);
}

/** The wall-clock time as if UTC, or undefined when it is not a real one (2026-02-30, 24:00). */
function wallClockOf(
  y: number,
  mo: number,
  d: number,
  h: number,
  mi: number,
  s: number,
  ms: number,
): number | undefined {
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return undefined;
  // Rejects 2026-02-30 and the like: Date.UTC would roll them into the next month.
  if (d > daysInMonth(y, mo)) return undefined;
  return Date.UTC(y, mo - 1, d, h, mi, s, ms);
}

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

export function daysInMonth(year: number, month: number): number {
  if (month !== 2) return DAYS[month - 1] as number;
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
}
