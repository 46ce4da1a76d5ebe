// A read shared by concurrent callers, where each caller gets the result of a run that started
// after it asked: callers who ask while a run is pending (not started) share that run; a caller
// who asks while a run is under way waits for it and gets the next one. For reads whose callers
// just changed what the read will see (the cursor read after an InitProducerId).
export function freshSharedRead<T>(read: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | undefined;
  let pending: Promise<T> | undefined;
  return () => {
    if (pending) return pending;
    const previous = running ?? Promise.resolve();
    const run: Promise<T> = previous
      .catch(() => undefined)
      .then(() => {
        pending = undefined;
        const current = read();
        running = current;
        return current.finally(() => {
          if (running === current) running = undefined;
        });
      });
    pending = run;
    return run;
  };
}
