// What a poller does after a poll, decided without I/O: after a failure (how long to wait, whether
// the cursor must be read back, what the account's health says), and after a response (where the
// next request starts). account-poller.ts does the I/O around them; the unit tests hit them here.
import { type ErrorCode, ErrorCodes, FEED_ERRORS, isCdrError } from '../errors.ts';
import type { ResponseSummary } from '../feed/response.ts';
import { type BackoffOptions, retryDelay } from '../ops/retry.ts';

/** Retries after a Kafka failure: 250 ms doubling to 4 s (a leader election takes seconds). */
export const KAFKA_BACKOFF: BackoffOptions = { minMs: 250, maxMs: 4000 };

export interface FailureStep {
  code: ErrorCode;
  /** Wait this long before the next poll. */
  delayMs: number;
  /** The failure count the next failure's backoff starts from. */
  attempt: number;
  /**
   * Forget the cursor in memory: it is read back before the next poll. After any Kafka failure
   * (an ambiguous commit); a feed failure leaves it standing.
   */
  readCursorAgain: boolean;
  /** Kafka refused a record under the limit as too large: halve the limit. */
  halveRecordLimit: boolean;
  /** The login is refused (the account is not ready). */
  authFailing: boolean;
  /** The header fits no layout (the account is not ready). */
  headerUnreadable: boolean;
  /** Kafka refused this client: its login, a certificate or an ACL (the account is not ready). */
  kafkaRefused: boolean;
  /** A refused epoch: the slot waits for its claim before it initialises again (pool.ts). */
  epochRefused: boolean;
}

export interface FailureTimings {
  /** The feed's backoff: for the carrier, which may ask for minutes. */
  feedBackoff: BackoffOptions;
  /** Nothing changes a refused password, a foreign layout or a missing ACL soon: retried this slowly. */
  authRetryMs: number;
}

/**
 * The next step after poll failure number `attempt` (0-based, reset by a poll that succeeds).
 * FENCED is not a step: the poller stops.
 */
export function afterFailure(
  err: unknown,
  attempt: number,
  timings: FailureTimings,
  random?: () => number,
): FailureStep {
  const code = isCdrError(err) ? err.code : ErrorCodes.KAFKA;
  const step: FailureStep = {
    code,
    delayMs: 0,
    attempt,
    readCursorAgain: !FEED_ERRORS.has(code),
    halveRecordLimit: code === ErrorCodes.MESSAGE_TOO_LARGE,
    authFailing: code === ErrorCodes.FEED_AUTH,
    headerUnreadable: code === ErrorCodes.FEED_HEADER,
    kafkaRefused: code === ErrorCodes.KAFKA_ACCESS,
    epochRefused: code === ErrorCodes.PRODUCER_EPOCH,
  };
  // A timed-out transaction or another process: read where the account stands, at once.
  if (step.epochRefused) return step;
  if (step.authFailing || step.headerUnreadable || step.kafkaRefused)
    return { ...step, delayMs: timings.authRetryMs };
  // A Kafka failure is a leader or coordinator moving, over within seconds: asked again soon,
  // whatever the feed asked before.
  const backoff = FEED_ERRORS.has(code) ? timings.feedBackoff : KAFKA_BACKOFF;
  const retryAfterMs = isCdrError(err) ? err.retryAfterMs : undefined;
  return { ...step, delayMs: retryDelay(attempt, backoff, retryAfterMs, random), attempt: attempt + 1 };
}

export interface ResponseStep {
  /** Where the next request starts when not at the cursor: where a pointer row said data continues. */
  nextFrom: number | undefined;
  /** Ask again at once: the response brought rows, or a pointer that was followed. */
  again: boolean;
  /** The response ended in a pointer row: followed, or not (it points back). */
  pointer: 'followed' | 'not-forward' | undefined;
}

/**
 * After a response read from `fromId` (its rows committed): where the next request starts. Rows
 * taken: from the cursor again. A pointer past `fromId`: from the pointer. A pointer that does not
 * point forward is not followed (it would be asked again and again); with nothing at all, the
 * next request starts where this one did (`nextFrom`, unchanged).
 */
export function afterResponse(
  summary: ResponseSummary,
  fromId: number,
  nextFrom: number | undefined,
): ResponseStep {
  if (summary.taken > 0) return { nextFrom: undefined, again: true, pointer: undefined };
  if (summary.pointer === undefined) return { nextFrom, again: false, pointer: undefined };
  if (summary.pointer > fromId) return { nextFrom: summary.pointer, again: true, pointer: 'followed' };
  return { nextFrom, again: false, pointer: 'not-forward' };
}
