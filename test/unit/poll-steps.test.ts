// What a poller does after a failed poll and after a response: decided without I/O (poll-steps.ts).
import { describe, expect, it } from 'vitest';
import { CdrError, ErrorCodes } from '../../src/errors.ts';
import { emptySummary } from '../../src/feed/response.ts';
import { afterFailure, afterResponse, KAFKA_BACKOFF } from '../../src/producer/poll-steps.ts';

const timings = { feedBackoff: { minMs: 1000, maxMs: 60_000 }, authRetryMs: 300_000 };
const top = () => 0.999_999; // the jitter at its top: the delay is the ceiling

describe('after a failed poll', () => {
  it('a feed outage keeps the cursor and backs off on the feed backoff, doubling per failure', () => {
    const err = new CdrError(ErrorCodes.FEED_UNAVAILABLE, 'feed unavailable (HTTP 503)');
    const first = afterFailure(err, 0, timings, top);
    expect(first).toMatchObject({ readCursorAgain: false, attempt: 1, epochRefused: false });
    expect(first.delayMs).toBe(1000);
    expect(afterFailure(err, 3, timings, top).delayMs).toBe(8000);
    expect(afterFailure(err, 20, timings, top).delayMs).toBe(60_000);
  });

  it("honours the feed's Retry-After over the backoff", () => {
    const err = new CdrError(ErrorCodes.FEED_UNAVAILABLE, 'HTTP 429', { retryAfterMs: 42_000 });
    expect(afterFailure(err, 0, timings, top).delayMs).toBe(42_000);
  });

  it('a Kafka failure reads the cursor again and retries soon, whatever the feed asked before', () => {
    const step = afterFailure(new Error('Closed connection'), 6, timings, top);
    expect(step).toMatchObject({ code: ErrorCodes.KAFKA, readCursorAgain: true, attempt: 7 });
    expect(step.delayMs).toBe(KAFKA_BACKOFF.maxMs);
    expect(afterFailure(new CdrError(ErrorCodes.KAFKA, 'x'), 0, timings, top).delayMs).toBe(
      KAFKA_BACKOFF.minMs,
    );
  });

  it('a refused login or an unreadable header retries slowly and marks the account not ready', () => {
    const auth = afterFailure(new CdrError(ErrorCodes.FEED_AUTH, 'HTTP 401'), 2, timings, top);
    expect(auth).toMatchObject({ delayMs: 300_000, authFailing: true, headerUnreadable: false, attempt: 2 });
    expect(auth.readCursorAgain).toBe(false);
    const header = afterFailure(new CdrError(ErrorCodes.FEED_HEADER, 'no layout'), 0, timings, top);
    expect(header).toMatchObject({ delayMs: 300_000, authFailing: false, headerUnreadable: true });
  });

  it('a refused epoch reads the cursor again at once, without counting toward the backoff', () => {
    const step = afterFailure(new CdrError(ErrorCodes.PRODUCER_EPOCH, 'epoch'), 4, timings, top);
    expect(step).toMatchObject({ epochRefused: true, readCursorAgain: true, delayMs: 0, attempt: 4 });
  });

  it('a record Kafka refused as too large halves the limit and reads the cursor again', () => {
    const step = afterFailure(new CdrError(ErrorCodes.MESSAGE_TOO_LARGE, 'too large'), 0, timings, top);
    expect(step).toMatchObject({ halveRecordLimit: true, readCursorAgain: true });
  });
});

describe('after a response', () => {
  const summary = (s: Partial<ReturnType<typeof emptySummary>>) => ({
    ...emptySummary(),
    complete: true,
    ...s,
  });

  it('rows taken: the next request starts at the cursor again, at once', () => {
    expect(afterResponse(summary({ taken: 5 }), 100, 90)).toEqual({
      nextFrom: undefined,
      again: true,
      pointer: undefined,
    });
  });

  it('a pointer past fromid is followed at once', () => {
    expect(afterResponse(summary({ pointer: 500 }), 100, undefined)).toEqual({
      nextFrom: 500,
      again: true,
      pointer: 'followed',
    });
  });

  it('a pointer that does not point forward is not followed; the next request starts where this one did', () => {
    expect(afterResponse(summary({ pointer: 100 }), 100, 100)).toEqual({
      nextFrom: 100,
      again: false,
      pointer: 'not-forward',
    });
    expect(afterResponse(summary({ pointer: 40 }), 100, undefined).nextFrom).toBeUndefined();
  });

  it('nothing at all: wait for the poll interval, from the same place', () => {
    expect(afterResponse(summary({}), 100, 300)).toEqual({ nextFrom: 300, again: false, pointer: undefined });
  });
});
