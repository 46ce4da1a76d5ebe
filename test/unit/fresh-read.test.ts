import { describe, expect, it } from 'vitest';
import { freshSharedRead } from '../../src/ops/fresh-read.ts';

/** A read whose runs are finished by hand; each run's result is its number. */
function controlledRead() {
  const runs: Array<() => void> = [];
  const read = () =>
    new Promise<number>((resolve) => {
      const n = runs.length + 1;
      runs.push(() => resolve(n));
    });
  return { read, runs };
}
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('freshSharedRead', () => {
  it('shares one run among callers who ask before it starts', async () => {
    const { read, runs } = controlledRead();
    const get = freshSharedRead(read);
    const a = get();
    const b = get();
    await tick();
    expect(runs).toHaveLength(1);
    runs[0]?.();
    expect(await Promise.all([a, b])).toEqual([1, 1]);
  });

  it('never gives a caller a run that started before it asked', async () => {
    const { read, runs } = controlledRead();
    const get = freshSharedRead(read);
    const first = get();
    await tick();
    // Run 1 is under way: these two callers get run 2, which starts when run 1 is over.
    const second = get();
    const third = get();
    await tick();
    expect(runs).toHaveLength(1);
    runs[0]?.();
    expect(await first).toBe(1);
    await tick();
    expect(runs).toHaveLength(2);
    runs[1]?.();
    expect(await Promise.all([second, third])).toEqual([2, 2]);
  });

  it('starts the next run even when the one under way fails', async () => {
    let n = 0;
    const get = freshSharedRead(async () => {
      n++;
      if (n === 1) throw new Error('broker gone');
      return n;
    });
    const first = get();
    const second = get();
    await expect(first).rejects.toThrow('broker gone');
    await expect(second).rejects.toThrow('broker gone');
    expect(await get()).toBe(2);
  });
});
