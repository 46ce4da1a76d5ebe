// The recordings stage's pure parts: what becomes of each carrier answer, the paths and URLs a
// feed row can make, the object keys, and the simulator's recordings.
import { describe, expect, it } from 'vitest';
import { CdrError, ErrorCodes } from '../../src/errors.ts';
import { AccountPermits } from '../../src/recordings/job.ts';
import { nextStep } from '../../src/recordings/policy.ts';
import { recordingTarget, recordingUrl, safePath } from '../../src/recordings/source.ts';
import { objectKey } from '../../src/recordings/store.ts';
import { recordingBytes, recordingLength } from '../../src/simulator/recordings.ts';

const options = { maxWaitMs: 60_000, retry: { minMs: 1000, maxMs: 30_000 } };
const coded = (code: (typeof ErrorCodes)[keyof typeof ErrorCodes], retryAfterMs?: number) =>
  new CdrError(code, 'x', { retriable: true, retryAfterMs });
const half = () => 0.5;

describe('what follows a failed try', () => {
  it('asks a missing recording again until RECORDINGS_MAX_WAIT after its CDR, then dead-letters it', () => {
    const early = nextStep(coded(ErrorCodes.RECORDING_NOT_FOUND), 0, 1000, options, half);
    expect(early.kind).toBe('retry');
    // Never waits past the deadline.
    const late = nextStep(coded(ErrorCodes.RECORDING_NOT_FOUND), 9, 59_500, options, half);
    expect(late).toEqual({ kind: 'retry', delayMs: 500 });
    expect(nextStep(coded(ErrorCodes.RECORDING_NOT_FOUND), 3, 60_000, options)).toEqual({
      kind: 'dead-letter',
      code: ErrorCodes.RECORDING_NOT_FOUND,
    });
  });

  it('dead-letters a recording too large or a path that is not one at once', () => {
    expect(nextStep(coded(ErrorCodes.RECORDING_TOO_LARGE), 0, 0, options).kind).toBe('dead-letter');
    expect(nextStep(coded(ErrorCodes.ROW_INVALID), 0, 0, options).kind).toBe('dead-letter');
  });

  it('holds, never dead-letters, while the carrier refuses the login or the address', () => {
    for (const code of [ErrorCodes.RECORDING_AUTH, ErrorCodes.RECORDING_FORBIDDEN])
      expect(nextStep(coded(code), 50, 10 * 60_000_000, options)).toEqual({ kind: 'retry', delayMs: 30_000 });
  });

  it("retries an outage with backoff, honouring the carrier's Retry-After, and stops on shutdown", () => {
    const first = nextStep(coded(ErrorCodes.RECORDING_UNAVAILABLE), 0, 0, options, half);
    const later = nextStep(coded(ErrorCodes.RECORDING_UNAVAILABLE), 6, 0, options, half);
    expect(first.kind === 'retry' && later.kind === 'retry' && first.delayMs < later.delayMs).toBe(true);
    expect(nextStep(coded(ErrorCodes.RECORDING_UNAVAILABLE, 7000), 0, 0, options, half)).toEqual({
      kind: 'retry',
      delayMs: 7000,
    });
    expect(nextStep(coded(ErrorCodes.RECORDING_BAD_BODY), 0, 0, options).kind).toBe('retry');
    expect(nextStep(new CdrError(ErrorCodes.ABORTED, 'stop'), 0, 0, options)).toEqual({ kind: 'stop' });
  });
});

describe('recording paths and URLs', () => {
  const ref = {
    id: '9007199254740993',
    account: '00042',
    billingPeriod: '2026-11',
    path: 'rec/2026/a b.mp3',
  };
  const credentials = { login: '00042', password: 'p&ss=w?rd' };

  it('refuses a path that climbs out of the account folder, names another server or carries control characters', () => {
    for (const bad of ['', '  ', '../x.mp3', 'a/../../x.mp3', 'a//b.mp3', './x.mp3', 'a\nb.mp3', 'a/.'])
      expect(() => safePath(bad), JSON.stringify(bad)).toThrow(/not a relative path/);
    expect(safePath('/rec/a b.mp3')).toBe('rec/a%20b.mp3');
    // Another server's URL is refused; a scheme alone is only an encoded segment under the base URL.
    expect(() => safePath('http://evil/x.mp3')).toThrow(/not a relative path/);
    const scheme = new URL(safePath('http:evil/x.mp3'), 'https://carrier/r/');
    expect([scheme.host, scheme.pathname]).toEqual(['carrier', '/r/http%3Aevil/x.mp3']);
  });

  it('appends the path to a base URL or fills a template, with the credentials encoded as the feed sends them', () => {
    const base = new URL(recordingUrl('https://carrier.example/recordings', ref, credentials));
    expect(base.pathname).toBe('/recordings/rec/2026/a%20b.mp3');
    expect(base.searchParams.get('login')).toBe('00042');
    expect(base.searchParams.get('password')).toBe('p&ss=w?rd');
    const filled = new URL(recordingUrl('https://c.example/{account}/{id}?f={path}', ref, credentials));
    expect(filled.pathname).toBe('/00042/9007199254740993');
    expect(filled.searchParams.get('f')).toBe('rec/2026/a b.mp3');
  });

  it('logs the host, the account and the id, never the credentials', () => {
    const target = recordingTarget('https://carrier.example/recordings/', ref);
    expect(target).toEqual({ recordingHost: 'carrier.example', account: '00042', id: '9007199254740993' });
    expect(JSON.stringify(target)).not.toContain('p&ss');
  });
});

describe('object keys', () => {
  it('is <prefix><account>/<billing period>/<id>.mp3, the id whole and nothing able to climb', () => {
    expect(objectKey('rec/', '00042', '2026-11', '9007199254740993')).toBe(
      'rec/00042/2026-11/9007199254740993.mp3',
    );
    expect(objectKey('', '../a', '..', '1')).toBe('%2E%2E%2Fa/%2E%2E/1.mp3');
  });
});

describe("the simulator's recordings", () => {
  it('are whole MP3 frames, the same bytes for an id in one piece or in slices, different per id', () => {
    const whole = recordingBytes('1000123', 100_000);
    expect(whole.length).toBe(recordingLength(100_000));
    expect(whole.length % 417).toBe(0);
    for (let f = 0; f < whole.length / 417; f++) expect(whole.readUInt16BE(f * 417) & 0xffe0).toBe(0xffe0);
    const slices = Buffer.concat([
      recordingBytes('1000123', 100_000, 0, 100),
      recordingBytes('1000123', 100_000, 100, 57),
      recordingBytes('1000123', 100_000, 157),
    ]);
    expect(slices.equals(whole)).toBe(true);
    expect(recordingBytes('1000123', 100_000).equals(whole)).toBe(true);
    expect(recordingBytes('1000124', 100_000).equals(whole)).toBe(false);
  });
});

describe('download permits', () => {
  it("holds an account at its share without taking the process's permits: a slow account does not hold the others", async () => {
    const permits = new AccountPermits(3, 2);
    const release: Array<() => void> = [];
    const started: string[] = [];
    const hold = (account: string, n: number) =>
      permits.run(account, async () => {
        started.push(`${account}${n}`);
        await new Promise<void>((resolve) => release.push(resolve));
      });
    // Four downloads of a slow account: two run (its share), two wait for the account's permits.
    const slow = [1, 2, 3, 4].map((n) => hold('slow', n));
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual(['slow1', 'slow2']);
    // Another account still gets the process's third permit.
    const other = hold('other', 1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual(['slow1', 'slow2', 'other1']);
    // When one of the slow account's downloads ends, the next of its own starts.
    release.shift()?.();
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(started).toEqual(['slow1', 'slow2', 'other1', 'slow3']);
    for (const r of release.splice(0)) r();
    await new Promise((resolve) => setTimeout(resolve, 5));
    for (const r of release.splice(0)) r();
    await Promise.all([...slow, other]);
    expect(started).toHaveLength(5);
  });
});
