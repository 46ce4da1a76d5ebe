// One GET of the billing feed. The URL carries the login and password in its query string (the
// carrier's design), so it is built here and never leaves this module: errors and logs get
// `feedTarget()`, the host and fromid only.
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
}

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

/** Opens the feed and checks status and content type; resolves to the body stream of a 200. */
export async function openFeed(options: FeedRequestOptions): Promise<Dispatcher.ResponseData['body']> {
  const target = feedTarget(options.baseUrl, options.fromId);
  let res: Dispatcher.ResponseData;
  try {
    res = await request(feedUrl(options.baseUrl, options.credentials, options.fromId), {
      method: 'GET',
      headers: { accept: 'text/csv' },
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
    return res.body;
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

/** Maps an undici or socket error to a feed error; keeps only the cause's name and code. */
export function feedTransportError(cause: unknown, target: Record<string, unknown>): CdrError {
  if (cause instanceof CdrError) return cause;
  const err = cause as { name?: string; code?: string; message?: string };
  const timeout =
    cause instanceof undiciErrors.HeadersTimeoutError ||
    cause instanceof undiciErrors.BodyTimeoutError ||
    err.code === 'UND_ERR_CONNECT_TIMEOUT';
  if (err.name === 'AbortError' || err.code === 'UND_ERR_ABORTED') {
    return new CdrError(ErrorCodes.ABORTED, 'feed request aborted for shutdown', { details: target });
  }
  return new CdrError(
    timeout ? ErrorCodes.FEED_TIMEOUT : ErrorCodes.FEED_NETWORK,
    timeout
      ? `feed timed out (${err.code ?? err.name})`
      : `feed connection failed (${err.code ?? err.name ?? 'error'})`,
    { retriable: true, details: { ...target, cause: err.code ?? err.name } },
  );
}
