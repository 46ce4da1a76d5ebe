// The feed body as a stream of parsed rows, with the raw text and line of each for the DLQ.
// csv-parse does the RFC 4180 work (quotes, doubled quotes, line breaks in fields, BOM, CRLF);
// a record it cannot parse is reported as a `broken` row instead of stopping the stream.

import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type Info, parse } from 'csv-parse';
import { looksLikeHeader } from '../cdr/header.ts';
import { CdrError, ErrorCodes } from '../errors.ts';

export type FeedRow =
  | { kind: 'header'; fields: string[] }
  | { kind: 'row'; fields: string[]; raw: string; line: number }
  | { kind: 'broken'; raw: string; line: number; reason: string };

/**
 * Yields the header first, then rows in order. Throws the body's own error (a reset, a timeout)
 * after the rows fully received before it; a partial last row is never yielded.
 */
export async function* feedRows(body: Readable): AsyncGenerator<FeedRow> {
  const parser = parse({
    bom: true,
    relax_column_count: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
    raw: true,
    info: true,
  });
  const broken: FeedRow[] = [];
  parser.on('skip', (err: Error & { lines?: number }, raw?: string) => {
    broken.push({ kind: 'broken', raw: raw ?? '', line: err.lines ?? 0, reason: err.message });
  });
  let bodyError: unknown;
  const flow = pipeline(body, parser).catch((err: unknown) => {
    bodyError = err;
  });
  let sawHeader = false;
  try {
    for await (const rec of parser as AsyncIterable<{ record: string[]; raw: string; info: Info }>) {
      if (!sawHeader) {
        if (!looksLikeHeader(rec.record)) {
          throw new CdrError(ErrorCodes.FEED_NOT_CSV, 'feed body does not start with the CSV header', {
            retriable: true,
            details: { firstLine: rec.raw.slice(0, 80) },
          });
        }
        sawHeader = true;
        yield { kind: 'header', fields: rec.record };
        continue;
      }
      while (broken.length > 0) yield broken.shift() as FeedRow;
      yield { kind: 'row', fields: rec.record, raw: rec.raw.replace(/\r?\n$/, ''), line: rec.info.lines };
    }
  } catch (err) {
    if (bodyError === undefined) throw err;
  } finally {
    if (!parser.destroyed) parser.destroy();
  }
  await flow;
  if (bodyError !== undefined) throw bodyError;
  if (!sawHeader && broken.length > 0) {
    throw new CdrError(ErrorCodes.FEED_NOT_CSV, 'feed body does not start with the CSV header', {
      retriable: true,
    });
  }
  while (broken.length > 0) yield broken.shift() as FeedRow;
}
