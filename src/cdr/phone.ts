// Phone numbers as phone numbers: the calling and called party of a CDR in E.164, with the called
// number's country and type (mobile, fixed line, toll free, premium rate...), which billing rates
// calls by. Parsed by libphonenumber-js (Google's libphonenumber metadata, "max" set: types need
// it) against the account's home country, which reads national forms (`0211234567` in NZ), the
// country's international prefix (`0011 1 212 555 0100` in AU) and numbers sent with their
// country code but no `+` (`6494001234`). A number that is not a possible phone number (empty,
// "anonymous", too short) is carried as sent and flagged. Pure.
import {
  type CountryCode,
  isSupportedCountry,
  type NumberType,
  parsePhoneNumberFromString,
} from 'libphonenumber-js/max';

export type { CountryCode } from 'libphonenumber-js/max';

/** The home country of a layout's accounts when FEED_COUNTRY does not say (shared/feed-contract.md). */
export const LAYOUT_COUNTRY: Readonly<Record<string, CountryCode>> = {
  // The contract's examples: +61 numbers, Sydney times.
  contract: 'AU',
  // The carrier's 17-column layout: NZD costs, New Zealand numbers.
  legacy17: 'NZ',
};

export interface ParsedNumber {
  /** `+` and digits. */
  e164: string;
  /** ISO 3166-1 alpha-2, when the number belongs to one country. */
  country: string | null;
  /** libphonenumber's type in lower case (mobile, fixed_line, toll_free, premium_rate...); null when not known. */
  type: string | null;
}

/** What the enriched record carries of a CDR's numbers. */
export interface NumberFields {
  from_e164: string | null;
  to_e164: string | null;
  to_country: string | null;
  to_number_type: string | null;
  /** The parties whose number did not parse (`from`, `to`): carried as sent. */
  numbers_unparsed: string[];
}

/** An ISO country code libphonenumber knows, upper case; undefined otherwise. */
export function countryCode(text: string): CountryCode | undefined {
  const code = text.trim().toUpperCase();
  return isSupportedCountry(code) ? (code as CountryCode) : undefined;
}

const CACHE_MAX = 200_000;

/** What the numbers of one block share: their E.164 but its last digits, country and type. */
interface Block {
  prefix: string;
  country: string | null;
  type: string | null;
}

/**
 * Numbering plans are allocated in blocks: numbers that differ only in their last digits, past the
 * part a plan's patterns read, have the same type and country (or are alike not numbers), and
 * their E.164 forms end with those digits. The last four digits of numbers of ten digits or more,
 * the last three of nine-digit ones; shorter numbers (short codes, 13xx xx) are parsed one by one.
 */
function blockTail(digits: number): number {
  return digits >= 10 ? 4 : digits === 9 ? 3 : 0;
}

/**
 * Parses numbers against a home country. Parsing one takes ~10 µs, most CDRs' called numbers are
 * new, and an enricher handles 100,000+ CDRs a second: the parse of a number stands for its block
 * (blockTail), and a number seen before (the calling numbers of an account) is not parsed
 * again. Tested equal to parsing every number, over 100,000 numbers in fifteen forms of six plans.
 */
export class PhoneNumbers {
  private readonly configured: CountryCode | undefined;
  /** Per home country (`''`: none): numbers parsed one by one, by their text. */
  private readonly cache = new Map<string, Map<string, ParsedNumber | null>>();
  /**
   * Per home country and tail length: per block (the text but its last digits, blockTail), its
   * numbers' E.164 prefix, country and type; null: not numbers. Maps of maps: a lookup makes no key
   * string (the search's and the enricher's per-record cost was mostly these keys).
   */
  private readonly blocks = new Map<string, Array<Map<string, Block | null>>>();
  private sizes = 0;

  /** `country`: FEED_COUNTRY; without it, each record's layout says (LAYOUT_COUNTRY). */
  constructor(country?: CountryCode) {
    this.configured = country;
  }

  /** The home country of a record of `layout`. */
  homeCountry(layout: string | null): CountryCode | undefined {
    return this.configured ?? (layout === null ? undefined : LAYOUT_COUNTRY[layout]);
  }

  /** `text` as a phone number of someone in `home`, or null when it is not one. */
  parse(text: string, home: CountryCode | undefined): ParsedNumber | null {
    const h = home ?? '';
    const cache = this.cache.get(h);
    const hit = cache?.get(text);
    if (hit !== undefined) return hit;
    const n = text.length;
    const tailLength = blockTail(countDigits(text));
    const tail = tailLength > 0 ? text.slice(n - tailLength) : '';
    const blocks = tailLength > 0 && isDigits(tail) ? this.blocksOf(h, tailLength) : undefined;
    const blockKey = blocks ? text.slice(0, n - tailLength) : '';
    if (blocks) {
      const block = blocks.get(blockKey);
      if (block === null) return null;
      if (block) return { e164: block.prefix + tail, country: block.country, type: block.type };
    }
    const parsed = parseNumber(text, home);
    if (this.sizes >= CACHE_MAX) {
      this.cache.clear();
      this.blocks.clear();
      this.sizes = 0;
    }
    this.sizes++;
    if (blocks && (parsed === null || parsed.e164.endsWith(tail)))
      this.blocksOf(h, tailLength).set(
        blockKey,
        parsed === null
          ? null
          : { prefix: parsed.e164.slice(0, -tailLength), country: parsed.country, type: parsed.type },
      );
    else {
      let texts = this.cache.get(h);
      if (!texts) {
        texts = new Map();
        this.cache.set(h, texts);
      }
      texts.set(text, parsed);
    }
    return parsed;
  }

  private blocksOf(home: string, tailLength: number): Map<string, Block | null> {
    let byTail = this.blocks.get(home);
    if (!byTail) {
      byTail = [];
      this.blocks.set(home, byTail);
    }
    let m = byTail[tailLength];
    if (!m) {
      m = new Map();
      byTail[tailLength] = m;
    }
    return m;
  }

  /** The enriched fields of a CDR's numbers. */
  fields(cdr: { from: string; to: string; layout: string | null }): NumberFields {
    const home = this.homeCountry(cdr.layout);
    const from = this.parse(cdr.from, home);
    const to = this.parse(cdr.to, home);
    const unparsed: string[] = [];
    if (from === null) unparsed.push('from');
    if (to === null) unparsed.push('to');
    return {
      from_e164: from?.e164 ?? null,
      to_e164: to?.e164 ?? null,
      to_country: to?.country ?? null,
      to_number_type: to?.type ?? null,
      numbers_unparsed: unparsed,
    };
  }
}

function isDigits(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

function countDigits(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) n++;
  }
  return n;
}

/** One number parsed, with no cache: what PhoneNumbers.parse answers. */
export function parseNumber(text: string, home: CountryCode | undefined): ParsedNumber | null {
  if (!/\d/.test(text)) return null;
  // As a number of the home country first (national forms, its international prefix, a leading
  // +); then, when that is not a valid number, as a country code and number sent without the `+`.
  const asSent = safeParse(text, home);
  const asSentValid = validType(asSent);
  if (asSent && asSentValid) return described(asSent, asSentValid);
  const digits = text.replace(/[^\d]/g, '');
  const international = text.trim().startsWith('+') ? undefined : safeParse(`+${digits}`, undefined);
  const internationalValid = validType(international);
  if (international && internationalValid) return described(international, internationalValid);
  // Possible but not valid (a range the metadata does not know yet): E.164 without a type.
  if (asSent?.isPossible()) return { e164: asSent.number, country: asSent.country ?? null, type: null };
  if (international?.isPossible())
    return { e164: international.number, country: international.country ?? null, type: null };
  return null;
}

/**
 * A valid number's type (`{ type: undefined }` when valid without one); undefined when not
 * valid. libphonenumber's isValid() is its type being known (where the plan has types), so the
 * type is worked out once, not once for isValid() and again for getType().
 */
function validType(n: ReturnType<typeof safeParse>): { type: NumberType } | undefined {
  if (!n) return undefined;
  const type = n.getType();
  if (type !== undefined) return { type };
  return n.isValid() ? { type: undefined } : undefined;
}

function safeParse(text: string, home: CountryCode | undefined) {
  try {
    return parsePhoneNumberFromString(text, home ? { defaultCountry: home } : {});
  } catch {
    return undefined;
  }
}

function described(n: NonNullable<ReturnType<typeof safeParse>>, valid: { type: NumberType }): ParsedNumber {
  const type = valid.type;
  return { e164: n.number, country: n.country ?? null, type: type ? type.toLowerCase() : null };
}

/**
 * Whether a number filter (`--from`, `--to`, or with `prefix` their `--*-prefix`) matches a CDR's
 * number: as sent, or with `phones` on its E.164 form in the record's home country. A prefix is
 * matched on the digits after the `+` (the filter's own `+`, spaces and dashes ignored), so
 * `--to-prefix 61` finds `+61...`, `61...` and `04...` sent by an AU account; a whole number is
 * parsed like the CDR's (`--to 0211234567` finds `+64211234567` of an NZ account).
 */
export function numberMatches(
  text: string,
  layout: string | null,
  filter: { value: string; prefix: boolean },
  phones?: PhoneNumbers,
): boolean {
  if (filter.prefix ? text.startsWith(filter.value) : text === filter.value) return true;
  if (!phones) return false;
  const home = phones.homeCountry(layout);
  const number = phones.parse(text, home);
  if (number === null) return false;
  if (!filter.prefix) return phones.parse(filter.value, home)?.e164 === number.e164;
  const want = filter.value.replace(/[\s+().-]/g, '');
  return /^\d+$/.test(want) && number.e164.slice(1).startsWith(want);
}
