// One CDR's recording, stored: found already stored (a run before a crash), or fetched into the
// spool, uploaded, and the spool file removed. Retried as policy.ts says, holding no download permit
// while it waits; the permits are the process's (RECORDINGS_CONCURRENCY) and the account's own
// share (RECORDINGS_ACCOUNT_CONCURRENCY), so one slow account never holds all of them.
import { randomUUID } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { CdrError, ErrorCodes, isCdrError } from '../errors.ts';
import type { FeedCredentials } from '../feed/request.ts';
import { Permits } from '../ops/permits.ts';
import { nextStep } from './policy.ts';
import { type FetchOptions, fetchRecording, type RecordingRef } from './source.ts';
import { type ObjectStore, objectKey, type StoredObject } from './store.ts';

export type Outcome =
  | { kind: 'stored'; object: StoredObject; reused: boolean }
  | { kind: 'dead-letter'; error: CdrError };

/** Which accounts the carrier refuses (401), and whether it refuses this address (403). */
export class Refusals {
  readonly accounts = new Set<string>();
  forbidden = false;
  private readonly log: Logger;

  constructor(log: Logger) {
    this.log = log;
  }

  /** Notes the outcome of a request of `account`: one error line when a refusal starts, one info line when it ends. */
  note(account: string, err: unknown): void {
    const code = isCdrError(err) ? err.code : undefined;
    if (code === ErrorCodes.RECORDING_FORBIDDEN) {
      if (!this.forbidden) this.log.error({ err, code }, (err as Error).message);
      this.forbidden = true;
      return;
    }
    if (code === ErrorCodes.RECORDING_AUTH) {
      if (!this.accounts.has(account)) this.log.error({ err, code, account }, (err as Error).message);
      this.accounts.add(account);
      return;
    }
    if (err !== undefined && code !== ErrorCodes.RECORDING_NOT_FOUND) return;
    // A request the carrier took (stored, or 404): neither refusal holds any more.
    if (this.forbidden) this.log.info('the carrier takes this address again');
    this.forbidden = false;
    if (this.accounts.delete(account))
      this.log.info({ account }, "the carrier takes the account's login again");
  }
}

/** The process's download permits, and each account's share of them. */
export class AccountPermits {
  private readonly total: Permits;
  private readonly share: number;
  private readonly byAccount = new Map<string, Permits>();

  constructor(total: number, share: number) {
    this.total = new Permits(total);
    this.share = share;
  }

  /** Runs `fn` holding a permit of the account's share and one of the process's. */
  run<T>(account: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    let mine = this.byAccount.get(account);
    if (!mine) {
      mine = new Permits(this.share);
      this.byAccount.set(account, mine);
    }
    // The account's share first: an account at its share waits without holding one of the process's.
    return mine.run(() => this.total.run(fn, signal), signal);
  }
}

export interface JobDeps {
  store: ObjectStore;
  fetch: Omit<FetchOptions, 'signal'>;
  credentials: (account: string) => FeedCredentials | undefined;
  spoolDir: string;
  keyPrefix: string;
  maxWaitMs: number;
  retry: { minMs: number; maxMs: number };
  permits: AccountPermits;
  refusals: Refusals;
  signal: AbortSignal;
  /** Told after each try, with what it ended in. */
  onTry?: (outcome: 'stored' | 'reused' | string, bytes: number) => void;
  log: Logger;
}

/** Stores the recording of `ref`, or says why it is a dead letter. `publishedAt`: the CDR record's timestamp. */
export async function storeRecording(
  ref: RecordingRef,
  publishedAt: number,
  deps: JobDeps,
): Promise<Outcome> {
  const credentials = deps.credentials(ref.account);
  if (!credentials)
    return {
      kind: 'dead-letter',
      error: new CdrError(
        ErrorCodes.RECORDING_AUTH,
        'no login and password are configured for this account',
        {
          details: { account: ref.account, id: ref.id },
        },
      ),
    };
  const key = objectKey(deps.keyPrefix, ref.account, ref.billingPeriod, ref.id);
  for (let attempt = 0; ; attempt++) {
    try {
      const outcome = await deps.permits.run(
        ref.account,
        () => tryOnce(ref, key, credentials, deps),
        deps.signal,
      );
      deps.refusals.note(ref.account, undefined);
      deps.onTry?.(outcome.reused ? 'reused' : 'stored', outcome.reused ? 0 : outcome.object.size);
      return outcome;
    } catch (err) {
      deps.refusals.note(ref.account, err);
      const step = nextStep(err, attempt, Date.now() - publishedAt, deps);
      deps.onTry?.(isCdrError(err) ? err.code : 'error', 0);
      deps.log.debug(
        { err, id: ref.id, account: ref.account, attempt, next: step.kind },
        'a recording try failed',
      );
      if (step.kind === 'stop') throw err;
      if (step.kind === 'dead-letter') return { kind: 'dead-letter', error: err as CdrError };
      await sleep(step.delayMs, undefined, { signal: deps.signal }).catch(() => {
        throw new CdrError(ErrorCodes.ABORTED, 'stopped while waiting to fetch a recording again');
      });
    }
  }
}

async function tryOnce(
  ref: RecordingRef,
  key: string,
  credentials: FeedCredentials,
  deps: JobDeps,
): Promise<{ kind: 'stored'; object: StoredObject; reused: boolean }> {
  const there = await deps.store.head(key);
  if (there) return { kind: 'stored', object: there, reused: true };
  const file = join(deps.spoolDir, `${randomUUID()}.part`);
  const spooled = await fetchRecording(ref, credentials, file, { ...deps.fetch, signal: deps.signal });
  try {
    const object = {
      key,
      size: spooled.size,
      sha256: spooled.sha256,
      contentType: spooled.contentType,
      fetchedAt: spooled.fetchedAt,
    };
    await deps.store.put(key, file, object, ref.id);
    return { kind: 'stored', object, reused: false };
  } finally {
    await unlink(file).catch(() => undefined);
  }
}
