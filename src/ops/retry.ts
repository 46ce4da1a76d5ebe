// Retries a start-up step (creating topics, registering a schema, connecting a producer) while the
// failure is retriable: a broker that is still loading its partitions, a registry still starting.
// Configuration errors and misconfigured topics fail at once. Jittered exponential delays.
import type { Logger } from 'pino';
import { CdrError, ErrorCodes, isCdrError } from '../errors.ts';
import { backoffDelay } from '../feed/backoff.ts';

const FINAL = new Set<string>([ErrorCodes.CONFIG_INVALID, ErrorCodes.TOPIC_MISCONFIGURED, ErrorCodes.FENCED]);

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
      if ((isCdrError(err) && FINAL.has(err.code)) || attempt + 1 >= attempts) {
        if (isCdrError(err)) throw err;
        throw new CdrError(ErrorCodes.RETRIES_EXHAUSTED, `${what} failed ${attempt + 1} times`, {
          cause: err,
        });
      }
      const delay = backoffDelay(attempt, { minMs: options.minMs ?? 500, maxMs: options.maxMs ?? 10_000 });
      log.warn({ err, step: what, attempt: attempt + 1, retryInMs: delay }, 'start-up step failed; retrying');
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
