import type { ServerResponse } from 'node:http';

/** Resolves on 'drain' or 'close', and leaves no listener behind (a response drains thousands of times). */
export function drained(res: ServerResponse): Promise<void> {
  if (res.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
