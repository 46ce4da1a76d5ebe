// Deterministic CDRs: row n of an account is a pure function of (seed, account, n), so any `fromid`
// can be served without generating what comes before it, and a history of millions of rows is
// produced on the fly as it is streamed, never held in memory.
import { CALL_TYPES, type CallType } from '../cdr/call-types.ts';
import { CONTRACT_COLUMNS } from '../cdr/header.ts';
import { formatOffset, pad2, TimeZone } from '../cdr/time-zone.ts';

export const SIM_COLUMNS = [
  ...CONTRACT_COLUMNS.slice(0, CONTRACT_COLUMNS.indexOf('cost')),
  // Not in the contract: the feed may add columns, and consumers must carry them.
  'carrier_ref',
  'cost',
  'description',
] as const;

export type SimRow = Record<(typeof SIM_COLUMNS)[number], string>;

export interface GeneratorOptions {
  seed: number;
  /** The feed's configured zone, for the `start_time` values written without an offset. */
  timeZone: string;
  /** Instant (ms) at which the history ends and growth starts. */
  epochMs: number;
  /** Rows of history before `epochMs`. */
  historyRows: number;
  /** Time between two history rows. */
  historySpacingMs: number;
  /** New rows per second after `epochMs`; 0 for a feed that does not grow. */
  growthPerSecond: number;
  /** Share (0..1) of rows with a (type, sub_type) pair outside the contract's table. */
  unknownShare: number;
  /** Share (0..1) of rows that break the contract (bad values, missing fields). */
  malformedShare: number;
  /** Gaps in every account's id sequence: after row `afterRow`, `ids` ids are skipped. */
  idGaps?: IdGap[];
  /**
   * Share (0..1) of late CDRs: calls that started 35 days before their place in the feed, so they
   * belong to an earlier billing period than the rows around them (the carrier rated them late).
   */
  lateShare?: number;
}

const LATE_BY_MS = 35 * 24 * 3600 * 1000;

export interface IdGap {
  afterRow: number;
  ids: number;
}

export interface SimAccountData {
  login: string;
  /** Id of the account's row 0; each account has its own id sequence. */
  firstId: number;
  /** Index of the account, mixed into the seed. */
  index: number;
}

const GROUPS = ['Sales', 'Support', 'Operations', '', 'Field Team', 'Müller & Söhne', 'R&D, "Labs"', ''];
const UNKNOWN_PAIRS: readonly CallType[] = [
  { type: 'X1', subType: 'X1', description: 'Unlisted service' },
  { type: 'M', subType: 'M5', description: 'Calls to Mobile 5G' },
];
const ODD_DESCRIPTIONS = [
  'London office, "HQ"',
  'Conference bridge\nsecond line',
  'Café Zürich — 東京支店 ☎',
  'Multi-line\r\nwith "quotes", and commas',
  ' leading and trailing spaces ',
];
const MALFORMED_KINDS = ['seconds', 'period', 'cost', 'start_time', 'short', 'account'] as const;

/** A small, fast integer hash (splitmix32 finaliser) for per-row randomness. */
function mix(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

class RowRandom {
  private state: number;
  constructor(seed: number, account: number, n: number) {
    this.state = mix(mix(mix(seed) ^ account) ^ (n % 0x100000000)) ^ Math.floor(n / 0x100000000);
  }
  next(): number {
    this.state = mix(this.state);
    return this.state;
  }
  below(n: number): number {
    return this.next() % n;
  }
  chance(p: number): boolean {
    return this.next() / 0x100000000 < p;
  }
}

export class CdrGenerator {
  readonly options: GeneratorOptions;
  private readonly zone: TimeZone;
  private readonly gaps: IdGap[];
  constructor(options: GeneratorOptions) {
    this.options = options;
    this.zone = new TimeZone(options.timeZone);
    this.gaps = [...(options.idGaps ?? [])].sort((a, b) => a.afterRow - b.afterRow);
  }

  /** How many rows an account has at instant `nowMs` (history plus growth so far). */
  rowCountAt(nowMs: number): number {
    const { historyRows, growthPerSecond, epochMs } = this.options;
    if (growthPerSecond <= 0 || nowMs <= epochMs) return historyRows;
    return historyRows + Math.floor(((nowMs - epochMs) * growthPerSecond) / 1000);
  }

  /** The id of row `n` of an account: its first id plus n, plus the gaps before it. */
  idOf(account: SimAccountData, n: number): number {
    let id = account.firstId + n;
    for (const g of this.gaps) if (n > g.afterRow) id += g.ids;
    return id;
  }

  /** The first row whose id is `id` or above (rows are in ascending id order). */
  indexAtOrAfter(account: SimAccountData, id: number): number {
    const r = id - account.firstId;
    let shift = 0;
    for (const g of this.gaps) {
      if (r <= g.afterRow + shift) return Math.max(0, r - shift);
      // Inside the gap: the first row after it.
      if (r <= g.afterRow + shift + g.ids) return g.afterRow + 1;
      shift += g.ids;
    }
    return Math.max(0, r - shift);
  }

  startTimeOf(n: number): number {
    const { historyRows, historySpacingMs, growthPerSecond, epochMs } = this.options;
    if (n < historyRows) return epochMs - (historyRows - n) * historySpacingMs;
    return epochMs + Math.floor(((n - historyRows) * 1000) / Math.max(growthPerSecond, 1));
  }

  row(account: SimAccountData, n: number): SimRow {
    const r = new RowRandom(this.options.seed, account.index, n);
    const unknown = r.chance(this.options.unknownShare);
    const callType = unknown
      ? (UNKNOWN_PAIRS[r.below(UNKNOWN_PAIRS.length)] as CallType)
      : (CALL_TYPES[r.below(CALL_TYPES.length)] as CallType);
    const late = (this.options.lateShare ?? 0) > 0 && r.chance(this.options.lateShare ?? 0);
    const startMs = this.startTimeOf(n) - (late ? LATE_BY_MS : 0);
    const offset = this.zone.offsetMinutesAt(startMs);
    const wall = new Date(startMs + offset * 60_000);
    const date = `${wall.getUTCFullYear()}-${pad2(wall.getUTCMonth() + 1)}-${pad2(wall.getUTCDate())}`;
    const time = `${pad2(wall.getUTCHours())}:${pad2(wall.getUTCMinutes())}:${pad2(wall.getUTCSeconds())}`;
    const withOffset = r.chance(0.7);
    const seconds = callType.type === '0' ? 0 : r.below(3600);
    const ratePerMinute = 50 + r.below(2000); // ten-thousandths of a currency unit
    let cost = Math.round((seconds * ratePerMinute) / 60);
    if (r.chance(0.01)) cost = -(1 + r.below(500_000)); // a credit
    const description = r.chance(0.1)
      ? (ODD_DESCRIPTIONS[r.below(ODD_DESCRIPTIONS.length)] as string)
      : callType.description;
    const row: SimRow = {
      id: String(this.idOf(account, n)),
      account: account.login,
      billing_group: GROUPS[r.below(GROUPS.length)] as string,
      billing_period: date.slice(0, 7),
      start_time: withOffset ? `${date}T${time}${formatOffset(offset)}` : `${date} ${time}`,
      from: r.chance(0.2) ? `+61 2 9000 ${1000 + r.below(9000)}` : `6129000${1000 + r.below(9000)}`,
      to: destinationFor(callType, r),
      seconds: String(seconds),
      type: callType.type,
      sub_type: callType.subType,
      carrier_ref: `CR-${n.toString(36)}`,
      cost: formatTenThousandths(cost),
      description,
    };
    if (r.chance(this.options.malformedShare)) breakRow(row, r);
    return row;
  }
}

function destinationFor(callType: CallType, r: RowRandom): string {
  switch (callType.type) {
    case 'M':
    case '3M':
      return `614${String(10_000_000 + r.below(89_999_999))}`;
    case 'I':
      return `44${String(2_000_000_000 + r.below(999_999_999))}`;
    case '8':
      return `1800${String(100_000 + r.below(899_999))}`;
    case '9':
      return `0900${String(100_000 + r.below(899_999))}`;
    default:
      return `6129${String(1_000_000 + r.below(8_999_999))}`;
  }
}

/** 41700 -> "4.1700", -5 -> "-0.0005", 0 -> "0". */
function formatTenThousandths(v: number): string {
  if (v === 0) return '0';
  const abs = Math.abs(v);
  const text = `${Math.floor(abs / 10_000)}.${String(abs % 10_000).padStart(4, '0')}`;
  return v < 0 ? `-${text}` : text;
}

/** Sentinel in the `short` case: the formatter stops the row before this column. */
export const SHORT_ROW_MARK = '\u0000short';

function breakRow(row: SimRow, r: RowRandom): void {
  switch (MALFORMED_KINDS[r.below(MALFORMED_KINDS.length)]) {
    case 'seconds':
      row.seconds = 'abc';
      break;
    case 'period':
      row.billing_period = '2026-13';
      break;
    case 'cost':
      row.cost = '12.3.4';
      break;
    case 'start_time':
      row.start_time = 'yesterday';
      break;
    case 'account':
      row.account = '';
      break;
    default:
      row.cost = SHORT_ROW_MARK;
  }
}
