// The poll loop of one feed account: GET the feed from the cursor, stream the body into batches,
// commit each batch (CDRs, dead letters and the new cursor) as one Kafka transaction. What each
// row means is row-policy.ts; this file does the I/O. While batch k commits, batch k+1 is parsed
// and encoded; commits themselves run one at a time.
//
// Ownership. Every cursor record names the process that wrote it (`owner`): a poller's first
// commit claims the account. The broker reports a transaction that timed out and a takeover by
// another process alike (INVALID_PRODUCER_EPOCH), so on that error a poller that has claimed the
// account reads the cursor back, without initialising a producer first (which would fence the
// newcomer): if another process has committed for the account since, this account stops;
// otherwise the transaction only timed out, and the poller goes on. A poller that has not
// committed yet always goes on (initialising fences the older process), so a newly started
// process wins over the one it replaces, and a zombie stops at its next commit.
//
// Recovery. Any other Kafka failure drops the in-memory cursor: a new transactional producer is
// initialised first (InitProducerId aborts what the old one left open, so the read_committed
// cursor read never waits on our own zombie), then the cursor is read back, which is the only
// truth after an ambiguous commit.
import { setTimeout as sleep } from 'node:timers/promises';
import type avro from 'avsc';
import type { Logger } from 'pino';
import { type HeaderMap, readHeader } from '../cdr/header.ts';
import { parseId, rowId } from '../cdr/row.ts';
import type { TimeZone } from '../cdr/time-zone.ts';
import type { FeedAccount, ProducerConfig } from '../config/producer.ts';
import { CdrError, ErrorCodes, isCdrError } from '../errors.ts';
import { feedRows } from '../feed/csv-rows.ts';
import { feedTarget, feedTransportError, openFeed } from '../feed/request.ts';
import type { TransactionalSender } from '../kafka/transactions.ts';
import { retryDelay } from '../ops/retry.ts';
import { Batch, type CursorState } from './batch.ts';
import { type CursorReader, type CursorValue, cursorMessage } from './cursor.ts';
import type { ProducerMetrics } from './metrics.ts';
import { RecordBuilder } from './records.ts';
import { RowPolicy } from './row-policy.ts';

export interface AccountHealth {
  lastSuccessAt?: number;
  authFailing: boolean;
  lastErrorCode?: string;
}

export interface PollerDeps {
  account: FeedAccount;
  env: ProducerConfig['env'];
  sender: TransactionalSender;
  cursors: CursorReader;
  /** This process, as named in the cursor records it writes. */
  instanceId: string;
  avroType: avro.Type;
  schemaId: number;
  zone: TimeZone;
  /** Largest record (key + value) cdr.raw takes: the topic's max.message.bytes less framing. */
  maxMessageBytes: number;
  metrics: ProducerMetrics;
  logger: Logger;
  signal: AbortSignal;
}

const PROGRESS_EVERY_MS = 5000;

export class AccountPoller {
  readonly health: AccountHealth = { authFailing: false };
  /** Where the account stands as far as this process knows; undefined until read from Kafka. */
  private cursor: CursorState | undefined;
  /** Set by the first commit: from then on, another owner in the cursor topic means a takeover. */
  private claimed = false;
  /** The last row the previous response held back (see row-policy.ts). */
  private heldTail: string | undefined;
  private readonly records: RecordBuilder;
  private readonly deps: PollerDeps;
  private readonly labels: { account: string };
  private readonly feedHost: string;
  private lastProgressAt = 0;

  /** `initial`: the account's cursor as read at start, with the sender already connected. */
  constructor(deps: PollerDeps, initial: CursorValue | undefined) {
    this.deps = deps;
    this.labels = { account: deps.account.login };
    this.feedHost = feedTarget(deps.env.FEED_URL).feedHost;
    this.records = new RecordBuilder({
      account: deps.account.login,
      env: deps.env,
      avroType: deps.avroType,
      schemaId: deps.schemaId,
      zone: deps.zone,
      feedHost: this.feedHost,
      maxMessageBytes: deps.maxMessageBytes,
    });
    this.cursor = this.fromRecord(initial);
  }

  /** Polls until the signal aborts. Rejects only when another process took the account over. */
  async run(): Promise<void> {
    const { env, logger, signal, metrics } = this.deps;
    if (this.cursor) logger.info({ account: this.labels.account, cursor: this.cursor.lastId }, 'cursor read');
    let attempt = 0;
    while (!signal.aborted) {
      let delay = env.FEED_POLL_INTERVAL_MS;
      try {
        if (this.cursor === undefined) await this.recover();
        await this.pollOnce(this.cursor as CursorState);
        attempt = 0;
        this.health.authFailing = false;
        this.markSuccess();
        delete this.health.lastErrorCode;
        metrics.lastPollSuccess.set(this.labels, Date.now() / 1000);
      } catch (err) {
        if (signal.aborted && (isCdrError(err, ErrorCodes.ABORTED) || !isCdrError(err))) break;
        if (isCdrError(err, ErrorCodes.FENCED)) throw err;
        const code = isCdrError(err) ? err.code : ErrorCodes.KAFKA;
        this.health.lastErrorCode = code;
        metrics.feedErrors.inc({ ...this.labels, kind: code });
        if (code === ErrorCodes.PRODUCER_EPOCH) {
          // A timed-out transaction, or another process: the cursor topic tells which.
          if (this.claimed) await this.stopIfTakenOver(err as CdrError);
          this.cursor = undefined;
          logger.warn({ account: this.labels.account, code }, 'transaction expired; starting a new one');
          continue;
        }
        if (code === ErrorCodes.MESSAGE_TOO_LARGE) {
          const { before, now } = this.records.lowerLimit();
          logger.warn(
            { account: this.labels.account, before, now },
            'Kafka refused a record as too large; records over the lowered limit will be dead-lettered',
          );
        }
        if (!isCdrError(err) || !err.code.startsWith('CDR_FEED')) this.cursor = undefined;
        if (code === ErrorCodes.FEED_AUTH) {
          this.health.authFailing = true;
          delay = env.FEED_AUTH_RETRY_MS;
        } else {
          const retryAfterMs = isCdrError(err) ? (err.details.retryAfterMs as number | undefined) : undefined;
          delay = retryDelay(
            attempt++,
            { minMs: env.FEED_BACKOFF_MIN_MS, maxMs: env.FEED_BACKOFF_MAX_MS },
            retryAfterMs,
          );
        }
        logger.warn({ err, code, retryInMs: delay, account: this.labels.account }, 'poll failed');
      }
      await sleep(delay, undefined, { signal }).catch(() => undefined);
    }
  }

  private fromRecord(found: CursorValue | undefined): CursorState {
    // FEED_START_ID is the first id wanted; the cursor is the last id published.
    const lastId = found?.lastId ?? Math.max(this.deps.env.FEED_START_ID - 1, 0);
    this.deps.metrics.cursorId.set(this.labels, lastId);
    return { lastId, deadLetteredAfter: found?.deadLetteredAfter ?? 0 };
  }

  /** A new transactional producer first, then the cursor as Kafka has it. */
  private async recover(): Promise<void> {
    const { sender, cursors, account, logger } = this.deps;
    await sender.connect();
    const found = (await cursors.readAll()).get(account.login);
    if (this.claimed && this.ownedByAnother(found)) {
      throw this.takenOver(found as CursorValue, new CdrError(ErrorCodes.KAFKA, 'claimed while recovering'));
    }
    this.cursor = this.fromRecord(found);
    logger.info({ account: account.login, cursor: this.cursor.lastId }, 'cursor read');
  }

  private async stopIfTakenOver(cause: CdrError): Promise<void> {
    const found = (await this.deps.cursors.readAll()).get(this.deps.account.login);
    if (this.ownedByAnother(found)) throw this.takenOver(found as CursorValue, cause);
  }

  private ownedByAnother(found: CursorValue | undefined): boolean {
    return found?.owner !== undefined && found.owner !== this.deps.instanceId;
  }

  private takenOver(found: CursorValue, cause: CdrError): CdrError {
    return new CdrError(ErrorCodes.FENCED, `account ${found.account} was claimed by ${found.owner}`, {
      cause,
      details: { account: found.account, owner: found.owner },
    });
  }

  private markSuccess(): void {
    this.health.lastSuccessAt = Date.now();
  }

  private async pollOnce(cursor: CursorState): Promise<void> {
    const { env, account, signal, metrics, logger } = this.deps;
    const startedAt = Date.now();
    const endPoll = metrics.pollDuration.startTimer(this.labels);
    const policy = new RowPolicy({
      cursor: cursor.lastId,
      deadLetteredAfter: cursor.deadLetteredAfter,
      heldTail: this.heldTail,
    });
    // The feed's advice: ask from the last id collected (inclusive); the policy drops what is not above it.
    const body = await openFeed({
      baseUrl: env.FEED_URL,
      credentials: account,
      fromId: cursor.lastId,
      headersTimeoutMs: env.FEED_HEADERS_TIMEOUT_MS,
      bodyIdleTimeoutMs: env.FEED_BODY_IDLE_TIMEOUT_MS,
      signal,
    });
    const fetchedAt = new Date().toISOString();
    let header: HeaderMap | undefined;
    let batch = new Batch(cursor, startedAt);
    let inflight: Promise<void> | undefined;
    let streamError: unknown;
    let fetched = 0;
    let backwards = 0;
    let published = 0;
    let deadLettered = 0;

    const commitAsync = async (b: Batch) => {
      if (inflight) await inflight;
      published += b.raw.length;
      deadLettered += b.dlq.length;
      inflight = this.commit(b);
      // Observed by the next `await inflight`; not an unhandled rejection meanwhile.
      inflight.catch(() => undefined);
    };
    const rows = feedRows(body, {
      delimiter: ',',
      maxRecordChars: env.FEED_MAX_RECORD_CHARS,
      rawClipChars: env.DLQ_RAW_MAX_CHARS,
      acceptTail: policy.acceptTail,
    });

    try {
      for await (const ev of rows) {
        if (ev.kind === 'header') {
          header = readHeader(ev.fields);
          continue;
        }
        if (ev.kind === 'tail') {
          policy.hold(ev.raw);
          continue;
        }
        fetched++;
        const h = header as HeaderMap;
        const id = ev.kind === 'row' ? rowId(ev.fields, h) : parseId(ev.leading[h.index.id]);
        const decision = policy.decide(id);
        if (decision.action === 'skip') {
          if (decision.reason !== 'cursor_row')
            metrics.rowsSkipped.inc({ ...this.labels, reason: decision.reason });
          if (decision.reason === 'id_not_above_cursor') backwards++;
          continue;
        }
        const { dlq, message } = this.records.take(ev, h, id, fetchedAt);
        (dlq ? batch.dlq : batch.raw).push(message);
        batch.lastId = policy.lastId;
        batch.deadLetteredAfter = policy.deadLetteredAfter;
        if (batch.isFull(env.BATCH_MAX_ROWS, env.BATCH_MAX_MS, Date.now())) {
          await commitAsync(batch);
          batch = new Batch(batch, Date.now());
        }
      }
      this.heldTail = policy.heldTail;
    } catch (err) {
      streamError = err;
    }
    metrics.rowsFetched.inc(this.labels, fetched);
    if (inflight) await inflight;
    // Rows fully received before a break are kept; a partial last row never reached the batch.
    if (batch.moves(this.cursor ?? cursor)) {
      await commitAsync(batch);
      await inflight;
    }
    endPoll();
    if (backwards > 0) {
      logger.warn(
        { account: account.login, rows: backwards, cursor: cursor.lastId },
        'rows with ids not above the cursor were skipped',
      );
    }
    if (policy.heldTail !== undefined && streamError === undefined) {
      logger.info(
        { account: account.login, line: fetched + 2, cursor: this.cursor?.lastId },
        'the body ended without a line end after its last row: that row is held until the next poll',
      );
    }
    if (streamError !== undefined) {
      throw isCdrError(streamError)
        ? streamError
        : feedTransportError(streamError, feedTarget(env.FEED_URL, cursor.lastId));
    }
    if (published + deadLettered > 0) {
      logger.info(
        {
          account: account.login,
          published,
          deadLettered,
          cursor: this.cursor?.lastId,
          ms: Date.now() - startedAt,
        },
        'poll committed',
      );
    }
  }

  private async commit(batch: Batch): Promise<void> {
    const { env, sender, metrics, account, logger } = this.deps;
    const end = metrics.commitDuration.startTimer(this.labels);
    try {
      await sender.commit([
        { topic: env.TOPIC_RAW, messages: batch.raw },
        { topic: env.TOPIC_DLQ, messages: batch.dlq },
        {
          topic: env.TOPIC_CURSOR,
          messages: [
            cursorMessage({
              account: account.login,
              lastId: batch.lastId,
              deadLetteredAfter: batch.deadLetteredAfter,
              rows: batch.size,
              committedAt: new Date().toISOString(),
              owner: this.deps.instanceId,
            }),
          ],
        },
      ]);
    } catch (err) {
      metrics.transactionsAborted.inc(this.labels);
      throw err instanceof CdrError
        ? err
        : new CdrError(ErrorCodes.KAFKA, 'commit failed', { cause: err, retriable: true });
    }
    end();
    this.cursor = { lastId: batch.lastId, deadLetteredAfter: batch.deadLetteredAfter };
    this.claimed = true;
    // Progress is commits: a backfill of millions of rows in one response keeps the account ready.
    this.markSuccess();
    metrics.rowsPublished.inc(this.labels, batch.raw.length);
    metrics.rowsDeadLettered.inc(this.labels, batch.dlq.length);
    metrics.cursorId.set(this.labels, batch.lastId);
    const now = Date.now();
    if (env.LOG_PROGRESS && now - this.lastProgressAt >= PROGRESS_EVERY_MS) {
      this.lastProgressAt = now;
      logger.info({ account: account.login, cursor: batch.lastId, batchRows: batch.size }, 'progress');
    }
  }
}
