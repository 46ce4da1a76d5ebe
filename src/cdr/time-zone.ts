// Offsets of an IANA time zone, and local wall-clock times read in it with the "compatible" rule
// of java.time and Temporal (feed contract, `start_time`): a time that a daylight-saving change
// repeats is its earlier instant; one that the change skips is moved forward by the gap.
// Offsets are looked up through Intl once per 15-minute slot and cached: every zone in use today
// changes offset on a quarter hour, and a feed of millions of rows hits a few thousand slots.

const SLOT_MS = 15 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

export class TimeZone {
  readonly name: string;
  private readonly format: Intl.DateTimeFormat;
  private readonly cache = new Map<number, number>();

  constructor(name: string) {
    // Throws RangeError for an unknown zone: callers validate config with isValidTimeZone first.
    this.format = new Intl.DateTimeFormat('en-US', { timeZone: name, timeZoneName: 'longOffset' });
    this.name = name;
  }

  /** Offset from UTC, in minutes, in force at the instant `epochMs`. */
  offsetMinutesAt(epochMs: number): number {
    const slot = Math.floor(epochMs / SLOT_MS);
    let offset = this.cache.get(slot);
    if (offset === undefined) {
      offset = parseLongOffset(this.format.formatToParts(slot * SLOT_MS));
      if (this.cache.size > 100_000) this.cache.clear();
      this.cache.set(slot, offset);
    }
    return offset;
  }

  /**
   * The instant of a wall-clock time in this zone. `wallMs` is the wall-clock time written as if
   * it were UTC (Date.UTC of its fields).
   */
  instantOf(wallMs: number): number {
    const before = this.offsetMinutesAt(wallMs - DAY_MS);
    const after = this.offsetMinutesAt(wallMs + DAY_MS);
    let best: number | undefined;
    const first = wallMs - before * 60_000;
    if (this.offsetMinutesAt(first) === before) best = first;
    if (after !== before) {
      const second = wallMs - after * 60_000;
      if (this.offsetMinutesAt(second) === after && (best === undefined || second < best)) best = second;
    }
    // No offset fits: the time falls in a gap. Reading it with the offset before the change moves
    // it forward by the gap's length.
    return best ?? wallMs - before * 60_000;
  }
}

function parseLongOffset(parts: Intl.DateTimeFormatPart[]): number {
  const text = parts.find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
  const m = /^GMT(?:([+-])(\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(text);
  if (!m) throw new RangeError(`unexpected offset text ${text}`);
  if (!m[1]) return 0;
  const minutes = Number(m[2]) * 60 + Number(m[3]);
  return m[1] === '-' ? -minutes : minutes;
}

export function isValidTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/** `+11:00`, `-03:30`, `+00:00`. */
export function formatOffset(minutes: number): string {
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `${sign}${pad2(Math.floor(abs / 60))}:${pad2(abs % 60)}`;
}

export function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** An instant written in ISO 8601 with its zone (Z or ±hh:mm); undefined without one, or when not a time. */
export function zonedInstant(text: string): number | undefined {
  const t = text.trim();
  if (!/(Z|[+-]\d{2}:\d{2})$/.test(t)) return undefined;
  const at = Date.parse(t);
  return Number.isNaN(at) ? undefined : at;
}
