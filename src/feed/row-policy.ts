// What each row of one feed response means for the account's cursor. Pure: no I/O, no clock.
//
// - The feed's `fromid` is inclusive and the carrier's advice is to ask from the last id collected,
//   so the first row normally repeats the cursor: dropped silently. Any other row whose id is not
//   above the last id covered went backwards: dropped and counted.
// - A row whose id cannot be read is dead-lettered. It has no id to move the cursor past, so the
//   cursor record remembers how many such rows follow its last id (`deadLetteredAfter`), and the
//   next response, which sends them again, does not dead-letter them twice.
// - A last row that the body did not end with a line end may be a row cut short by a feed that
//   stopped mid-row: it is held back, and taken only when the next response ends with the very same
//   text (a feed that never ends its last line). A row that arrives complete is taken as usual.

export interface PolicyStart {
  /** The last id committed for the account. */
  cursor: number;
  /** Rows without a readable id that follow `cursor` and were already dead-lettered. */
  deadLetteredAfter: number;
  /** Raw text of the last row held back by the previous response, if any. */
  heldTail: string | undefined;
}

export type SkipReason = 'cursor_row' | 'id_not_above_cursor' | 'already_dead_lettered';
export type RowDecision = { action: 'take' } | { action: 'skip'; reason: SkipReason };

const TAKE: RowDecision = { action: 'take' };

export class RowPolicy {
  /** The last id covered by what this response took so far. */
  lastId: number;
  /** Rows without a readable id taken (dead-lettered) after `lastId`, counting earlier ones. */
  deadLetteredAfter: number;
  /** Set when this response ended with a row held back. */
  heldTail: string | undefined;
  private readonly start: PolicyStart;
  private rows = 0;
  private unreadable = 0;

  constructor(start: PolicyStart) {
    this.start = start;
    this.lastId = start.cursor;
    this.deadLetteredAfter = start.deadLetteredAfter;
  }

  /** For a row (or a broken record) with this id, or undefined when the id cannot be read. */
  decide(id: number | undefined): RowDecision {
    this.rows++;
    if (id === undefined) {
      this.unreadable++;
      if (this.lastId === this.start.cursor && this.unreadable <= this.start.deadLetteredAfter)
        return { action: 'skip', reason: 'already_dead_lettered' };
      this.deadLetteredAfter++;
      return TAKE;
    }
    if (id <= this.lastId) {
      const repeat = id === this.start.cursor && this.rows === 1;
      return { action: 'skip', reason: repeat ? 'cursor_row' : 'id_not_above_cursor' };
    }
    this.lastId = id;
    this.deadLetteredAfter = 0;
    return TAKE;
  }

  /** Whether an unterminated last row is taken now: only when the previous response ended with it too. */
  readonly acceptTail = (raw: string): boolean => raw === this.start.heldTail;

  /** The body ended with this row cut off or without a line end: it is held back. */
  hold(raw: string): void {
    this.heldTail = raw;
  }
}
