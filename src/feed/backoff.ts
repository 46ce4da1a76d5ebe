// Exponential backoff with jitter for feed polls. A server's Retry-After wins over our own guess.
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

export function retryDelay(
  attempt: number,
  options: BackoffOptions,
  retryAfterMs: number | undefined,
  random?: () => number,
): number {
  // Retry-After is honoured as sent, but never beyond an hour (a misconfigured server should not
  // park the poller for a day).
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, 3_600_000);
  return backoffDelay(attempt, options, random);
}
