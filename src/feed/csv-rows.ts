// The feed body as a stream of parsed rows, with the raw text and line of each for the DLQ.
// csv-parse does the RFC 4180 work (quotes, doubled quotes, line breaks in fields, BOM, CRLF).
// Stray quotes inside a field are kept as data (`relax_quotes`), so one badly quoted row cannot
// swallow the rows after it; a record csv-parse still cannot read is reported as `broken`.
//
// The body is pumped into the parser chunk by chunk (not piped) so that a body that breaks
// (connection reset, idle timeout) still yields every row parsed before the break, and the
// parser is never ended: the partial last row is never flushed out as a row.
import type { Readable } from 'node:stream';
import { type Info, parse } from 'csv-parse';
import { looksLikeHeader } from '../cdr/header.ts';
import { CdrError, ErrorCodes } from '../errors.ts';

export type FeedRow =
  | { kind: 'header'; fields: string[] }
  | { kind: 'row'; fields: string[]; raw: string; line: number }
  | { kind: 'broken'; raw: string; line: number; reason: string };

type Parsed = { record: string[]; raw: string; info: Info };

const TRAILING_EOL = /(?:\r\n|\n|\r)$/;

/** Yields the header first, then rows in order; throws the body's own error after the rows before it. */
export async function* feedRows(body: Readable): AsyncGenerator<FeedRow> {
  const parser = parse({
    bom: true,
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
    raw: true,
    info: true,
  });
  const queue: FeedRow[] = [];
  let sawHeader = false;
  let parseError: unknown;
  parser.on('data', (rec: Parsed) => {
    if (!sawHeader) {
      if (!looksLikeHeader(rec.record)) {
        parseError ??= new CdrError(ErrorCodes.FEED_NOT_CSV, 'feed body does not start with the CSV header', {
          retriable: true,
        });
        return;
      }
      sawHeader = true;
      queue.push({ kind: 'header', fields: rec.record });
      return;
    }
    queue.push({
      kind: 'row',
      fields: rec.record,
      raw: rec.raw.replace(TRAILING_EOL, ''),
      line: rec.info.lines,
    });
  });
  parser.on('skip', (err: Error & { lines?: number }, raw?: string) => {
    if (!sawHeader) {
      parseError ??= new CdrError(ErrorCodes.FEED_NOT_CSV, 'feed body does not start with the CSV header', {
        retriable: true,
      });
      return;
    }
    queue.push({
      kind: 'broken',
      raw: (raw ?? '').replace(TRAILING_EOL, ''),
      line: err.lines ?? 0,
      reason: err.message,
    });
  });
  parser.on('error', (err) => {
    parseError ??= err;
  });

  try {
    for await (const chunk of body) {
      await write(parser, chunk as Buffer);
      if (parseError) throw parseError;
      while (queue.length > 0) yield queue.shift() as FeedRow;
    }
    await new Promise<void>((resolve) => {
      parser.once('end', resolve);
      parser.end();
    });
    if (parseError) throw parseError;
    while (queue.length > 0) yield queue.shift() as FeedRow;
  } finally {
    if (!parser.destroyed) parser.destroy();
  }
}

/** Writes one chunk and waits until the records it completed have been emitted. */
function write(parser: ReturnType<typeof parse>, chunk: Buffer): Promise<void> {
  return new Promise((resolve) => {
    parser.write(chunk, () => setImmediate(resolve));
  });
}
