// The poll loop of one feed account: GET the feed from the cursor, stream the body into batches,
// commit each batch (CDRs, dead letters and the new cursor) as one Kafka transaction. What each
// row means is row-policy.ts; this file does the I/O. While batch k commits, batch k+1 is parsed
// and encoded; commits themselves run one at a time.
//
// Ownership. Every cursor record names the process that wrote it (`owner`), and the process
// claimed every account at start (ownership.ts). The broker reports a transaction that timed out
// and a takeover by another process alike (INVALID_PRODUCER_EPOCH), so on that error the poller
// reads the cursors back, without initialising a producer first (which would fence the newcomer):
// the accounts of its slot that another process has claimed since stop; otherwise the transaction
// only timed out, and the poller goes on. A newly started process wins over the one it replaces,
// and a zombie stops at its next commit.
//
// Recovery. Any other Kafka failure drops the in-memory cursor: the slot's producer is initialised
// again first (InitProducerId aborts what the old one left open, so the read_committed cursor read
// never waits on our own zombie), then the cursor is read back, which is the only truth after an
// ambiguous commit. The other accounts of the slot check their cursor at their next commit
// (pool.ts).
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { CdrError, ErrorCodes, isCdrError } from '../errors.ts';
import { CommitBatch } from '../feed/commit-batch.ts';
import { feedTarget, feedTransportError, openFeed } from '../feed/request.ts';
import type { ResponseSetup, ResponseSummary } from '../feed/response.ts';
import type { ControlValue } from '../topics/control.ts';
import { accountPosition, batchCursor, type CursorState, type CursorValue } from '../topics/cursor.ts';
import { AccountControls } from './account-controls.ts';
import type { AccountHealth } from './health.ts';
import { afterFailure, afterResponse, type FailureStep } from './poll-steps.ts';
import type { AccountStart, PollerDeps } from './poller-deps.ts';

const PROGRESS_EVERY_MS = 5000;

/** A response read to its end (or its break), each of its batches committed. */
interface ResponseCommitted {
  summary: ResponseSummary;
  /** The body broke off or could not be read: the batches before were committed. */
  error: unknown;
  published: number;
  deadLettered: number;
  lastId: number | undefined;
}

export class AccountPoller {
  readonly health: AccountHealth = { authFailing: false, headerUnreadable: false };
  /** Where the account stands as far as this process knows; undefined until read from Kafka. */
  private cursor: CursorState | undefined;
  /** The slot epoch at which the cursor was last read or committed (see pool.ts). */
  private epoch: number;
  /** The last row the previous response held back (see row-policy.ts). */
  private heldTail: string | undefined;
  /** Where the last pointer row said data continues: the next request's fromid. */
  private nextFrom: number | undefined;
  /** The control records of each batch, and the running totals they add up to. */
  private readonly controls: AccountControls;
  /** Call start of the newest CDR published, carried from cursor record to cursor record. */
  private newestStart: number | undefined;
  /** Largest record cdr.raw takes, as far as we know: lowered when Kafka refuses one. */
  private maxMessageBytes: number;
  private readonly deps: PollerDeps;
  private readonly login: string;
  private readonly labels: { account: string };
  /** What every response of the account is parsed with. */
  private readonly setup: ResponseSetup;
  private lastProgressAt = 0;

  constructor(deps: PollerDeps, start: AccountStart) {
    const { options } = deps;
    this.deps = deps;
    this.login = deps.account.login;
    this.labels = { account: this.login };
    this.epoch = start.epoch;
    this.setup = {
      account: this.login,
      rows: options.rows,
      batch: options.batch,
      raw: deps.raw,
      feedHost: feedTarget(options.feed.url).feedHost,
    };
    this.maxMessageBytes = deps.maxMessageBytes;
    this.cursor = this.fromRecord(start.cursor, start.totals);
    this.controls = new AccountControls(
      {
        account: this.login,
        rawTopic: options.topics.raw,
        controlTopic: options.topics.control,
        totalsTopic: options.topics.controlTotals,
        ...deps.control,
      },
      start.totals,
    );
  }

  /** Polls until the signal aborts. Rejects only when another process took the account over. */
  async run(): Promise<void> {
    const { logger, signal, metrics } = this.deps;
    if (this.cursor) logger.info({ account: this.login, cursor: this.cursor.lastId }, 'cursor read');
    let attempt = 0;
    while (!signal.aborted) {
      let delay = this.deps.options.feed.pollIntervalMs;
      try {
        if (await this.poll()) delay = 0;
        attempt = 0;
        this.health.authFailing = false;
        this.health.headerUnreadable = false;
        delete this.health.kafkaRefused;
        delete this.health.lastErrorCode;
        this.health.lastSuccessAt = Date.now();
        metrics.lastPollSuccess.set(this.labels, Date.now() / 1000);
      } catch (err) {
        if (signal.aborted && (isCdrError(err, ErrorCodes.ABORTED) || !isCdrError(err))) break;
        if (isCdrError(err, ErrorCodes.FENCED)) throw err;
        const step = afterFailure(err, attempt, {
          feedBackoff: this.deps.options.feed.backoff,
          authRetryMs: this.deps.options.feed.authRetryMs,
        });
        this.failed(err, step);
        if (step.epochRefused) continue;
        attempt = step.attempt;
        delay = step.delayMs;
      }
      await sleep(delay, undefined, { signal }).catch(() => undefined);
    }
  }

  /** The cursor read back when it is not known, then one request, in the process's turn. */
  private async poll(): Promise<boolean> {
    this.deps.slot.throwIfTaken(this.login);
    if (this.cursor === undefined) await this.recover();
    // While responses bring something (a window of rows, a pointer), the next is asked at once;
    // the permits are handed out in turn, so every other account of the process gets its turn.
    return this.deps.polls.run(() => this.pollOnce(this.cursor as CursorState), this.deps.signal);
  }

  /** The account's health, metrics and state after a failed poll, as `step` says. */
  private failed(err: unknown, step: FailureStep): void {
    const { logger, metrics } = this.deps;
    const { code } = step;
    this.health.lastErrorCode = code;
    metrics.feedErrors.inc({ ...this.labels, kind: code });
    if (step.readCursorAgain) this.cursor = undefined;
    if (step.epochRefused) {
      logger.warn(
        { account: this.login, code },
        'commit refused for the producer epoch (transaction timed out, or another process): reading the cursor again',
      );
      return;
    }
    if (step.halveRecordLimit) {
      // Each record was under the limit and still Kafka refused the batch.
      const before = this.maxMessageBytes;
      this.maxMessageBytes = Math.max(1024, Math.floor(before / 2));
      logger.warn(
        { account: this.login, before, now: this.maxMessageBytes },
        'Kafka refused a record as too large; records over the lowered limit will be dead-lettered',
      );
    }
    // Nothing changes these by itself soon (a password, the feed's columns): the account is not
    // ready until a poll goes through.
    if (step.authFailing || step.headerUnreadable) {
      this.health.authFailing = step.authFailing;
      this.health.headerUnreadable = step.headerUnreadable;
    }
    if (step.kafkaRefused) {
      // Not routine: nothing is published until someone grants the ACL or fixes the credentials.
      this.health.kafkaRefused = (err as Error).message;
      logger.error({ code, retryInMs: step.delayMs, account: this.login }, (err as Error).message);
      return;
    }
    logger.warn({ err, code, retryInMs: step.delayMs, account: this.login }, 'poll failed');
  }

  /** Where the account stands, from its cursor record and its running totals (see accountPosition). */
  private fromRecord(
    found: CursorValue | undefined,
    totals: ReadonlyMap<string, ControlValue> | undefined,
  ): CursorState {
    const newest = found?.newestStartTime === undefined ? Number.NaN : Date.parse(found.newestStartTime);
    this.newestStart = Number.isNaN(newest) ? undefined : newest;
    // The start id is the first id wanted; the cursor is the last id published.
    const startAfter = Math.max(this.deps.options.feed.startId - 1, 0);
    const position = accountPosition(this.login, found, totals, startAfter, this.deps.logger);
    this.deps.metrics.cursorId.set(this.labels, position.lastId);
    return position;
  }

  /** The slot's producer initialised first, then the cursor as Kafka has it. */
  private async recover(): Promise<void> {
    const { slot, cursors, logger } = this.deps;
    const epoch = await slot.connect(this.login);
    this.nextFrom = undefined;
    const all = await cursors.readAll();
    slot.markTakenAccounts(all, this.login);
    // Written in the same transactions as the cursor: read after the same InitProducerId, they agree
    // (unless the broker lost a marker: accountPosition).
    const totals = (await this.deps.totals.readAll()).get(this.login);
    this.controls.reset(totals);
    this.cursor = this.fromRecord(all.get(this.login), totals);
    this.epoch = epoch;
    logger.info({ account: this.login, cursor: this.cursor.lastId }, 'cursor read');
  }

  /** One request and its body; true when it brought rows or a pointer to follow. */
  private async pollOnce(cursor: CursorState): Promise<boolean> {
    const { options, signal, metrics } = this.deps;
    const startedAt = Date.now();
    const endPoll = metrics.pollDuration.startTimer();
    // The feed's advice: ask from the last id collected (inclusive); the row policy drops what is
    // not above it. After a pointer row, ask from where it said data continues.
    const fromId = this.nextFrom ?? cursor.lastId;
    const body = await openFeed({
      baseUrl: options.feed.url,
      credentials: this.deps.account,
      fromId,
      headersTimeoutMs: options.feed.headersTimeoutMs,
      bodyIdleTimeoutMs: options.feed.bodyIdleTimeoutMs,
      maxInflateRatio: options.feed.maxInflateRatio,
      signal,
      ...(this.deps.egress ? { dispatcher: this.deps.egress } : {}),
    });
    const { summary, error, published, deadLettered, lastId } = await this.commitResponse(body, cursor);
    metrics.rowsFetched.inc(this.labels, summary.fetched);
    if (summary.complete) this.heldTail = summary.heldTail;
    endPoll();
    const step = afterResponse(summary, fromId, this.nextFrom);
    this.nextFrom = step.nextFrom;
    this.logResponse(summary, step.pointer, fromId, cursor);
    if (error !== undefined) {
      throw isCdrError(error)
        ? error
        : feedTransportError(error, feedTarget(options.feed.url, cursor.lastId));
    }
    if (published + deadLettered > 0) {
      this.deps.logger.info(
        { account: this.login, published, deadLettered, cursor: lastId, ms: Date.now() - startedAt },
        'poll committed',
      );
    }
    return step.again;
  }

  /** Parses the body into batches and commits each: batch k commits while batch k+1 is parsed. */
  private async commitResponse(body: Readable, cursor: CursorState): Promise<ResponseCommitted> {
    const start = {
      fetchedAt: new Date().toISOString(),
      cursor,
      heldTail: this.heldTail,
      maxMessageBytes: this.maxMessageBytes,
    };
    let inflight: Promise<void> | undefined;
    let published = 0;
    let deadLettered = 0;
    let lastId: number | undefined;
    for await (const ev of this.deps.parsers.parse(body, this.setup, start)) {
      if (ev.kind === 'end') {
        // Commits run one at a time, in order: the last one ends before the response does.
        if (inflight) await inflight;
        return { summary: ev.summary, error: ev.error, published, deadLettered, lastId };
      }
      for (const [reason, n] of Object.entries(ev.batch.rowsSkipped))
        this.deps.metrics.rowsSkipped.inc({ ...this.labels, reason }, n);
      if (inflight) await inflight;
      const batch = new CommitBatch(ev.batch);
      // The last batch of a response may hold nothing and still move the cursor; or not move it.
      if (!batch.moves(this.cursor ?? cursor)) continue;
      published += batch.raw.length;
      deadLettered += batch.dlq.length;
      lastId = batch.lastId;
      inflight = this.commit(batch);
      // Observed by the next `await inflight`; not an unhandled rejection meanwhile.
      inflight.catch(() => undefined);
    }
    throw new CdrError(ErrorCodes.PARSE_WORKER, 'a response ended without its end event', {
      retriable: true,
    });
  }

  private logResponse(
    s: ResponseSummary,
    pointer: 'followed' | 'not-forward' | undefined,
    fromId: number,
    cursor: CursorState,
  ): void {
    const { logger, metrics } = this.deps;
    if (pointer !== undefined) metrics.pointerRows.inc({ followed: pointer === 'followed' ? 'yes' : 'no' });
    if (pointer === 'not-forward')
      logger.warn(
        { account: this.login, fromid: fromId, pointer: s.pointer },
        'a pointer row that does not point forward was not followed',
      );
    if (s.backwards > 0) {
      logger.warn(
        { account: this.login, rows: s.backwards, cursor: cursor.lastId },
        'rows with ids not above the cursor were skipped',
      );
    }
    if (s.complete && s.heldTail !== undefined) {
      logger.info(
        { account: this.login, cursor: this.cursor?.lastId },
        'the body ended without a line end after its last row: that row is held until the next poll',
      );
    }
  }

  /** One batch as one transaction: its CDRs, dead letters, the cursor, then its control records. */
  private async commit(batch: CommitBatch): Promise<void> {
    const { options, slot, metrics } = this.deps;
    const end = metrics.commitDuration.startTimer({ slot: slot.transactionalId });
    const newest = Math.max(
      this.newestStart ?? Number.NEGATIVE_INFINITY,
      batch.newestStart ?? Number.NEGATIVE_INFINITY,
    );
    const newestKnown = Number.isFinite(newest) ? newest : undefined;
    const cursorRecord = batchCursor(
      this.login,
      batch,
      this.deps.instanceId,
      slot.transactionalId,
      newestKnown,
    );
    let controlsNext: ControlValue[] = [];
    try {
      this.epoch = await slot.commit(
        { account: this.login, epoch: this.epoch, cursor: this.cursor as CursorState },
        [
          { topic: options.topics.raw, messages: batch.raw },
          { topic: options.topics.dlq, messages: batch.dlq },
          { topic: options.topics.cursor, messages: [cursorRecord] },
        ],
        // The control records go last: they name the offsets Kafka gave the CDRs above (entry 0).
        (offsets) => {
          const made = this.controls.records(batch.raw, batch.tallies, offsets(0), batch.lastId);
          controlsNext = made.next;
          return made.topicMessages;
        },
      );
    } catch (err) {
      metrics.transactionsAborted.inc(this.labels);
      throw err instanceof CdrError
        ? err
        : new CdrError(ErrorCodes.KAFKA, 'commit failed', { cause: err, retriable: true });
    }
    end();
    this.cursor = { lastId: batch.lastId, deadLetteredAfter: batch.deadLetteredAfter };
    this.controls.committed(controlsNext);
    this.newestStart = newestKnown;
    this.committed(batch, newestKnown);
  }

  /** Metrics and progress after a commit. */
  private committed(batch: CommitBatch, newestStart: number | undefined): void {
    const { metrics, logger } = this.deps;
    // Progress is commits: a backfill of millions of rows in one response keeps the account ready.
    const now = Date.now();
    this.health.lastSuccessAt = now;
    metrics.rowsPublished.inc(this.labels, batch.raw.length);
    metrics.rowsDeadLettered.inc(this.labels, batch.dlq.length);
    metrics.cursorId.set(this.labels, batch.lastId);
    metrics.cursorCommitted.set(this.labels, now / 1000);
    if (newestStart !== undefined) metrics.newestCdrStart.set(this.labels, newestStart / 1000);
    if (this.deps.options.logProgress && now - this.lastProgressAt >= PROGRESS_EVERY_MS) {
      this.lastProgressAt = now;
      logger.info({ account: this.login, cursor: batch.lastId, batchRows: batch.size }, 'progress');
    }
  }
}
