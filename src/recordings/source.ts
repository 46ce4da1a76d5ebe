// One recording, fetched from the carrier into a local spool file while it is hashed: never held
// in memory whole. The URL carries the account's login and password in its query string (the
// carrier's "same mechanism" as the feed), so it is built here and never leaves this module:
// errors and logs get the host and the CDR id only.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type Dispatcher, request, errors as undiciErrors } from 'undici';
import { CdrError, ErrorCodes } from '../errors.ts';
import { type FeedCredentials, transportFailure } from '../feed/request.ts';
import { parseRetryAfter } from '../feed/retry-after.ts';

/** The recording of one CDR, as the feed named it. */
export interface RecordingRef {
  /** The CDR's id (a long, as text). */
  id: string;
  account: string;
  billingPeriod: string;
  /** The MP3 column: the recording's path in the account's folder. */
  path: string;
}

export interface FetchOptions {
  /** Base URL, or a template with {path}, {account}, {id}. */
  url: string;
  maxBytes: number;
  headersTimeoutMs: number;
  bodyIdleTimeoutMs: number;
  dispatcher?: Dispatcher | undefined;
  signal?: AbortSignal | undefined;
}

export interface Spooled {
  file: string;
  size: number;
  sha256: string;
  contentType: string;
  fetchedAt: number;
}

const TEMPLATE = /\{(path|account|id)\}/;

/**
 * The path as a relative URL path: each segment percent-encoded, no `.` or `..` segment, no
 * scheme or host. A feed is input: a path that climbs out of the account's folder or names another
 * server is refused (dead-lettered), never requested.
 */
export function safePath(path: string): string {
  const segments = path.replace(/^\/+/, '').split('/');
  if (
    path.trim() === '' ||
    segments.some((s) => s === '' || s === '.' || s === '..') ||
    [...path].some((c) => c.charCodeAt(0) < 0x20)
  )
    throw new CdrError(
      ErrorCodes.ROW_INVALID,
      'the recording path is not a relative path inside the account folder',
      {
        details: { field: 'recording' },
      },
    );
  return segments.map((s) => encodeURIComponent(s)).join('/');
}

/** The recording's URL with the account's credentials (never log it). */
export function recordingUrl(template: string, ref: RecordingRef, credentials: FeedCredentials): string {
  const path = safePath(ref.path);
  const url = TEMPLATE.test(template)
    ? new URL(
        template
          .replaceAll('{path}', path)
          .replaceAll('{account}', encodeURIComponent(ref.account))
          .replaceAll('{id}', encodeURIComponent(ref.id)),
      )
    : new URL(path, template.endsWith('/') ? template : `${template}/`);
  url.searchParams.set('login', credentials.login);
  url.searchParams.set('password', credentials.password);
  return url.toString();
}

/** What may be logged of a recording request. */
export function recordingTarget(template: string, ref: RecordingRef): Record<string, string> {
  const host = new URL(template.replaceAll(/\{(path|account|id)\}/g, 'x')).host;
  return { recordingHost: host, account: ref.account, id: ref.id };
}

/** Fetches the recording into `file`; on any failure the file is removed and a coded error thrown. */
export async function fetchRecording(
  ref: RecordingRef,
  credentials: FeedCredentials,
  file: string,
  options: FetchOptions,
): Promise<Spooled> {
  const target = recordingTarget(options.url, ref);
  let res: Dispatcher.ResponseData;
  try {
    res = await request(recordingUrl(options.url, ref, credentials), {
      method: 'GET',
      headers: { accept: 'audio/mpeg, audio/*;q=0.9' },
      headersTimeout: options.headersTimeoutMs,
      bodyTimeout: options.bodyIdleTimeoutMs,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
    });
  } catch (cause) {
    throw transportError(cause, target);
  }
  if (res.statusCode !== 200) {
    await res.body.dump().catch(() => undefined);
    throw statusError(res, target);
  }
  const contentType =
    String(res.headers['content-type'] ?? 'application/octet-stream')
      .split(';')[0]
      ?.trim() ?? '';
  const announced =
    res.headers['content-length'] === undefined ? undefined : Number(res.headers['content-length']);
  const refuse = async (
    code: typeof ErrorCodes.RECORDING_BAD_BODY | typeof ErrorCodes.RECORDING_TOO_LARGE,
    message: string,
  ) => {
    await res.body.dump().catch(() => undefined);
    return new CdrError(code, message, {
      retriable: code === ErrorCodes.RECORDING_BAD_BODY,
      details: target,
    });
  };
  if (/^text\/html/i.test(contentType))
    throw await refuse(
      ErrorCodes.RECORDING_BAD_BODY,
      'the carrier answered 200 with an HTML page, not a recording',
    );
  if (announced !== undefined && announced > options.maxBytes)
    throw await refuse(
      ErrorCodes.RECORDING_TOO_LARGE,
      `the recording is ${announced} bytes, over RECORDINGS_MAX_BYTES (${options.maxBytes})`,
    );
  const check = new BodyCheck(options.maxBytes, target);
  try {
    await pipeline(res.body, check, createWriteStream(file), {
      signal: options.signal ?? AbortSignal.timeout(2 ** 31 - 1),
    });
  } catch (cause) {
    await unlink(file).catch(() => undefined);
    throw cutShort(cause, check.size, announced, target) ?? transportError(cause, target);
  }
  const fail = async (message: string) => {
    await unlink(file).catch(() => undefined);
    return new CdrError(ErrorCodes.RECORDING_BAD_BODY, message, { retriable: true, details: target });
  };
  if (check.size === 0) throw await fail('the carrier answered 200 with an empty body');
  if (announced !== undefined && announced !== check.size)
    throw await fail(`the body has ${check.size} bytes where Content-Length said ${announced}`);
  return { file, size: check.size, sha256: check.digest(), contentType, fetchedAt: Date.now() };
}

/** Counts and hashes the bytes as they pass; refuses an HTML page and anything past the limit. */
class BodyCheck extends Transform {
  size = 0;
  private readonly hash = createHash('sha256');
  private readonly maxBytes: number;
  private readonly target: Record<string, string>;

  constructor(maxBytes: number, target: Record<string, string>) {
    super();
    this.maxBytes = maxBytes;
    this.target = target;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (this.size === 0 && /^\s*<(!doctype|html)/i.test(chunk.subarray(0, 64).toString('latin1'))) {
      done(
        new CdrError(
          ErrorCodes.RECORDING_BAD_BODY,
          'the carrier answered 200 with an HTML page, not a recording',
          { retriable: true, details: this.target },
        ),
      );
      return;
    }
    this.size += chunk.length;
    if (this.size > this.maxBytes) {
      done(
        new CdrError(
          ErrorCodes.RECORDING_TOO_LARGE,
          `the recording is over RECORDINGS_MAX_BYTES (${this.maxBytes})`,
          { details: this.target },
        ),
      );
      return;
    }
    this.hash.update(chunk);
    done(null, chunk);
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}

function statusError(res: Dispatcher.ResponseData, target: Record<string, string>): CdrError {
  const status = res.statusCode;
  const details = { ...target, status };
  if (status === 404)
    return new CdrError(ErrorCodes.RECORDING_NOT_FOUND, 'the carrier has no recording at that path (yet)', {
      retriable: true,
      details,
    });
  if (status === 401)
    return new CdrError(
      ErrorCodes.RECORDING_AUTH,
      `the carrier refused the account's login for its recordings (HTTP 401): check the account's password`,
      { retriable: true, details },
    );
  if (status === 403)
    return new CdrError(
      ErrorCodes.RECORDING_FORBIDDEN,
      'the carrier refused this address (HTTP 403): requests must leave through the whitelisted static IP (FEED_PROXY_URL / HTTPS_PROXY, or the egress gateway)',
      { retriable: true, details },
    );
  return new CdrError(ErrorCodes.RECORDING_UNAVAILABLE, `the carrier answered HTTP ${status}`, {
    retriable: true,
    retryAfterMs:
      status === 429 || status >= 500 ? parseRetryAfter(res.headers['retry-after'], Date.now()) : undefined,
    details,
  });
}

/** A body the connection cut before its Content-Length: a bad body, not an outage (a timeout stays one). */
function cutShort(
  cause: unknown,
  received: number,
  announced: number | undefined,
  target: Record<string, string>,
): CdrError | undefined {
  if (cause instanceof CdrError || cause instanceof undiciErrors.BodyTimeoutError) return undefined;
  if ((cause as { name?: string }).name === 'AbortError' || announced === undefined || received >= announced)
    return undefined;
  return new CdrError(
    ErrorCodes.RECORDING_BAD_BODY,
    `the body ended after ${received} bytes where Content-Length said ${announced}`,
    { retriable: true, details: target },
  );
}

function transportError(cause: unknown, target: Record<string, string>): CdrError {
  if (cause instanceof CdrError) return cause;
  const err = cause as { name?: string; code?: string };
  const failure = transportFailure(cause);
  if (failure === 'aborted')
    return new CdrError(ErrorCodes.ABORTED, 'recording request aborted for shutdown', { details: target });
  return new CdrError(
    ErrorCodes.RECORDING_UNAVAILABLE,
    failure === 'timeout'
      ? `the recording request timed out (${err.code ?? err.name})`
      : `the recording request failed (${err.code ?? err.name ?? 'error'})`,
    { retriable: true, details: { ...target, cause: err.code ?? err.name } },
  );
}
