import { describe, expect, it } from 'vitest';
import { Permits } from '../../src/ops/permits.ts';

describe('Permits', () => {
  it('hands out at most its count, in the order asked, and takes a waiter back when aborted', async () => {
    const p = new Permits(2);
    const order: string[] = [];
    const a = await p.acquire();
    const b = await p.acquire();
    const abort = new AbortController();
    const c = p.acquire().then((r) => {
      order.push('c');
      return r;
    });
    const skipped = p.acquire(abort.signal).then(
      () => order.push('skipped'),
      () => order.push('aborted'),
    );
    const d = p.acquire().then((r) => {
      order.push('d');
      return r;
    });
    abort.abort();
    await skipped;
    a();
    a(); // twice: still one permit back
    const rc = await c;
    expect(order).toEqual(['aborted', 'c']);
    b();
    const rd = await d;
    expect(order).toEqual(['aborted', 'c', 'd']);
    rc();
    rd();
    // All back: two at once again, not three.
    const e = await p.acquire();
    const f = await p.acquire();
    let third = false;
    void p.acquire().then(() => {
      third = true;
    });
    // Every pending callback run: the third is still waiting.
    await new Promise((resolve) => setImmediate(resolve));
    expect(third).toBe(false);
    e();
    await new Promise((resolve) => setImmediate(resolve));
    expect(third).toBe(true);
    f();
  });

  it('run() gives the permit back whether its function resolves or throws', async () => {
    const p = new Permits(1);
    expect(await p.run(async () => 'done')).toBe('done');
    await expect(
      p.run(async () => {
        throw new Error('failed');
      }),
    ).rejects.toThrow('failed');
    // The one permit is free again: taken at once.
    let got = false;
    const release = await p.acquire().then((r) => {
      got = true;
      return r;
    });
    expect(got).toBe(true);
    release();
  });
});
