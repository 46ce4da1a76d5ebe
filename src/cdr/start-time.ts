// `start_time`: ISO 8601 with an offset (`2026-11-03T09:15:02+11:00`), or `YYYY-MM-DD HH:MM:SS`
// in the feed's configured zone (read with the "compatible" rule, see time-zone.ts).
import type { TimeZone } from './time-zone.ts';

const WITH_OFFSET =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?(Z|([+-])(\d{2}):(\d{2}))$/;
const LOCAL = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;

/** Epoch milliseconds, or undefined when the text is not a valid contract time. */
export function parseStartTime(text: string, zone: TimeZone): number | undefined {
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

function wallClock(m: RegExpExecArray): number | undefined {
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  const h = Number(m[4]);
  const mi = Number(m[5]);
  const s = Number(m[6]);
  const ms = m[7] ? Number(m[7].padEnd(3, '0')) : 0;
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
