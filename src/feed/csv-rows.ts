// The feed body as a stream of rows: the header first, then each row with its raw text and line
// for the DLQ. The CSV work is csv-records.ts; this module adds what a feed body means: the first
// record must be a header, and a body that breaks (connection reset, idle timeout) still yields
// every row completed before the break, while its partial last row is never yielded.
import type { Readable } from 'node:stream';
import { looksLikeHeader } from '../cdr/header.ts';
import { CdrError, ErrorCodes } from '../errors.ts';
import { type CsvEvent, CsvReader, type CsvReaderOptions } from './csv-records.ts';

export type FeedRow =
  | { kind: 'header'; fields: string[] }
  /** A row: its fields, raw text and first line (the CSV record itself). */
  | Extract<CsvEvent, { kind: 'record' }>
  /** A record that cannot be read as CSV: too large, or an unclosed quote. */
  | Extract<CsvEvent, { kind: 'broken' }>
  /** The last record of a body that ended without a line end, held back (see `acceptTail`). */
  | { kind: 'tail'; raw: string; line: number };

export interface FeedRowsOptions extends CsvReaderOptions {
  /** Whether an unterminated last row is taken as a row (true) or held back as a `tail` (false). */
  acceptTail(raw: string): boolean;
}

/**
 * The rows of a body pushed to it chunk by chunk: the header first, then rows in order. `push`
 * throws when the body does not start with a header. Synchronous, so it runs where the body's
 * bytes are (the poller's parse worker, or inline).
 */
export class FeedRowReader {
  private readonly reader: CsvReader;
  private readonly options: FeedRowsOptions;
  private sawHeader = false;

  constructor(options: FeedRowsOptions) {
    this.options = options;
    this.reader = new CsvReader(options);
  }

  push(chunk: Buffer): FeedRow[] {
    return this.rows(this.reader.push(chunk));
  }

  /** The body ended: its last record, when it had no line end (a header is never held back). */
  end(): FeedRow[] {
    return this.rows(this.reader.end((raw) => !this.sawHeader || this.options.acceptTail(raw)));
  }

  private rows(events: CsvEvent[]): FeedRow[] {
    // After the header, the reader's events are the rows as they are.
    if (this.sawHeader || events.length === 0) return events;
    const first = events[0] as CsvEvent;
    if (first.kind !== 'record' || !looksLikeHeader(first.fields)) {
      throw new CdrError(ErrorCodes.FEED_NOT_CSV, 'feed body does not start with the CSV header', {
        retriable: true,
      });
    }
    this.sawHeader = true;
    const out: FeedRow[] = events.slice();
    out[0] = { kind: 'header', fields: first.fields };
    return out;
  }
}

/** Yields the header first, then rows in order; throws the body's own error after the rows before it. */
export async function* feedRows(body: Readable, options: FeedRowsOptions): AsyncGenerator<FeedRow> {
  const reader = new FeedRowReader(options);
  for await (const chunk of body) yield* reader.push(chunk as Buffer);
  yield* reader.end();
}
