// A counting semaphore handing out permits in the order they were asked for: with fewer permits
// than askers, every asker gets its turn (no one is passed over while others ask again at once).
export class Permits {
  private free: number;
  private readonly waiting: Array<() => void> = [];

  constructor(count: number) {
    this.free = count;
  }

  /** Resolves with the function that gives the permit back (call it once). */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (this.free > 0 && this.waiting.length === 0) {
      this.free--;
      return this.releaser();
    }
    await new Promise<void>((resolve, reject) => {
      const grant = () => {
        signal?.removeEventListener('abort', abort);
        resolve();
      };
      const abort = () => {
        const i = this.waiting.indexOf(grant);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal?.reason ?? new Error('aborted'));
      };
      signal?.addEventListener('abort', abort, { once: true });
      this.waiting.push(grant);
    });
    return this.releaser();
  }

  /** A permit if one is free and nobody waits for one, else undefined: for work that can be skipped. */
  tryAcquire(): (() => void) | undefined {
    if (this.free === 0 || this.waiting.length > 0) return undefined;
    this.free--;
    return this.releaser();
  }

  /** Runs `fn` holding a permit, and gives it back however `fn` ends. */
  async run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const release = await this.acquire(signal);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    };
  }
}
