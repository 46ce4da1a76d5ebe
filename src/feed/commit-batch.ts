// A batch: the records of one Kafka transaction, as the poller commits it. The parser cut it
// (response.ts); the cursor it carries covers every row up to `lastId`.
import type { Message } from 'kafkajs';
import type { TallyColumns } from '../topics/control.ts';
import type { CursorState } from '../topics/cursor.ts';
import { PackedRecords } from './records.ts';
import type { ParsedBatch } from './response.ts';

export class CommitBatch {
  readonly raw: Message[];
  /** What each record of `raw` counts for in the control records (CDR i is raw[i]). */
  readonly tallies: TallyColumns;
  readonly dlq: Message[];
  /** Last id covered: rows published, dead-lettered or skipped up to here. */
  readonly lastId: number;
  readonly deadLetteredAfter: number;
  /** Latest call start among the CDRs of the batch, epoch ms. */
  readonly newestStart: number | undefined;

  /** The batch of a parsed one (possibly handed over by a worker thread). */
  constructor(parsed: ParsedBatch) {
    this.raw = PackedRecords.messages(parsed.raw);
    this.tallies = parsed.raw;
    this.dlq = parsed.dlq;
    this.lastId = parsed.lastId;
    this.deadLetteredAfter = parsed.deadLetteredAfter;
    this.newestStart = parsed.newestStart;
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
}
