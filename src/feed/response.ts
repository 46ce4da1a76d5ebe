// One feed response, from its bytes to the batches its transactions commit: the CSV rows, the
// header's layout, pointer rows, what each row means for the cursor (row-policy.ts), and each
// taken row's record (records.ts), packed into one buffer per batch. Synchronous and free of
// I/O, so the same code runs in the parse worker (parse-worker.ts) or on the poller's thread.
//
// A batch is cut as the poller always cut them: when it holds `batch.maxRows` rows, or when a row
// arrives `batch.maxMs` after the batch began; what is left when the body ends (or breaks) is the
// last batch. The order of rows inside and across batches is the body's.
import type avro from 'avsc';
import type { Message } from 'kafkajs';
import { readHeader } from '../cdr/header.ts';
import type { HeaderMap } from '../cdr/layouts.ts';
import { parseId, RowReader } from '../cdr/row.ts';
import { TimeZone } from '../cdr/time-zone.ts';
import type { BatchOptions, RowOptions } from '../config/producer.ts';
import type { CursorState } from '../topics/cursor.ts';
import { type FeedRow, FeedRowReader } from './csv-rows.ts';
import { PackedRecords, type RawTopic, RecordBuilder } from './records.ts';
import { RowPolicy, type SkipReason } from './row-policy.ts';

/** What every response of an account is parsed with: plain data, so that it crosses to a worker thread. */
export interface ResponseSetup {
  account: string;
  rows: RowOptions;
  batch: BatchOptions;
  raw: RawTopic;
  /** The feed's host, as the CDRs and dead letters name it. */
  feedHost: string;
}

/** Where one response starts. */
export interface ResponseStart {
  /** When the request was answered (ISO), as the dead letters say. */
  fetchedAt: string;
  cursor: CursorState;
  /** The last row the previous response held back (see row-policy.ts). */
  heldTail: string | undefined;
  /** Largest record (key + value) cdr.raw takes, as far as the poller knows. */
  maxMessageBytes: number;
}

/** A batch's records and where the cursor stands after it; `raw` packed (see PackedRecords). */
export interface ParsedBatch {
  raw: PackedRecords;
  dlq: Message[];
  lastId: number;
  deadLetteredAfter: number;
  /** Latest call start among the batch's CDRs, epoch ms. */
  newestStart: number | undefined;
  rowsSkipped: Partial<Record<SkipReason, number>>;
}

/** What the whole response held, once it ended. */
export interface ResponseSummary {
  /** Rows received after the header (taken, skipped, or the pointer). */
  fetched: number;
  taken: number;
  /** Rows whose id was not above the cursor (skipped, not counting the repeated cursor row). */
  backwards: number;
  /** Where the pointer row said data continues. */
  pointer: number | undefined;
  /** Whether the body was read to its end (or to the end of its window); else it broke off. */
  complete: boolean;
  /** When complete: the row held back until the next poll (the body ended without a line end). */
  heldTail: string | undefined;
}

/** What a response held before its first row. */
export function emptySummary(): ResponseSummary {
  return { fetched: 0, taken: 0, backwards: 0, pointer: undefined, complete: false, heldTail: undefined };
}

export class ResponseParser {
  private readonly setup: ResponseSetup;
  private readonly fetchedAt: string;
  private readonly rows: FeedRowReader;
  private readonly policy: RowPolicy;
  private readonly records: RecordBuilder;
  private readonly zone: TimeZone;
  private header: HeaderMap | undefined;
  private reader: RowReader | undefined;
  private batch: ParsedBatch;
  private batchStartedAt: number;
  /** Batches cut and not yet returned (kept when a push throws half way, for `end`). */
  private ready: ParsedBatch[] = [];
  /** A window's end (empty first row or pointer) was reached: the rest of the body is not read. */
  private stopped = false;
  private readonly summary = emptySummary();

  constructor(setup: ResponseSetup, start: ResponseStart, avroType: avro.Type) {
    this.setup = setup;
    this.fetchedAt = start.fetchedAt;
    const { rows } = setup;
    this.zone = new TimeZone(rows.timeZone);
    this.policy = new RowPolicy({
      cursor: start.cursor.lastId,
      deadLetteredAfter: start.cursor.deadLetteredAfter,
      heldTail: start.heldTail,
    });
    this.rows = new FeedRowReader({
      delimiter: rows.delimiter,
      maxRecordChars: rows.maxRecordChars,
      rawClipChars: rows.deadLetterRawMaxChars,
      acceptTail: this.policy.acceptTail,
    });
    this.records = new RecordBuilder({
      account: setup.account,
      avroType,
      raw: setup.raw,
      maxMessageBytes: start.maxMessageBytes,
      feedHost: setup.feedHost,
      noGroupKeyPrefix: rows.noGroupKeyPrefix,
      deadLetterRawMaxChars: rows.deadLetterRawMaxChars,
    });
    this.batchStartedAt = Date.now();
    this.batch = this.newBatch(start.cursor);
  }

  /** Whether the rest of the body is not needed (the end of a window was reached). */
  get done(): boolean {
    return this.stopped;
  }

  /** The batches this chunk completed. Throws when the body is not a feed body or its header fits no layout. */
  push(chunk: Buffer): ParsedBatch[] {
    if (!this.stopped) for (const ev of this.rows.push(chunk)) if (!this.row(ev)) break;
    return this.take();
  }

  /**
   * The body ended (`broken`: it broke off, or the rows before threw, and a partial last record is
   * dropped): the last batch, possibly without records (it may still move the cursor), and what
   * the response held. After a `push` or `end(false)` threw, `end(true)` still gives the rows
   * taken before.
   */
  end(broken: boolean): { batches: ParsedBatch[]; summary: ResponseSummary } {
    if (!broken) {
      if (!this.stopped) for (const ev of this.rows.end()) if (!this.row(ev)) break;
      this.summary.complete = true;
      this.summary.heldTail = this.policy.heldTail;
    }
    this.ready.push(this.cut());
    return { batches: this.take(), summary: this.summary };
  }

  private take(): ParsedBatch[] {
    const out = this.ready;
    this.ready = [];
    return out;
  }

  /** Takes one event of the body; false once the window ended. */
  private row(ev: FeedRow): boolean {
    if (ev.kind === 'header') {
      this.header = readHeader(ev.fields, this.setup.rows.layouts, this.setup.rows.currency);
      this.reader = new RowReader(this.header, { zone: this.zone, login: this.setup.account });
      return true;
    }
    if (ev.kind === 'tail') {
      this.policy.hold(ev.raw);
      return true;
    }
    const s = this.summary;
    s.fetched++;
    const h = this.header as HeaderMap;
    const r = this.reader as RowReader;
    if (ev.kind === 'record' && s.taken === 0 && h.layout.pointerWhenEmpty) {
      // Windowed feeds: a first row with an empty id holds nothing; a pointer row says where data
      // continues. Neither is a CDR.
      const empty = s.fetched === 1 && r.idIsEmpty(ev.fields);
      if (empty || r.isPointer(ev.fields)) {
        if (!empty) s.pointer = r.id(ev.fields);
        this.stopped = true;
        return false;
      }
    }
    const id = ev.kind === 'record' ? r.id(ev.fields) : parseId(ev.leading[h.index.id]);
    const decision = this.policy.decide(id);
    const b = this.batch;
    if (decision.action === 'skip') {
      if (decision.reason !== 'cursor_row')
        b.rowsSkipped[decision.reason] = (b.rowsSkipped[decision.reason] ?? 0) + 1;
      if (decision.reason === 'id_not_above_cursor') s.backwards++;
      return true;
    }
    s.taken++;
    const startTime = this.records.take(ev, r, id, this.fetchedAt, b);
    if (startTime !== undefined && (b.newestStart === undefined || startTime > b.newestStart))
      b.newestStart = startTime;
    b.lastId = this.policy.lastId;
    b.deadLetteredAfter = this.policy.deadLetteredAfter;
    const size = b.raw.count + b.dlq.length;
    const now = Date.now();
    if (size >= this.setup.batch.maxRows || now - this.batchStartedAt >= this.setup.batch.maxMs) {
      this.ready.push(this.cut());
      this.batchStartedAt = now;
    }
    return true;
  }

  /** The batch so far; the next one starts where it ends. */
  private cut(): ParsedBatch {
    const b = this.batch;
    b.raw.seal();
    this.batch = this.newBatch(b, b.raw);
    return b;
  }

  /** A batch starting where `from` ends; sized like `before`, the batch before it (if any). */
  private newBatch(from: CursorState, before?: PackedRecords): ParsedBatch {
    // A little more than the batch before, so that a full batch is not grown by doubling from a
    // few records: a few MB less garbage per batch, and no buffer twice the size it needs.
    const raw =
      before === undefined || before.count === 0
        ? new PackedRecords(Math.min(this.setup.batch.maxRows, 32))
        : new PackedRecords(
            Math.min(this.setup.batch.maxRows, before.count + (before.count >> 3) + 1),
            before.used + (before.used >> 3) + 1024,
          );
    return {
      raw,
      dlq: [],
      lastId: from.lastId,
      deadLetteredAfter: from.deadLetteredAfter,
      newestStart: undefined,
      rowsSkipped: {},
    };
  }
}
