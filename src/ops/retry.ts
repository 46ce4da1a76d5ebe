// The project's one retry module: jittered exponential backoff, the Retry-After rule, the codes that
// are never retried, and `retry`, which every bounded retry loop uses (start-up steps, fence and
// claim, offset reads, the bounded reads' fetch restarts). It ends with CDR_RETRIES_EXHAUSTED, whose
// `cause` is the last failure; a failure that is never retried is thrown as it is.
//
// Loops that do not end (a poller, a watch) wait with `retryDelay` between their rounds instead:
// they have nothing to give up on.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { CdrError, ErrorCodes, isCdrError } from '../errors.ts';

export interface BackoffOptions {
  minMs: number;
  maxMs: number;
}

/** Delay before retry number `attempt` (0-based): min * 2^attempt capped at max, jittered to 50-100%. */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(options.maxMs, options.minMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling * (0.5 + random() / 2));
}

/**
 * A server's Retry-After wins over our own guess; it is honoured as sent, but never beyond an
 * hour (a misconfigured server should not park the poller for a day).
 */
export function retryDelay(
  attempt: number,
  options: BackoffOptions,
  retryAfterMs: number | undefined,
  random?: () => number,
): number {
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, 3_600_000);
  return backoffDelay(attempt, options, random);
}

/** Never worth another try: a bad setting, a topic or schema the pipeline cannot use, a takeover. */
const FINAL = new Set<string>([
  ErrorCodes.CONFIG_INVALID,
  ErrorCodes.KAFKA_ACCESS,
  ErrorCodes.TOPIC_MISCONFIGURED,
  ErrorCodes.FENCED,
  ErrorCodes.SCHEMA_INCOMPATIBLE,
  ErrorCodes.REFUSED,
  ErrorCodes.ABORTED,
]);

/** Whether an error is never worth another try. */
export function isFinal(err: unknown): boolean {
  return isCdrError(err) && FINAL.has(err.code);
}

export interface RetryOptions {
  /** Tries in all, the first included. */
  attempts: number;
  backoff: BackoffOptions;
  /** Whether this failure is worth another try; never asked for a final one. Default: yes. */
  retryIf?: (err: unknown) => boolean;
  /** Told before each wait. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  /** Ends a wait (CDR_ABORTED). */
  signal?: AbortSignal;
}

/** `step` until it resolves, waiting between tries; `step` is given the 0-based try number. */
export async function retry<T>(
  what: string,
  step: (attempt: number) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await step(attempt);
    } catch (err) {
      if (isFinal(err) || !(options.retryIf?.(err) ?? true)) throw err;
      if (attempt + 1 >= options.attempts) {
        const cause = err instanceof Error ? `: ${err.message}` : '';
        throw new CdrError(ErrorCodes.RETRIES_EXHAUSTED, `${what} failed ${attempt + 1} times${cause}`, {
          cause: err,
        });
      }
      const delay = backoffDelay(attempt, options.backoff);
      options.onRetry?.(err, attempt, delay);
      await sleep(delay, undefined, options.signal ? { signal: options.signal } : {}).catch(() => {
        throw new CdrError(ErrorCodes.ABORTED, `stopped while retrying ${what}`, { cause: err });
      });
    }
  }
}

/**
 * A start-up step (creating topics, registering a schema, connecting producers), retried while the
 * failure may pass: a broker still loading its partitions, a registry still starting.
 */
export async function retryStartup<T>(
  what: string,
  step: () => Promise<T>,
  log: Logger,
  options: { attempts?: number; minMs?: number; maxMs?: number } = {},
): Promise<T> {
  return retry(what, step, {
    attempts: options.attempts ?? 8,
    backoff: { minMs: options.minMs ?? 500, maxMs: options.maxMs ?? 10_000 },
    // One retry is the normal life of a start (a broker still loading, two processes registering
    // the same subject at once); a second one is worth a look.
    onRetry: (err, attempt, delay) =>
      log[attempt === 0 ? 'info' : 'warn'](
        { err, step: what, attempt: attempt + 1, retryInMs: delay },
        'start-up step failed; retrying',
      ),
  });
}
