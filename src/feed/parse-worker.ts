// The parse worker's thread: it turns the feed bodies the pollers hand it into packed batches
// (response.ts), one session per response, and hands each batch back with its buffers
// transferred. It holds no cursor and writes nothing: a worker that dies loses only batches that
// were never committed, which the next poll reads again from the cursor (parsers.ts).
import { parentPort } from 'node:worker_threads';
import { avroType } from '../codec/schemas.ts';
import { isCdrError } from '../errors.ts';
import type { ToParser } from './parsers.ts';
import { type ParsedBatch, ResponseParser } from './response.ts';

const port = parentPort;
if (port === null) throw new Error('parse-worker.ts runs as a worker thread');
const type = avroType('cdr-raw');
const sessions = new Map<number, ResponseParser>();

const transfer = (batches: readonly ParsedBatch[]) => batches.flatMap((b) => b.raw.transferables());

/** A parse error as plain data: the main thread makes it a CdrError again. */
function errorData(err: unknown) {
  if (isCdrError(err))
    return { code: err.code, message: err.message, retriable: err.retriable, details: err.details };
  return { message: err instanceof Error ? err.message : String(err) };
}

port.on('message', (m: ToParser) => {
  if (m.op === 'open') {
    sessions.set(m.sid, new ResponseParser(m.setup, m.start, type));
    return;
  }
  const parser = sessions.get(m.sid);
  if (parser === undefined) return;
  if (m.op === 'close') {
    sessions.delete(m.sid);
    return;
  }
  if (m.op === 'chunk') {
    try {
      const batches = parser.push(Buffer.from(m.chunk.buffer, m.chunk.byteOffset, m.chunk.byteLength));
      port.postMessage(
        { sid: m.sid, kind: 'batches', batches, bytes: m.chunk.byteLength, done: parser.done },
        transfer(batches),
      );
      return;
    } catch (err) {
      // The batches cut before the error are in end(true)'s, with the rows taken since.
      sessions.delete(m.sid);
      const { batches, summary } = parser.end(true);
      port.postMessage(
        { sid: m.sid, kind: 'end', batches, summary, error: errorData(err) },
        transfer(batches),
      );
      return;
    }
  }
  sessions.delete(m.sid);
  let end: ReturnType<ResponseParser['end']>;
  let error: ReturnType<typeof errorData> | undefined;
  try {
    end = parser.end(m.broken);
  } catch (err) {
    error = errorData(err);
    end = parser.end(true);
  }
  port.postMessage(
    { sid: m.sid, kind: 'end', batches: end.batches, summary: end.summary, error },
    transfer(end.batches),
  );
});
