// Continuity of an account's ids: ascending per partition, none twice, and the gaps between them.
// Memory grows with the gaps, never with the number of CDRs: a million contiguous ids are one
// range. An account's ids arrive interleaved from its partitions, each ascending (a merge without
// the buffers): they are marked in a sliding bitmap a little wider than how far the partitions
// are read apart, and what falls behind it is kept as ranges. Pure.

/** Disjoint, sorted, non-adjacent ranges of whole numbers. */
export class IdRanges {
  // starts[i]..ends[i] inclusive; ends[i] + 1 < starts[i + 1].
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];

  /** Appends a range above every id held (merged with the last range when adjacent). */
  appendRange(from: number, to: number): void {
    const n = this.starts.length;
    if (n > 0 && from <= (this.ends[n - 1] as number) + 1) {
      if (to > (this.ends[n - 1] as number)) this.ends[n - 1] = to;
      return;
    }
    this.starts.push(from);
    this.ends.push(to);
  }

  /** Adds `id`; false when it was already there. */
  add(id: number): boolean {
    const { starts, ends } = this;
    const n = starts.length;
    // The common case: the next id of the last range.
    if (n > 0 && id === (ends[n - 1] as number) + 1) {
      ends[n - 1] = id;
      return true;
    }
    // i: the first range starting after id.
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((starts[mid] as number) <= id) lo = mid + 1;
      else hi = mid;
    }
    const i = lo;
    if (i > 0 && id <= (ends[i - 1] as number)) return false;
    const joinsLeft = i > 0 && (ends[i - 1] as number) + 1 === id;
    const joinsRight = i < n && (starts[i] as number) - 1 === id;
    if (joinsLeft && joinsRight) {
      ends[i - 1] = ends[i] as number;
      starts.splice(i, 1);
      ends.splice(i, 1);
    } else if (joinsLeft) ends[i - 1] = id;
    else if (joinsRight) starts[i] = id;
    else {
      starts.splice(i, 0, id);
      ends.splice(i, 0, id);
    }
    return true;
  }

  has(id: number): boolean {
    let lo = 0;
    let hi = this.starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.starts[mid] as number) <= id) lo = mid + 1;
      else hi = mid;
    }
    return lo > 0 && id <= (this.ends[lo - 1] as number);
  }

  get count(): number {
    let n = 0;
    for (let i = 0; i < this.starts.length; i++)
      n += (this.ends[i] as number) - (this.starts[i] as number) + 1;
    return n;
  }

  get first(): number | undefined {
    return this.starts[0];
  }

  get last(): number | undefined {
    return this.ends[this.ends.length - 1];
  }

  ranges(): Array<[number, number]> {
    return this.starts.map((s, i) => [s, this.ends[i] as number]);
  }

  /** The holes between the ranges: [first missing, last missing]. */
  gaps(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (let i = 1; i < this.starts.length; i++)
      out.push([(this.ends[i - 1] as number) + 1, (this.starts[i] as number) - 1]);
    return out;
  }

  /** Ranges of `this` not in `other`. */
  minus(other: IdRanges): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    const o = other.ranges();
    let j = 0;
    for (const [s0, e] of this.ranges()) {
      let s = s0;
      while (j < o.length && (o[j] as [number, number])[1] < s) j++;
      let k = j;
      while (s <= e) {
        const r = o[k];
        if (r === undefined || r[0] > e) {
          out.push([s, e]);
          break;
        }
        if (r[0] > s) out.push([s, r[0] - 1]);
        s = r[1] + 1;
        k++;
      }
    }
    return out;
  }
}

/** Ids marked in this many consecutive bits before falling behind into ranges (32 KiB). */
const WINDOW_BITS = 1 << 18;

/**
 * How far apart in record time a continuity scan lets partitions be read (see the bounded read's
 * paceMs): 250 ms of ingestion is tens of thousands of ids at the producer's full speed, well
 * inside the window, so ids stay in the fast path.
 */
export const MERGE_PACE_MS = 250;

/**
 * A set of ids added in any order, fast when they arrive roughly ascending (interleaved from
 * partitions each ascending): ids within the window are bits; the window slides up as higher ids
 * arrive, turning the bits it leaves into ranges. An id below the window (a partition read far
 * behind the others) goes to the ranges directly, which is slower but still exact.
 */
export class IdSet {
  private readonly settled = new IdRanges();
  private readonly bits = new Uint32Array(WINDOW_BITS / 32);
  /** The id of bit 0; undefined before the first id. */
  private base: number | undefined;
  /** Highest id marked in the window (its bits above are all clear). */
  private top = Number.NEGATIVE_INFINITY;

  /** Adds `id`; false when it was already there. */
  add(id: number): boolean {
    if (this.base === undefined) this.base = id - WINDOW_BITS / 2;
    if (id < this.base) return this.settled.add(id);
    if (id >= this.base + WINDOW_BITS) this.slide(id - WINDOW_BITS / 2);
    const i = id - (this.base as number);
    const w = i >>> 5;
    const bit = 1 << (i & 31);
    const word = this.bits[w] as number;
    if ((word & bit) !== 0) return false;
    this.bits[w] = word | bit;
    if (id > this.top) this.top = id;
    return true;
  }

  /** Moves the window's start to `to`, turning the bits below it into ranges. */
  private slide(to: number): void {
    const base = this.base as number;
    const shift = to - base;
    this.flushBits(Math.min(shift, WINDOW_BITS));
    if (shift >= WINDOW_BITS) this.bits.fill(0);
    else if (shift > 0) {
      // Shift the bitmap down by `shift` bits, word-aligned part first.
      const words = shift >>> 5;
      const rest = shift & 31;
      const n = this.bits.length;
      for (let k = 0; k < n; k++) {
        const lo = k + words < n ? (this.bits[k + words] as number) : 0;
        const hi = k + words + 1 < n ? (this.bits[k + words + 1] as number) : 0;
        this.bits[k] = rest === 0 ? lo : ((lo >>> rest) | (hi << (32 - rest))) >>> 0;
      }
    }
    this.base = to;
  }

  /** Appends the marked bits [0, count) as ranges to `settled`. */
  private flushBits(count: number): void {
    const base = this.base as number;
    let runStart = -1;
    for (let i = 0; i < count; ) {
      const word = this.bits[i >>> 5] as number;
      // Whole words: skip empty ones, take full ones, when the run state allows.
      if ((i & 31) === 0 && i + 32 <= count) {
        if (word === 0 && runStart < 0) {
          i += 32;
          continue;
        }
        if (word === 0xffffffff && runStart >= 0) {
          i += 32;
          continue;
        }
      }
      const set = (word & (1 << (i & 31))) !== 0;
      if (set && runStart < 0) runStart = i;
      else if (!set && runStart >= 0) {
        this.settled.appendRange(base + runStart, base + i - 1);
        runStart = -1;
      }
      i++;
    }
    if (runStart >= 0) this.settled.appendRange(base + runStart, base + count - 1);
  }

  /** Every id as ranges (the window is settled first: adding goes on afterwards). */
  private settle(): IdRanges {
    if (this.base !== undefined && this.top >= this.base) this.slide(this.top + 1);
    return this.settled;
  }

  has(id: number): boolean {
    return this.settle().has(id);
  }

  get count(): number {
    return this.settle().count;
  }

  get first(): number | undefined {
    return this.settle().first;
  }

  get last(): number | undefined {
    return this.settle().last;
  }

  ranges(): Array<[number, number]> {
    return this.settle().ranges();
  }

  gaps(): Array<[number, number]> {
    return this.settle().gaps();
  }

  minus(other: IdSet): Array<[number, number]> {
    return this.settle().minus(other.settle());
  }
}

export interface ContinuityIssue {
  account: string;
  kind: 'duplicate' | 'out_of_order';
  id: number;
  partition: number;
  offset: string;
  /** For out_of_order: the id before it on the partition. */
  after?: number;
}

export interface AccountContinuity {
  account: string;
  ids: IdSet;
  /** Per partition, the last id read. */
  lastOnPartition: Map<number, number>;
}

/** Every account's ids as read, in offset order per partition. */
export class Continuity {
  readonly accounts = new Map<string, AccountContinuity>();
  readonly issues: ContinuityIssue[] = [];
  /** Issues beyond `maxIssues` are counted, not kept. */
  dropped = 0;
  private readonly maxIssues: number;

  constructor(maxIssues = 100_000) {
    this.maxIssues = maxIssues;
  }

  add(account: string, id: number, partition: number, offset: string): void {
    let a = this.accounts.get(account);
    if (a === undefined) {
      a = { account, ids: new IdSet(), lastOnPartition: new Map() };
      this.accounts.set(account, a);
    }
    const before = a.lastOnPartition.get(partition);
    if (!a.ids.add(id)) this.issue({ account, kind: 'duplicate', id, partition, offset });
    else if (before !== undefined && id < before)
      this.issue({ account, kind: 'out_of_order', id, partition, offset, after: before });
    if (before === undefined || id > before) a.lastOnPartition.set(partition, id);
  }

  private issue(i: ContinuityIssue): void {
    if (this.issues.length < this.maxIssues) this.issues.push(i);
    else this.dropped++;
  }
}
