// A batch: the records of one Kafka transaction. Pure bookkeeping; the poller decides when to
// commit (`isFull`) and the cursor it carries is the last id the batch covers.
import type { Message } from 'kafkajs';

export class Batch {
  readonly raw: Message[] = [];
  readonly dlq: Message[] = [];
  readonly startedAt: number;
  /** Last id covered: rows published, dead-lettered or skipped up to here. */
  lastId: number;

  constructor(cursor: number, now: number) {
    this.lastId = cursor;
    this.startedAt = now;
  }

  get size(): number {
    return this.raw.length + this.dlq.length;
  }

  isFull(maxRows: number, maxMs: number, now: number): boolean {
    return this.size >= maxRows || (this.size > 0 && now - this.startedAt >= maxMs);
  }
}
