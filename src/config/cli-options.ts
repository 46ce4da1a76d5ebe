// What the operators' and billing teams' commands share when reading their options: one way to
// refuse a bad value (exit 2, naming the option), whole numbers, billing periods.
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
