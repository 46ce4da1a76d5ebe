// One GET of the billing feed. The URL carries the login and password in its query string (the
// carrier's design), so it is built here and never leaves this module: errors and logs get
// `feedTarget()`, the host and fromid only.
import { pipeline, type Readable, Transform, type TransformCallback } from 'node:stream';
import { createGunzip, createInflate } from 'node:zlib';
import { type Dispatcher, request, errors as undiciErrors } from 'undici';
import { CdrError, ErrorCodes } from '../errors.ts';
import { parseRetryAfter } from './retry-after.ts';

export interface FeedCredentials {
  login: string;
  password: string;
}

export interface FeedRequestOptions {
  baseUrl: string;
  credentials: FeedCredentials;
  /** Inclusive: the feed returns rows from this id on. */
  fromId: number;
  headersTimeoutMs: number;
  bodyIdleTimeoutMs: number;
  signal?: AbortSignal;
  dispatcher?: Dispatcher;
  /** A gzip/deflate body may inflate to this many times its size at most (a decompression bomb past it). */
  maxInflateRatio?: number;
}

/** Below this many inflated bytes no ratio is judged: a small body cannot be a bomb. */
const INFLATE_RATIO_FROM = 1 << 20;

export function feedUrl(baseUrl: string, credentials: FeedCredentials, fromId: number): string {
  const url = new URL('billing/feed', baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  url.searchParams.set('login', credentials.login);
  url.searchParams.set('password', credentials.password);
  url.searchParams.set('fromid', String(fromId));
  return url.toString();
}

/** What may be logged of a feed request. */
export function feedTarget(baseUrl: string, fromId?: number): { feedHost: string; fromid?: number } {
  const host = new URL(baseUrl).host;
  return fromId === undefined ? { feedHost: host } : { feedHost: host, fromid: fromId };
}

/** Opens the feed and checks status and content type; resolves to the body of a 200, inflated if compressed. */
export async function openFeed(options: FeedRequestOptions): Promise<Readable> {
  const target = feedTarget(options.baseUrl, options.fromId);
  let res: Dispatcher.ResponseData;
  try {
    res = await request(feedUrl(options.baseUrl, options.credentials, options.fromId), {
      method: 'GET',
      headers: { accept: 'text/csv', 'accept-encoding': 'gzip, deflate' },
      headersTimeout: options.headersTimeoutMs,
      bodyTimeout: options.bodyIdleTimeoutMs,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
    });
  } catch (cause) {
    throw feedTransportError(cause, target);
  }
  const { statusCode } = res;
  if (statusCode === 200) {
    const type = String(res.headers['content-type'] ?? '');
    if (/^text\/html/i.test(type)) {
      await res.body.dump();
      throw new CdrError(ErrorCodes.FEED_NOT_CSV, `feed answered 200 with ${type.split(';')[0]}, not CSV`, {
        retriable: true,
        details: target,
      });
    }
    return inflated(res, options.maxInflateRatio ?? 200, target);
  }
  await res.body.dump().catch(() => undefined);
  if (statusCode === 401 || statusCode === 403) {
    throw new CdrError(
      ErrorCodes.FEED_AUTH,
      `feed refused the login (HTTP ${statusCode}): check FEED login and password`,
      {
        retriable: true,
        details: { ...target, status: statusCode },
      },
    );
  }
  if (statusCode === 429 || statusCode >= 500) {
    const retryAfterMs = parseRetryAfter(res.headers['retry-after'], Date.now());
    throw new CdrError(ErrorCodes.FEED_UNAVAILABLE, `feed unavailable (HTTP ${statusCode})`, {
      retriable: true,
      retryAfterMs,
      details: { ...target, status: statusCode },
    });
  }
  throw new CdrError(ErrorCodes.FEED_STATUS, `feed answered HTTP ${statusCode}`, {
    retriable: true,
    details: { ...target, status: statusCode },
  });
}

/** The body as sent, or inflated (gzip, deflate) with its growth bounded. */
function inflated(res: Dispatcher.ResponseData, maxRatio: number, target: Record<string, unknown>): Readable {
  const encoding = String(res.headers['content-encoding'] ?? '')
    .trim()
    .toLowerCase();
  if (encoding === '' || encoding === 'identity') return res.body;
  if (encoding !== 'gzip' && encoding !== 'x-gzip' && encoding !== 'deflate') {
    res.body.destroy();
    throw new CdrError(
      ErrorCodes.FEED_ENCODING,
      `feed sent Content-Encoding ${encoding}, which is not read`,
      {
        retriable: true,
        details: target,
      },
    );
  }
  let sent = 0;
  const counted = new Transform({
    transform(chunk: Buffer, _e, done: TransformCallback) {
      sent += chunk.length;
      done(null, chunk);
    },
  });
  let grown = 0;
  const bounded = new Transform({
    transform(chunk: Buffer, _e, done: TransformCallback) {
      grown += chunk.length;
      if (grown > INFLATE_RATIO_FROM && grown > maxRatio * sent) {
        done(
          new CdrError(
            ErrorCodes.FEED_ENCODING,
            `feed body inflates past ${maxRatio} times its ${encoding} size (FEED_MAX_INFLATE_RATIO): refused as a decompression bomb`,
            { retriable: true, details: target },
          ),
        );
        return;
      }
      done(null, chunk);
    },
  });
  // pipeline destroys every stream on any error, so the reader of `bounded` sees it.
  return pipeline(
    res.body,
    counted,
    encoding === 'deflate' ? createInflate() : createGunzip(),
    bounded,
    () => {},
  );
}

/** Node's TLS error codes for a certificate the client does not accept, or a handshake refused. */
const TLS_CODES =
  /^(CERT_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_|ERR_TLS_|ERR_SSL_|HOSTNAME_MISMATCH|ERR_TLS_CERT_ALTNAME_INVALID)/;

/** What kind of failure an undici or socket error is: the feed and the recordings both ask. */
export type TransportFailure = 'aborted' | 'timeout' | 'tls' | 'compressed' | 'network';

export function transportFailure(cause: unknown): TransportFailure {
  const err = cause as { name?: string; code?: string };
  if (err.code !== undefined && TLS_CODES.test(err.code)) return 'tls';
  if (err.code?.startsWith('Z_')) return 'compressed';
  if (err.name === 'AbortError' || err.code === 'UND_ERR_ABORTED' || err.code === 'ABORT_ERR')
    return 'aborted';
  return cause instanceof undiciErrors.HeadersTimeoutError ||
    cause instanceof undiciErrors.BodyTimeoutError ||
    err.code === 'UND_ERR_CONNECT_TIMEOUT'
    ? 'timeout'
    : 'network';
}

/** Maps an undici or socket error to a feed error; keeps only the cause's name and code. */
export function feedTransportError(cause: unknown, target: Record<string, unknown>): CdrError {
  if (cause instanceof CdrError) return cause;
  const err = cause as { name?: string; code?: string };
  const details = { ...target, cause: err.code ?? err.name };
  switch (transportFailure(cause)) {
    case 'tls':
      return new CdrError(
        ErrorCodes.FEED_TLS,
        `the carrier's TLS connection failed (${err.code}): check FEED_CA_FILE (its CA) and FEED_CLIENT_CERT_FILE / FEED_CLIENT_KEY_FILE (ours)`,
        { retriable: true, details },
      );
    case 'compressed':
      return new CdrError(ErrorCodes.FEED_ENCODING, `feed's compressed body is corrupt (${err.code})`, {
        retriable: true,
        details,
      });
    case 'aborted':
      return new CdrError(ErrorCodes.ABORTED, 'feed request aborted for shutdown', { details: target });
    case 'timeout':
      return new CdrError(ErrorCodes.FEED_TIMEOUT, `feed timed out (${err.code ?? err.name})`, {
        retriable: true,
        details,
      });
    default:
      return new CdrError(
        ErrorCodes.FEED_NETWORK,
        `feed connection failed (${err.code ?? err.name ?? 'error'})`,
        {
          retriable: true,
          details,
        },
      );
  }
}
