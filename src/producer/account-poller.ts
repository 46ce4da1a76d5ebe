// The poll loop of one feed account: read the cursor, GET the feed from it, stream the body into
// batches, commit each batch (CDRs, dead letters and the new cursor) as one Kafka transaction.
// While batch k commits, batch k+1 is parsed and encoded; commits themselves run one at a time.
// Any Kafka failure drops the in-memory cursor: the next attempt re-reads it from the cursor topic,
// which is the only truth after an ambiguous commit.
import { setTimeout as sleep } from 'node:timers/promises';
import type avro from 'avsc';
import type { Kafka, Message } from 'kafkajs';
import type { Logger } from 'pino';
import { type HeaderMap, readHeader } from '../cdr/header.ts';
import { convertRow, type RawCdr, rowId } from '../cdr/row.ts';
import type { TimeZone } from '../cdr/time-zone.ts';
import { encodeValue } from '../codec/wire.ts';
import type { FeedAccount, ProducerConfig } from '../config/producer.ts';
import { CdrError, ErrorCodes, isCdrError } from '../errors.ts';
import { retryDelay } from '../feed/backoff.ts';
import { feedRows } from '../feed/csv-rows.ts';
import { feedTarget, feedTransportError, openFeed } from '../feed/request.ts';
import { KeyBuffers } from '../kafka/key-buffers.ts';
import type { TransactionalSender } from '../kafka/transactions.ts';
import { Batch } from './batch.ts';
import { cursorMessage, readCursors } from './cursor.ts';
import { dlqMessage } from './dlq.ts';
import type { ProducerMetrics } from './metrics.ts';

export interface AccountHealth {
  lastSuccessAt?: number;
  authFailing: boolean;
  lastErrorCode?: string;
}

export interface PollerDeps {
  account: FeedAccount;
  env: ProducerConfig['env'];
  kafka: Kafka;
  sender: TransactionalSender;
  avroType: avro.Type;
  schemaId: number;
  zone: TimeZone;
  metrics: ProducerMetrics;
  logger: Logger;
  signal: AbortSignal;
}

const PROGRESS_EVERY_MS = 5000;

export class AccountPoller {
  readonly health: AccountHealth = { authFailing: false };
  /** The last id committed, as far as this process knows; undefined until read from Kafka. */
  private cursor: number | undefined;
  private readonly deps: PollerDeps;
  private readonly labels: { account: string };
  private readonly feedHost: string;
  private lastProgressAt = 0;
  private readonly keys = new KeyBuffers();

  constructor(deps: PollerDeps) {
    this.deps = deps;
    this.labels = { account: deps.account.login };
    this.feedHost = feedTarget(deps.env.FEED_URL).feedHost;
  }

  /** Polls until the signal aborts. Rejects only when fenced (another process owns the account). */
  async run(): Promise<void> {
    const { env, logger, signal, metrics } = this.deps;
    let attempt = 0;
    while (!signal.aborted) {
      let delay = env.FEED_POLL_INTERVAL_MS;
      try {
        if (this.cursor === undefined) this.cursor = await this.readCursor();
        await this.pollOnce(this.cursor);
        attempt = 0;
        this.health.authFailing = false;
        this.health.lastSuccessAt = Date.now();
        delete this.health.lastErrorCode;
        metrics.lastPollSuccess.set(this.labels, Date.now() / 1000);
      } catch (err) {
        if (signal.aborted && (isCdrError(err, ErrorCodes.ABORTED) || !isCdrError(err))) break;
        if (isCdrError(err, ErrorCodes.FENCED)) throw err;
        const code = isCdrError(err) ? err.code : ErrorCodes.KAFKA;
        if (!isCdrError(err) || err.code === ErrorCodes.KAFKA || err.code === ErrorCodes.REGISTRY)
          this.cursor = undefined;
        this.health.lastErrorCode = code;
        metrics.feedErrors.inc({ ...this.labels, kind: code });
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

  private async readCursor(): Promise<number> {
    const { kafka, env, account, metrics, logger } = this.deps;
    const found = (await readCursors(kafka, env.TOPIC_CURSOR)).get(account.login);
    // FEED_START_ID is the first id wanted; the cursor is the last id published.
    const cursor = found?.lastId ?? Math.max(env.FEED_START_ID - 1, 0);
    metrics.cursorId.set(this.labels, cursor);
    logger.info(
      { account: account.login, cursor, from: found ? 'cursor topic' : 'FEED_START_ID' },
      'cursor read',
    );
    return cursor;
  }

  private async pollOnce(cursor: number): Promise<void> {
    const { env, account, signal, metrics, logger } = this.deps;
    const startedAt = Date.now();
    const endPoll = metrics.pollDuration.startTimer(this.labels);
    // The feed's advice: ask from the last id collected (inclusive), and drop what is not above it.
    const body = await openFeed({
      baseUrl: env.FEED_URL,
      credentials: account,
      fromId: cursor,
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

    try {
      for await (const ev of feedRows(body)) {
        if (ev.kind === 'header') {
          header = readHeader(ev.fields);
          continue;
        }
        fetched++;
        if (ev.kind === 'broken') {
          batch.dlq.push(this.deadLetter(undefined, ev.line, ev.raw, 'csv', ev.reason, fetchedAt));
        } else {
          const h = header as HeaderMap;
          const id = rowId(ev.fields, h);
          if (id !== undefined && id <= batch.lastId) {
            // The first row repeats the cursor by design; anything else at or below it went backwards.
            if (id !== cursor || fetched !== 1) {
              backwards++;
              metrics.rowsSkipped.inc({ ...this.labels, reason: 'id_not_above_cursor' });
            }
            continue;
          }
          const result = convertRow(ev.fields, h, this.deps.zone, {
            ingested_at: Date.now(),
            feed_host: this.feedHost,
            line: ev.line,
          });
          if (result.ok) {
            const { dlq, message } = this.encode(result.cdr, ev.line, ev.raw, fetchedAt);
            (dlq ? batch.dlq : batch.raw).push(message);
          } else {
            const { field, reason } = result.problem;
            batch.dlq.push(this.deadLetter(id, ev.line, ev.raw, field, reason, fetchedAt));
          }
          if (id !== undefined) batch.lastId = id;
        }
        if (batch.isFull(env.BATCH_MAX_ROWS, env.BATCH_MAX_MS, Date.now())) {
          await commitAsync(batch);
          batch = new Batch(batch.lastId, Date.now());
        }
      }
    } catch (err) {
      streamError = err;
    }
    metrics.rowsFetched.inc(this.labels, fetched);
    if (inflight) await inflight;
    // Rows fully received before a break are kept; a partial last row never reached the batch.
    if (batch.size > 0 || batch.lastId > (this.cursor ?? cursor)) {
      await commitAsync(batch);
      await inflight;
    }
    endPoll();
    if (backwards > 0) {
      logger.warn(
        { account: account.login, rows: backwards, cursor },
        'rows with ids not above the cursor were skipped',
      );
    }
    if (streamError !== undefined) {
      throw isCdrError(streamError)
        ? streamError
        : feedTransportError(streamError, feedTarget(env.FEED_URL, cursor));
    }
    if (published + deadLettered > 0) {
      logger.info(
        { account: account.login, published, deadLettered, cursor: this.cursor, ms: Date.now() - startedAt },
        'poll committed',
      );
    }
  }

  /** The cdr.raw record of a valid CDR, or its dead letter when it does not encode. */
  private encode(
    cdr: RawCdr,
    line: number,
    raw: string,
    fetchedAt: string,
  ): { dlq: boolean; message: Message } {
    const key =
      cdr.billing_group === '' ? `${this.deps.env.NO_GROUP_KEY_PREFIX}${cdr.account}` : cdr.billing_group;
    try {
      const value = encodeValue(this.deps.avroType, this.deps.schemaId, cdr);
      return { dlq: false, message: { key: this.keys.get(key), value } };
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      return {
        dlq: true,
        message: this.deadLetter(cdr.id, line, raw, 'avro', reason, fetchedAt, ErrorCodes.ENCODE_FAILED),
      };
    }
  }

  private deadLetter(
    id: number | undefined,
    line: number,
    raw: string,
    field: string,
    reason: string,
    fetchedAt: string,
    errorCode: string = ErrorCodes.ROW_INVALID,
  ): Message {
    return dlqMessage({
      account: this.deps.account.login,
      ...(id === undefined ? {} : { id: String(id) }),
      line,
      raw,
      errorCode,
      field,
      reason: `line ${line}${id === undefined ? '' : `, id ${id}`}: ${field} ${reason}`,
      feedHost: this.feedHost,
      fetchedAt,
    });
  }

  private async commit(batch: Batch): Promise<void> {
    const { env, sender, metrics, account, logger } = this.deps;
    const end = metrics.commitDuration.startTimer(this.labels);
    const cursor = cursorMessage({
      account: account.login,
      lastId: batch.lastId,
      rows: batch.size,
      committedAt: new Date().toISOString(),
    });
    try {
      await sender.commit([
        { topic: env.TOPIC_RAW, messages: batch.raw },
        { topic: env.TOPIC_DLQ, messages: batch.dlq },
        { topic: env.TOPIC_CURSOR, messages: [cursor] },
      ]);
    } catch (err) {
      metrics.transactionsAborted.inc(this.labels);
      throw err instanceof CdrError
        ? err
        : new CdrError(ErrorCodes.KAFKA, 'commit failed', { cause: err, retriable: true });
    }
    end();
    this.cursor = batch.lastId;
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
