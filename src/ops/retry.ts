// The project's one retry module: jittered exponential backoff, the Retry-After rule, and the
// retry of start-up steps (creating topics, registering a schema, connecting producers) while the
// failure is retriable: a broker still loading its partitions, a registry still starting.
// Configuration errors, misconfigured topics, incompatible schemas and fencing fail at once.
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

const FINAL = new Set<string>([
  ErrorCodes.CONFIG_INVALID,
  ErrorCodes.TOPIC_MISCONFIGURED,
  ErrorCodes.FENCED,
  ErrorCodes.PRODUCER_FENCED,
  ErrorCodes.SCHEMA_INCOMPATIBLE,
]);

/** Whether an error is never worth another try. */
export function isFinal(err: unknown): boolean {
  return isCdrError(err) && FINAL.has(err.code);
}

export async function retryStartup<T>(
  what: string,
  step: () => Promise<T>,
  log: Logger,
  options: { attempts?: number; minMs?: number; maxMs?: number } = {},
): Promise<T> {
  const attempts = options.attempts ?? 8;
  for (let attempt = 0; ; attempt++) {
    try {
      return await step();
    } catch (err) {
      if (isFinal(err) || attempt + 1 >= attempts) {
        if (isCdrError(err)) throw err;
        throw new CdrError(ErrorCodes.RETRIES_EXHAUSTED, `${what} failed ${attempt + 1} times`, {
          cause: err,
        });
      }
      const delay = backoffDelay(attempt, { minMs: options.minMs ?? 500, maxMs: options.maxMs ?? 10_000 });
      // One retry is the normal life of a start (a broker still loading, two processes registering
      // the same subject at once); a second one is worth a look.
      log[attempt === 0 ? 'info' : 'warn'](
        { err, step: what, attempt: attempt + 1, retryInMs: delay },
        'start-up step failed; retrying',
      );
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
