// The per-account cursor: the last feed id published, kept in a compacted topic (key: account)
// and written in the same transaction as the CDRs it covers, so the cursor and cdr.raw never
// disagree. Read with read_committed to the end of the topic: once at start for every account of
// the process, and again after a Kafka failure (re-reads asked for together share one read).
//
// `owner` names the process that last claimed the account, `transactionalId` the producer that
// wrote it (see producer/ownership.ts);
// `deadLetteredAfter` counts rows without a readable id after `lastId` that were dead-lettered;
// `newestStartTime` is the call start of the newest CDR published (how far behind the account is).
import type { Kafka, Message } from 'kafkajs';
import type { Logger } from 'pino';
import { readToEnd } from '../kafka/bounded-read.ts';
import { freshSharedRead } from '../ops/fresh-read.ts';

/** Where an account stands: the last id covered and the id-less rows dead-lettered after it. */
export interface CursorState {
  lastId: number;
  deadLetteredAfter: number;
}

export interface CursorValue {
  account: string;
  lastId: number;
  /** Rows (published and dead-lettered) in the transaction that wrote this cursor. */
  rows: number;
  committedAt: string;
  owner?: string;
  deadLetteredAfter?: number;
  /** Start (ISO 8601, UTC) of the newest CDR the account has published, for `status`. */
  newestStartTime?: string;
  /**
   * The transactional id that wrote the record: a process that takes the account over fences it.
   * Records written before the producer pool have none (their writer was `<prefix>-<account>`).
   */
  transactionalId?: string;
}

export function cursorMessage(value: CursorValue): Message {
  return { key: value.account, value: JSON.stringify(value) };
}

/** The cursor record a batch's transaction writes: where the account stands once it commits, and who wrote it. */
export function batchCursor(
  account: string,
  batch: { lastId: number; deadLetteredAfter: number; size: number },
  owner: string,
  transactionalId: string,
  newestStart: number | undefined,
): Message {
  return cursorMessage({
    account,
    lastId: batch.lastId,
    deadLetteredAfter: batch.deadLetteredAfter,
    rows: batch.size,
    committedAt: new Date().toISOString(),
    owner,
    transactionalId,
    ...(newestStart === undefined ? {} : { newestStartTime: new Date(newestStart).toISOString() }),
  });
}

/** The transactional id an account's producers used before the pool (one per account). */
export function legacyTransactionalId(prefix: string, login: string): string {
  return `${prefix}-${login}`;
}

/** The cursor in a record, or undefined for a record that is not one (never a throw). */
export function parseCursor(value: Buffer | null): CursorValue | undefined {
  if (!value) return undefined;
  let v: Partial<CursorValue>;
  try {
    v = JSON.parse(value.toString('utf8')) as Partial<CursorValue>;
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || typeof v.account !== 'string' || !Number.isSafeInteger(v.lastId))
    return undefined;
  if (v.deadLetteredAfter !== undefined && !Number.isSafeInteger(v.deadLetteredAfter)) return undefined;
  if (v.transactionalId !== undefined && typeof v.transactionalId !== 'string') delete v.transactionalId;
  return v as CursorValue;
}

export interface CursorReadOptions {
  timeoutMs: number;
  /** The reads' throwaway consumer groups are named after it (one per read). */
  groupPrefix: string;
  /**
   * Read to the high watermark, waiting this long for transactions open when the read starts (see
   * readToEnd); without it, to the last stable offset (what the tools show).
   */
  awaitOpenTransactionsMs?: number;
  /** Told when such a read has waited a few seconds for an open transaction. */
  onOpenTransactionsWaiting?: () => Promise<unknown>;
  /** Where a record that is not a cursor is reported (skipped either way). */
  log?: Logger;
}

/** The last cursor of each account in the cursor topic: the one cursor reader, for the producer and the tools. */
export async function readCursors(
  kafka: Kafka,
  topic: string,
  options: CursorReadOptions,
): Promise<Map<string, CursorValue>> {
  const cursors = new Map<string, CursorValue>();
  await readToEnd(
    kafka,
    [topic],
    ({ partition, messages }) => {
      for (const m of messages) {
        const cursor = parseCursor(m.value);
        if (cursor) cursors.set(cursor.account, cursor);
        else if (m.value !== null)
          options.log?.warn(
            { topic, partition, offset: m.offset },
            'skipped a cursor record that is not a cursor',
          );
      }
    },
    {
      timeoutMs: options.timeoutMs,
      groupPrefix: options.groupPrefix,
      ...(options.awaitOpenTransactionsMs === undefined
        ? {}
        : { awaitOpenTransactionsMs: options.awaitOpenTransactionsMs }),
      ...(options.onOpenTransactionsWaiting === undefined
        ? {}
        : { onOpenTransactionsWaiting: options.onOpenTransactionsWaiting }),
    },
  );
  return cursors;
}

/** The producer's cursor reads: once for however many callers ask at once (see readAll). */
export class CursorReader {
  private readonly kafka: Kafka;
  private readonly topic: string;
  private readonly options: CursorReadOptions;

  constructor(kafka: Kafka, topic: string, options: CursorReadOptions) {
    this.kafka = kafka;
    this.topic = topic;
    this.options = options;
  }

  /** Told when a read has waited a few seconds for open transactions (see readToEnd). */
  set onOpenTransactionsWaiting(hook: () => Promise<unknown>) {
    this.options.onOpenTransactionsWaiting = hook;
  }

  /**
   * The last cursor of each account, read after this call. Callers that ask while a read is being
   * set up share it; a read that started before the call is not shared, since it may predate the
   * caller's InitProducerId: the call waits for it and starts the next one, which later callers
   * share in turn.
   */
  readonly readAll: () => Promise<Map<string, CursorValue>> = freshSharedRead(() =>
    readCursors(this.kafka, this.topic, this.options),
  );
}

/**
 * Where an account stands, from its cursor record and its running totals (cdr.control.totals), both
 * read after the same InitProducerId. They are written in the same transactions, so the totals
 * never name a later cursor than the cursor record, unless the broker committed a transaction
 * without writing its marker to the cursor partition: seen with Kafka 4.4 stopped in the middle of
 * a commit, where the cursor record stayed invisible to read_committed readers (the partition's
 * last stable offset held before it) while the transaction's CDRs and totals were committed.
 * Going on from the older cursor publishes those CDRs again; the totals' cursor is then the
 * committed truth. A cursor record written after the totals (`cursor set`, moving an account back)
 * stands. Returns the totals' cursor when it is the later one.
 */
export function cursorBehindTotals(
  found: CursorValue | undefined,
  totals: ReadonlyMap<string, { cursor: number; written_at: number }> | undefined,
): number | undefined {
  let latest: { cursor: number; written_at: number } | undefined;
  for (const t of totals?.values() ?? []) if (latest === undefined || t.cursor > latest.cursor) latest = t;
  if (latest === undefined) return undefined;
  const lastId = found?.lastId ?? Number.NEGATIVE_INFINITY;
  const recordAt = found === undefined ? Number.NEGATIVE_INFINITY : Date.parse(found.committedAt);
  return latest.cursor > lastId && !(recordAt > latest.written_at) ? latest.cursor : undefined;
}

/**
 * Where an account goes on from: its cursor record, or the totals' later cursor (cursorBehindTotals,
 * said at warn), or `startAfter` for an account without either.
 */
export function accountPosition(
  account: string,
  found: CursorValue | undefined,
  totals: ReadonlyMap<string, { cursor: number; written_at: number }> | undefined,
  startAfter: number,
  log: Logger,
): { lastId: number; deadLetteredAfter: number } {
  const ahead = cursorBehindTotals(found, totals);
  if (ahead === undefined)
    return { lastId: found?.lastId ?? startAfter, deadLetteredAfter: found?.deadLetteredAfter ?? 0 };
  log.warn(
    { account, cursor: found?.lastId, totalsCursor: ahead },
    'the running totals were committed past the cursor record, whose transaction marker the broker did not write: going on from the totals',
  );
  return { lastId: ahead, deadLetteredAfter: 0 };
}
