// What the commands share when reading their options: one way to refuse a bad value (exit 2,
// naming the option), and the parsers of whole numbers, durations, instants and billing periods.
import { zonedInstant } from '../cdr/time-zone.ts';
import { CdrError, ErrorCodes } from '../errors.ts';

export function badOption(option: string, message: string): never {
  throw new CdrError(ErrorCodes.CONFIG_INVALID, `invalid option: ${option}: ${message}`);
}

/** A whole number option (up to 2^53), or undefined when not given. */
export function wholeOption(option: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  return /^\d{1,16}$/.test(text) && Number.isSafeInteger(Number(text))
    ? Number(text)
    : badOption(option, `"${text}" is not a whole number`);
}

/** YYYY-MM, month 01 to 12. */
export function isBillingPeriod(text: string): boolean {
  return /^\d{4}-(0[1-9]|1[0-2])$/.test(text);
}

/** `90s`, `15m`, `2h`, `1d` (or plain milliseconds) to milliseconds; undefined when not a duration. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) return undefined;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? 'ms') as 'ms'];
  return Number(m[1]) * unit;
}

/** An instant: ISO 8601 with a zone, or a duration before now (`24h`). */
export function parseInstant(text: string, now: number): number | undefined {
  const ago = parseDuration(text);
  if (ago !== undefined && /[a-z]$/.test(text.trim())) return now - ago;
  return zonedInstant(text);
}

export function durationOption(option: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  return parseDuration(text) ?? badOption(option, `"${text}" is not a duration (90s, 15m, 2h, 1d)`);
}

export function instantOption(
  option: string,
  text: string | undefined,
  now = Date.now(),
): number | undefined {
  if (text === undefined) return undefined;
  return (
    parseInstant(text, now) ??
    badOption(option, `"${text}" is not ISO 8601 with a zone, nor a duration ago (24h)`)
  );
}
