// What a test opened, closed after it in reverse order, whatever happened in it.
import { afterEach } from 'vitest';

export function cleanupAfterEach(): Array<() => Promise<unknown>> {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  });
  return cleanups;
}
