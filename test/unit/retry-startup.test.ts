import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { CdrError, ErrorCodes } from '../../src/errors.ts';
import { retryStartup } from '../../src/ops/retry.ts';

const log = pino({ level: 'silent' });
const fast = { minMs: 1, maxMs: 2 };

describe('retryStartup', () => {
  it('retries a failing step until it succeeds', async () => {
    let calls = 0;
    const value = await retryStartup(
      'step',
      async () => {
        calls++;
        if (calls < 3) throw new Error('broker still loading');
        return 'ok';
      },
      log,
      fast,
    );
    expect(value).toBe('ok');
    expect(calls).toBe(3);
  });

  it('gives up after the attempts with an error that keeps the cause', async () => {
    let calls = 0;
    const err = await retryStartup(
      'step',
      async () => {
        calls++;
        throw new Error('still down');
      },
      log,
      { ...fast, attempts: 4 },
    ).catch((e: unknown) => e as CdrError);
    expect(calls).toBe(4);
    expect(err.code).toBe(ErrorCodes.RETRIES_EXHAUSTED);
    expect((err.cause as Error).message).toBe('still down');
  });

  it.each([ErrorCodes.CONFIG_INVALID, ErrorCodes.TOPIC_MISCONFIGURED, ErrorCodes.FENCED])(
    'does not retry %s',
    async (code) => {
      let calls = 0;
      const err = await retryStartup(
        'step',
        async () => {
          calls++;
          throw new CdrError(code, 'final');
        },
        log,
        fast,
      ).catch((e: unknown) => e as CdrError);
      expect(calls).toBe(1);
      expect(err.code).toBe(code);
    },
  );
});
