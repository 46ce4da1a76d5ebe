// Where feed responses are parsed: in worker threads (`parseWorkers` >= 1), so that the
// CSV, the rows' conversion and the Avro encoding use the second core while the poller's thread
// sends and commits; or on the poller's thread (0). Both give the same batches in the same order
// (response.ts does the work either way); a poller sees only `parse(body, setup, start)`.
//
// Flow. The body is read on the poller's thread and its chunks go to the worker with their bytes
// transferred. Reading pauses while more than PENDING_BYTES of body wait in the worker, or while
// MAX_QUEUED batches wait for the poller: a worker never runs far ahead of the commits, and memory
// stays bounded whatever the size of a response.
//
// Failure. A worker that dies (a crash, an out-of-memory, a terminate) ends each response it was
// parsing with a CDR_PARSE_WORKER error after the batches it had handed back: the poller commits
// those, and reads the rest again from the cursor at the next poll. Nothing a worker holds is
// committed state. The next response starts a new worker.
import type { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import type avro from 'avsc';
import type { Logger } from 'pino';
import { CdrError, type ErrorCode, ErrorCodes } from '../errors.ts';
import {
  emptySummary,
  type ParsedBatch,
  ResponseParser,
  type ResponseSetup,
  type ResponseStart,
  type ResponseSummary,
} from './response.ts';

export type ToParser =
  | { op: 'open'; sid: number; setup: ResponseSetup; start: ResponseStart }
  | { op: 'chunk'; sid: number; chunk: Uint8Array }
  | { op: 'end'; sid: number; broken: boolean }
  | { op: 'close'; sid: number };

interface ErrorData {
  code?: ErrorCode;
  message: string;
  retriable?: boolean;
  details?: Record<string, unknown>;
}

type FromParser =
  | { sid: number; kind: 'batches'; batches: ParsedBatch[]; bytes: number; done: boolean }
  | { sid: number; kind: 'end'; batches: ParsedBatch[]; summary: ResponseSummary; error?: ErrorData };

/** What a response gives its poller, in order: its batches, then its end. */
export type ResponseEvent =
  | { kind: 'batch'; batch: ParsedBatch }
  /** `error`: the body broke off or could not be read; the batches before it are good. */
  | { kind: 'end'; summary: ResponseSummary; error: unknown };

export interface ResponseParsers {
  parse(body: Readable, setup: ResponseSetup, start: ResponseStart): AsyncGenerator<ResponseEvent>;
  /**
   * Stops the worker threads now, as a crash would: each response being parsed ends with
   * CDR_PARSE_WORKER after the batches already handed back; the next response starts a new worker.
   */
  stopWorkers(): Promise<void>;
  /** Stops the workers for good (shutdown). */
  close(): Promise<void>;
}

/** Body bytes handed to a worker and not yet parsed, at most (the body's reading pauses beyond). */
const PENDING_BYTES = 2 * 1024 * 1024;
/** Parsed batches waiting for their poller, at most. */
const MAX_QUEUED = 2;

/** `workers` threads (0: on the caller's thread), each parsing any number of responses. */
export function createParsers(workers: number, avroType: avro.Type, logger: Logger): ResponseParsers {
  return workers > 0 ? new WorkerParsers(workers, logger) : new InlineParsers(avroType);
}

class InlineParsers implements ResponseParsers {
  private readonly type: avro.Type;

  constructor(type: avro.Type) {
    this.type = type;
  }

  async *parse(body: Readable, setup: ResponseSetup, start: ResponseStart): AsyncGenerator<ResponseEvent> {
    const parser = new ResponseParser(setup, start, this.type);
    let error: unknown;
    try {
      for await (const chunk of body) {
        for (const batch of parser.push(chunk as Buffer)) yield { kind: 'batch', batch };
        if (parser.done) break;
      }
    } catch (err) {
      error = err;
    }
    let end: ReturnType<ResponseParser['end']> | undefined;
    if (error === undefined) {
      try {
        end = parser.end(false);
      } catch (err) {
        error = err;
      }
    }
    end ??= parser.end(true);
    for (const batch of end.batches) yield { kind: 'batch', batch };
    yield { kind: 'end', summary: end.summary, error };
  }

  async stopWorkers(): Promise<void> {}

  async close(): Promise<void> {}
}

const workerUrl = new URL(
  import.meta.url.endsWith('.ts') ? './parse-worker.ts' : './parse-worker.js',
  import.meta.url,
);

let nextSid = 1;

class WorkerParsers implements ResponseParsers {
  private readonly threads: Array<ParseThread | undefined>;
  private readonly logger: Logger;
  private turn = 0;
  private closed = false;

  constructor(workers: number, logger: Logger) {
    this.threads = new Array(workers).fill(undefined);
    this.logger = logger;
  }

  async *parse(body: Readable, setup: ResponseSetup, start: ResponseStart): AsyncGenerator<ResponseEvent> {
    if (this.closed) throw new CdrError(ErrorCodes.ABORTED, 'the parse workers are closed');
    const session = this.thread().startSession(setup, start);
    const pumped = pump(body, session);
    try {
      for (;;) {
        const ev = await session.next();
        yield ev;
        if (ev.kind === 'end') return;
      }
    } finally {
      session.close();
      body.destroy();
      await pumped;
    }
  }

  async stopWorkers(): Promise<void> {
    await Promise.all(this.threads.map((t) => t?.terminate()));
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.stopWorkers();
  }

  /** The next thread in turn; a dead one is replaced. */
  private thread(): ParseThread {
    const i = this.turn++ % this.threads.length;
    let t = this.threads[i];
    if (t === undefined || t.dead) {
      t = new ParseThread(this.logger);
      this.threads[i] = t;
    }
    return t;
  }
}

/** Reads the body into the session's worker until it ends, breaks, or the worker needs no more. */
async function pump(body: Readable, session: Session): Promise<void> {
  let error: unknown;
  try {
    for await (const chunk of body) {
      if (!(await session.send(chunk as Buffer))) break;
    }
  } catch (err) {
    error = err;
  }
  session.end(error);
}

class ParseThread {
  dead = false;
  private readonly worker: Worker;
  private readonly sessions = new Map<number, Session>();

  constructor(logger: Logger) {
    this.worker = new Worker(workerUrl);
    // Shutdown closes the parsers; a worker alone does not keep the process alive.
    this.worker.unref();
    this.worker.on('message', (m: FromParser) => this.sessions.get(m.sid)?.receive(m));
    const fail = (cause: unknown, what: string) => {
      if (this.dead) return;
      this.dead = true;
      if (this.sessions.size > 0) logger.warn({ err: cause, responses: this.sessions.size }, what);
      const err = new CdrError(ErrorCodes.PARSE_WORKER, `the parse worker stopped: ${what}`, {
        cause,
        retriable: true,
      });
      for (const s of this.sessions.values()) s.fail(err);
      this.sessions.clear();
    };
    this.worker.on('error', (err) => fail(err, 'parse worker failed'));
    this.worker.on('exit', (code) => fail(new Error(`exit code ${code}`), 'parse worker exited'));
  }

  startSession(setup: ResponseSetup, start: ResponseStart): Session {
    const sid = nextSid++;
    const session = new Session(
      sid,
      (m, transfer) => this.worker.postMessage(m, transfer),
      () => this.sessions.delete(sid),
    );
    this.sessions.set(sid, session);
    this.worker.postMessage({ op: 'open', sid, setup, start } satisfies ToParser);
    return session;
  }

  async terminate(): Promise<void> {
    await this.worker.terminate();
  }
}

/** One response in a worker: its events as they come back, and the body's flow into it. */
class Session {
  private readonly sid: number;
  private readonly post: (m: ToParser, transfer?: ArrayBuffer[]) => void;
  private readonly forget: () => void;
  private readonly events: ResponseEvent[] = [];
  /** Batches among `events` (the end is not counted). */
  private queued = 0;
  private pendingBytes = 0;
  /** The body's own error, when it broke: the end event carries it. */
  private bodyError: unknown;
  /** No more body wanted: the worker reached the end of a window, the response ended, or the poller left. */
  private enough = false;
  private ended = false;
  /** The body's reader waiting for room, and the poller waiting for an event. */
  private wakeSender: (() => void) | undefined;
  private wakeReader: (() => void) | undefined;

  constructor(sid: number, post: Session['post'], forget: () => void) {
    this.sid = sid;
    this.post = post;
    this.forget = forget;
  }

  /** Hands a chunk of body to the worker when there is room; false when no more is wanted. */
  async send(chunk: Buffer): Promise<boolean> {
    while (!this.enough && (this.pendingBytes >= PENDING_BYTES || this.queued >= MAX_QUEUED))
      await new Promise<void>((resolve) => {
        this.wakeSender = resolve;
      });
    if (this.enough) return false;
    // A copy the worker owns: the body's chunk may be a view of a buffer shared with others.
    const own = new Uint8Array(chunk.byteLength);
    own.set(chunk);
    this.pendingBytes += own.byteLength;
    this.post({ op: 'chunk', sid: this.sid, chunk: own }, [own.buffer]);
    return true;
  }

  /** The body ended (`error`: it broke off). */
  end(error: unknown): void {
    if (this.ended) return;
    this.bodyError = error;
    this.enough = true;
    this.post({ op: 'end', sid: this.sid, broken: error !== undefined });
  }

  receive(m: FromParser): void {
    for (const batch of m.batches) this.events.push({ kind: 'batch', batch });
    this.queued += m.batches.length;
    if (m.kind === 'batches') {
      this.pendingBytes -= m.bytes;
      if (m.done) this.enough = true;
    } else {
      const error = m.error === undefined ? this.bodyError : parseError(m.error);
      this.finish({ kind: 'end', summary: m.summary, error });
    }
    this.notify();
  }

  fail(err: CdrError): void {
    this.finish({ kind: 'end', summary: emptySummary(), error: err });
    this.notify();
  }

  /** The next event, waiting for it. */
  async next(): Promise<ResponseEvent> {
    while (this.events.length === 0)
      await new Promise<void>((resolve) => {
        this.wakeReader = resolve;
      });
    const ev = this.events.shift() as ResponseEvent;
    if (ev.kind === 'batch') this.queued--;
    this.notify();
    return ev;
  }

  /** The poller is done with the response (at its end, or leaving early). */
  close(): void {
    this.enough = true;
    if (!this.ended) {
      this.ended = true;
      this.forget();
      this.post({ op: 'close', sid: this.sid });
    }
    this.notify();
  }

  private finish(ev: ResponseEvent): void {
    if (this.ended) return;
    this.ended = true;
    this.enough = true;
    this.forget();
    this.events.push(ev);
  }

  private notify(): void {
    const sender = this.wakeSender;
    const reader = this.wakeReader;
    this.wakeSender = undefined;
    this.wakeReader = undefined;
    sender?.();
    reader?.();
  }
}

function parseError(e: ErrorData): CdrError {
  return new CdrError(e.code ?? ErrorCodes.PARSE_WORKER, e.message, {
    retriable: e.retriable ?? true,
    ...(e.details ? { details: e.details } : {}),
  });
}
