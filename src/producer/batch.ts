// A batch: the records of one Kafka transaction. Pure bookkeeping; the poller decides when to
// commit (`isFull`) and the cursor it carries covers every row up to `lastId`.
import type { Message } from 'kafkajs';
import type { CdrTally } from '../control/records.ts';

/** Where an account stands: the last id covered and the id-less rows dead-lettered after it. */
export interface CursorState {
  lastId: number;
  deadLetteredAfter: number;
}

export class Batch {
  readonly raw: Message[] = [];
  /** What each record of `raw` counts for in the control records (same index). */
  readonly tallies: CdrTally[] = [];
  readonly dlq: Message[] = [];
  readonly startedAt: number;
  /** Last id covered: rows published, dead-lettered or skipped up to here. */
  lastId: number;
  deadLetteredAfter: number;
  /** Latest call start among the CDRs of the batch, epoch ms. */
  newestStart: number | undefined;

  constructor(cursor: CursorState, now: number) {
    this.lastId = cursor.lastId;
    this.deadLetteredAfter = cursor.deadLetteredAfter;
    this.startedAt = now;
  }

  get size(): number {
    return this.raw.length + this.dlq.length;
  }

  /** Whether committing it would move the account's cursor at all. */
  moves(cursor: CursorState): boolean {
    return (
      this.size > 0 || this.lastId !== cursor.lastId || this.deadLetteredAfter !== cursor.deadLetteredAfter
    );
  }

  isFull(maxRows: number, maxMs: number, now: number): boolean {
    return this.size >= maxRows || (this.size > 0 && now - this.startedAt >= maxMs);
  }
}
