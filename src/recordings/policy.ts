// What happens after a recording could not be stored: asked again after a wait, or dead-lettered
// with its reason. Pure, so that each carrier answer's fate is unit-tested.
//
// - 404: the carrier can publish a recording minutes after its CDR; asked again until
//   RECORDINGS_MAX_WAIT after the CDR was published (the record's timestamp: a restart does not
//   start the wait again), then dead-lettered RECORDING_NOT_FOUND.
// - Too large, or a path that is not a path: dead-lettered at once (asking again changes nothing).
// - 401 / 403: the account's password, or the egress address, is wrong: nothing is lost, the
//   recordings wait (at the longest backoff) until someone fixes it; /readyz says so meanwhile.
// - Anything else (429 / 5xx with Retry-After, a refused or cut connection, an HTML page, a short
//   body, the object storage): asked again with backoff.
import { type ErrorCode, ErrorCodes, isCdrError } from '../errors.ts';
import { type BackoffOptions, retryDelay } from '../ops/retry.ts';

export type Step =
  | { kind: 'retry'; delayMs: number }
  | { kind: 'dead-letter'; code: ErrorCode }
  | { kind: 'stop' };

const DEAD_AT_ONCE: ReadonlySet<string> = new Set([ErrorCodes.RECORDING_TOO_LARGE, ErrorCodes.ROW_INVALID]);
const BLOCKED: ReadonlySet<string> = new Set([ErrorCodes.RECORDING_AUTH, ErrorCodes.RECORDING_FORBIDDEN]);

export function nextStep(
  err: unknown,
  attempt: number,
  ageMs: number,
  options: { maxWaitMs: number; retry: BackoffOptions },
  random?: () => number,
): Step {
  const code = isCdrError(err) ? err.code : undefined;
  if (code === ErrorCodes.ABORTED) return { kind: 'stop' };
  if (code !== undefined && DEAD_AT_ONCE.has(code)) return { kind: 'dead-letter', code };
  if (code === ErrorCodes.RECORDING_NOT_FOUND) {
    const left = options.maxWaitMs - ageMs;
    if (left <= 0) return { kind: 'dead-letter', code };
    return { kind: 'retry', delayMs: Math.min(left, retryDelay(attempt, options.retry, undefined, random)) };
  }
  if (code !== undefined && BLOCKED.has(code)) return { kind: 'retry', delayMs: options.retry.maxMs };
  const retryAfterMs = isCdrError(err) ? err.retryAfterMs : undefined;
  return { kind: 'retry', delayMs: retryDelay(attempt, options.retry, retryAfterMs, random) };
}
