// Continuity of an account's ids: ascending per partition, none twice, and the gaps between them.
// Ids are kept as disjoint ranges, so memory grows with the gaps (and with how far partitions are
// read apart), never with the number of CDRs: a million contiguous ids are one range. Pure.

/** Disjoint, sorted, non-adjacent ranges of whole numbers. */
export class IdRanges {
  // starts[i]..ends[i] inclusive; ends[i] + 1 < starts[i + 1].
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];

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
  ids: IdRanges;
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
      a = { account, ids: new IdRanges(), lastOnPartition: new Map() };
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
