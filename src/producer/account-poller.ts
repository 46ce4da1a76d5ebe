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
import { setTimeout as sleep } from 'node:timers/promises';
import type avro from 'avsc';
import type { Logger } from 'pino';
import type { Layout } from '../cdr/layouts.ts';
import type { FeedAccount, ProducerConfig } from '../config/producer.ts';
import { CdrError, ErrorCodes, isCdrError } from '../errors.ts';
import { Batch } from '../feed/batch.ts';
import type { ResponseParsers } from '../feed/parsers.ts';
import { feedTarget, feedTransportError, openFeed } from '../feed/request.ts';
import { type FixedSetup, fixedSetup, type ResponseSetup, type ResponseSummary } from '../feed/response.ts';
import type { Permits } from '../ops/permits.ts';
import { retryDelay } from '../ops/retry.ts';
import type { ControlValue } from '../topics/control.ts';
import type { TotalsReader } from '../topics/control-read.ts';
import {
  accountPosition,
  batchCursor,
  type CursorReader,
  type CursorState,
  type CursorValue,
} from '../topics/cursor.ts';
import { AccountControls } from './account-controls.ts';
import type { ProducerMetrics } from './metrics.ts';
import type { ProducerSlot } from './pool.ts';

export interface AccountHealth {
  lastSuccessAt?: number;
  authFailing: boolean;
  /** The last response's header fit no layout. */
  headerUnreadable: boolean;
  lastErrorCode?: string;
}

export interface PollerDeps {
  account: FeedAccount;
  env: ProducerConfig['env'];
  /** The pool member the account commits through (shared with other accounts). */
  slot: ProducerSlot;
  cursors: CursorReader;
  /** This process, as named in the cursor records it writes. */
  instanceId: string;
  /** Where responses are parsed (worker threads, or this thread). */
  parsers: ResponseParsers;
  /** The layouts a response's header is matched against, in order. */
  layouts: readonly Layout[];
  schemaId: number;
  /** Largest record (key + value) cdr.raw takes: the topic's max.message.bytes less framing. */
  maxMessageBytes: number;
  /** Partitions of cdr.raw as read at start. */
  rawPartitions: number;
  /** The control records' schema and its registry ids (cdr.control's subject, cdr.control.totals'). */
  control: { type: avro.Type; schemaId: number; totalsSchemaId: number };
  /** Reads the running control totals (cdr.control.totals) back after a Kafka failure. */
  totals: TotalsReader;
  /** Feed requests in flight for the whole process (FEED_MAX_CONCURRENT_POLLS), given in turn. */
  polls: Permits;
  metrics: ProducerMetrics;
  logger: Logger;
  signal: AbortSignal;
}

const PROGRESS_EVERY_MS = 5000;

/** Retries after a Kafka failure: 250 ms doubling to 4 s (a leader election takes seconds). */
const KAFKA_BACKOFF = { minMs: 250, maxMs: 4000 };

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
  private readonly labels: { account: string };
  /** What every response's parsing is given, from the configuration. */
  private readonly fixed: FixedSetup;
  private lastProgressAt = 0;

  /**
   * `initial`: the account's claim and running control totals as read at start, at slot epoch
   * `epoch`.
   */
  constructor(
    deps: PollerDeps,
    initial: CursorValue | undefined,
    initialTotals: Map<string, ControlValue> | undefined,
    epoch: number,
  ) {
    this.deps = deps;
    this.epoch = epoch;
    this.labels = { account: deps.account.login };
    this.fixed = fixedSetup({
      account: deps.account.login,
      env: deps.env,
      layouts: deps.layouts,
      schemaId: deps.schemaId,
      feedHost: feedTarget(deps.env.FEED_URL).feedHost,
      rawPartitions: deps.rawPartitions,
    });
    this.maxMessageBytes = deps.maxMessageBytes;
    this.cursor = this.fromRecord(initial, initialTotals);
    this.controls = new AccountControls(
      {
        account: deps.account.login,
        rawTopic: deps.env.TOPIC_RAW,
        controlTopic: deps.env.TOPIC_CONTROL,
        totalsTopic: deps.env.TOPIC_CONTROL_TOTALS,
        ...deps.control,
      },
      initialTotals,
    );
  }

  /** Polls until the signal aborts. Rejects only when another process took the account over. */
  async run(): Promise<void> {
    const { env, logger, signal, metrics } = this.deps;
    if (this.cursor) logger.info({ account: this.labels.account, cursor: this.cursor.lastId }, 'cursor read');
    let attempt = 0;
    while (!signal.aborted) {
      let delay = env.FEED_POLL_INTERVAL_MS;
      try {
        this.deps.slot.throwIfTaken(this.labels.account);
        if (this.cursor === undefined) await this.recover();
        // While responses bring something (a window of rows, a pointer), ask again at once; the
        // permits are handed out in turn, so every other account of the process gets its turn.
        if (await this.deps.polls.run(() => this.pollOnce(this.cursor as CursorState), signal)) delay = 0;
        attempt = 0;
        this.health.authFailing = false;
        this.health.headerUnreadable = false;
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
          // A timed-out transaction, or another process taking the accounts over: the slot waits
          // for its claim and reads the cursor topic before it initialises again (recover).
          this.cursor = undefined;
          logger.warn(
            { account: this.labels.account, code },
            'commit refused for the producer epoch (transaction timed out, or another process): reading the cursor again',
          );
          continue;
        }
        if (code === ErrorCodes.MESSAGE_TOO_LARGE) {
          // Each record was under the limit and still Kafka refused the batch: halve it.
          const before = this.maxMessageBytes;
          const now = Math.max(1024, Math.floor(before / 2));
          this.maxMessageBytes = now;
          logger.warn(
            { account: this.labels.account, before, now },
            'Kafka refused a record as too large; records over the lowered limit will be dead-lettered',
          );
        }
        if (!isCdrError(err) || !err.code.startsWith('CDR_FEED')) this.cursor = undefined;
        // Nothing changes these by itself soon (a password, the feed's columns): retried slowly,
        // and the account is not ready meanwhile.
        if (code === ErrorCodes.FEED_AUTH || code === ErrorCodes.FEED_HEADER) {
          this.health.authFailing = code === ErrorCodes.FEED_AUTH;
          this.health.headerUnreadable = code === ErrorCodes.FEED_HEADER;
          delay = env.FEED_AUTH_RETRY_MS;
        } else {
          const retryAfterMs = isCdrError(err) ? (err.details.retryAfterMs as number | undefined) : undefined;
          // The feed's backoff is for the carrier (it may ask for minutes); a Kafka failure is a
          // leader or coordinator moving, over within seconds: asked again soon, whatever came before.
          const feed = code.startsWith('CDR_FEED');
          delay = retryDelay(
            attempt++,
            feed ? { minMs: env.FEED_BACKOFF_MIN_MS, maxMs: env.FEED_BACKOFF_MAX_MS } : KAFKA_BACKOFF,
            retryAfterMs,
          );
        }
        logger.warn({ err, code, retryInMs: delay, account: this.labels.account }, 'poll failed');
      }
      await sleep(delay, undefined, { signal }).catch(() => undefined);
    }
  }

  /** Where the account stands, from its cursor record and its running totals (see cursorBehindTotals). */
  private fromRecord(
    found: CursorValue | undefined,
    totals: ReadonlyMap<string, ControlValue> | undefined,
  ): CursorState {
    const newest = found?.newestStartTime === undefined ? Number.NaN : Date.parse(found.newestStartTime);
    this.newestStart = Number.isNaN(newest) ? undefined : newest;
    // FEED_START_ID is the first id wanted; the cursor is the last id published.
    const startAfter = Math.max(this.deps.env.FEED_START_ID - 1, 0);
    const position = accountPosition(this.labels.account, found, totals, startAfter, this.deps.logger);
    this.deps.metrics.cursorId.set(this.labels, position.lastId);
    return position;
  }

  /** The slot's producer initialised first, then the cursor as Kafka has it. */
  private async recover(): Promise<void> {
    const { slot, cursors, account, logger } = this.deps;
    const epoch = await slot.connect(account.login);
    this.nextFrom = undefined;
    const all = await cursors.readAll();
    slot.noteOwners(all, account.login);
    // Written in the same transactions as the cursor: read after the same InitProducerId, they agree
    // (unless the broker lost a marker: fromRecord).
    const totals = (await this.deps.totals.readAll()).get(account.login);
    this.controls.reset(totals);
    this.cursor = this.fromRecord(all.get(account.login), totals);
    this.epoch = epoch;
    logger.info({ account: account.login, cursor: this.cursor.lastId }, 'cursor read');
  }

  private markSuccess(): void {
    this.health.lastSuccessAt = Date.now();
  }

  /** One request and its body; true when it brought rows or a pointer to follow. */
  private async pollOnce(cursor: CursorState): Promise<boolean> {
    const { env, account, signal, metrics, logger } = this.deps;
    const startedAt = Date.now();
    const endPoll = metrics.pollDuration.startTimer();
    // The feed's advice: ask from the last id collected (inclusive); the policy drops what is not
    // above it. After a pointer row, ask from where it said data continues.
    const fromId = this.nextFrom ?? cursor.lastId;
    const body = await openFeed({
      baseUrl: env.FEED_URL,
      credentials: account,
      fromId,
      headersTimeoutMs: env.FEED_HEADERS_TIMEOUT_MS,
      bodyIdleTimeoutMs: env.FEED_BODY_IDLE_TIMEOUT_MS,
      signal,
    });
    const setup: ResponseSetup = {
      ...this.fixed,
      fetchedAt: new Date().toISOString(),
      cursor,
      heldTail: this.heldTail,
      records: { ...this.fixed.records, maxMessageBytes: this.maxMessageBytes },
    };
    let inflight: Promise<void> | undefined;
    let published = 0;
    let deadLettered = 0;
    let last: Batch | undefined;
    let summary: ResponseSummary | undefined;
    let streamError: unknown;
    // Batch k commits while batch k+1 is parsed; commits run one at a time, in order.
    for await (const ev of this.deps.parsers.parse(body, setup)) {
      if (ev.kind === 'end') {
        summary = ev.summary;
        streamError = ev.error;
        break;
      }
      const parsed = ev.batch;
      for (const [reason, n] of Object.entries(parsed.rowsSkipped))
        metrics.rowsSkipped.inc({ ...this.labels, reason }, n);
      if (inflight) await inflight;
      const batch = new Batch(parsed);
      // The last batch of a response may hold nothing and still move the cursor; or not move it.
      if (!batch.moves(this.cursor ?? cursor)) continue;
      published += batch.raw.length;
      deadLettered += batch.dlq.length;
      last = batch;
      inflight = this.commit(batch);
      // Observed by the next `await inflight`; not an unhandled rejection meanwhile.
      inflight.catch(() => undefined);
    }
    if (inflight) await inflight;
    const s = summary as ResponseSummary;
    metrics.rowsFetched.inc(this.labels, s.fetched);
    if (s.complete) this.heldTail = s.heldTail;
    endPoll();
    let followed = false;
    if (s.taken > 0) this.nextFrom = undefined;
    else if (s.pointer !== undefined) {
      // A pointer that does not move forward is not followed (it would be asked again and again).
      followed = s.pointer > fromId;
      metrics.pointerRows.inc({ followed: followed ? 'yes' : 'no' });
      if (followed) this.nextFrom = s.pointer;
      else
        logger.warn(
          { account: account.login, fromid: fromId, pointer: s.pointer },
          'a pointer row that does not point forward was not followed',
        );
    }
    if (s.backwards > 0) {
      logger.warn(
        { account: account.login, rows: s.backwards, cursor: cursor.lastId },
        'rows with ids not above the cursor were skipped',
      );
    }
    if (s.complete && s.heldTail !== undefined) {
      logger.info(
        { account: account.login, cursor: this.cursor?.lastId },
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
          cursor: last?.lastId,
          ms: Date.now() - startedAt,
        },
        'poll committed',
      );
    }
    return s.taken > 0 || followed;
  }

  private async commit(batch: Batch): Promise<void> {
    const { env, slot, metrics, account, logger } = this.deps;
    const end = metrics.commitDuration.startTimer({ slot: slot.transactionalId });
    const newest = Math.max(
      this.newestStart ?? Number.NEGATIVE_INFINITY,
      batch.newestStart ?? Number.NEGATIVE_INFINITY,
    );
    const newestKnown = Number.isFinite(newest) ? newest : undefined;
    let controlsNext: ControlValue[] = [];
    try {
      this.epoch = await slot.commit(
        { account: account.login, epoch: this.epoch, cursor: this.cursor as CursorState },
        [
          { topic: env.TOPIC_RAW, messages: batch.raw },
          { topic: env.TOPIC_DLQ, messages: batch.dlq },
          {
            topic: env.TOPIC_CURSOR,
            messages: [
              batchCursor(account.login, batch, this.deps.instanceId, slot.transactionalId, newestKnown),
            ],
          },
        ],
        // The control records go last: they name the offsets Kafka gave the CDRs above (entry 0).
        (offsets) => {
          const { topicMessages, next } = this.controls.records(
            batch.raw,
            batch.tallies,
            offsets(0),
            batch.lastId,
          );
          controlsNext = next;
          return topicMessages;
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
    // Progress is commits: a backfill of millions of rows in one response keeps the account ready.
    this.markSuccess();
    metrics.rowsPublished.inc(this.labels, batch.raw.length);
    metrics.rowsDeadLettered.inc(this.labels, batch.dlq.length);
    metrics.cursorId.set(this.labels, batch.lastId);
    metrics.cursorCommitted.set(this.labels, Date.now() / 1000);
    if (newestKnown !== undefined) metrics.newestCdrStart.set(this.labels, newestKnown / 1000);
    const now = Date.now();
    if (env.LOG_PROGRESS && now - this.lastProgressAt >= PROGRESS_EVERY_MS) {
      this.lastProgressAt = now;
      logger.info({ account: account.login, cursor: batch.lastId, batchRows: batch.size }, 'progress');
    }
  }
}
