// Reconciling one account with the feed itself, re-read from an id: the feed is the source of
// truth. Memory stays bounded whatever the number of CDRs: both sides are first summed per bucket
// of 1,024 consecutive ids (count and two order-free fingerprints of every id's values); only the
// buckets that differ are then read again, from Kafka and from the feed, and compared id by id.
// A clean run reads each side once.
import type { Kafka } from 'kafkajs';
import type { HeaderMap } from '../../cdr/header.ts';
import { readHeader } from '../../cdr/header.ts';
import type { Field } from '../../cdr/layouts.ts';
import { type RawCdr, RowReader } from '../../cdr/row.ts';
import { TimeZone } from '../../cdr/time-zone.ts';
import type { RegistryOptions } from '../../codec/registry.ts';
import type { FeedAccount, FeedOptions, RowOptions } from '../../config/producer.ts';
import { feedRows } from '../../feed/csv-rows.ts';
import { egressDispatcher } from '../../feed/egress.ts';
import { openFeed } from '../../feed/request.ts';
import { scan } from '../read/scan.ts';
import { ColumnFilter } from './columns.ts';
import { IdRanges, MERGE_PACE_MS } from './continuity.ts';
import type { FeedCoverage } from './gaps.ts';
import type { Differences } from './report.ts';

/** The feed of one account, as the producer reads it. */
export interface FeedSide {
  account: FeedAccount;
  feed: Pick<FeedOptions, 'url' | 'headersTimeoutMs' | 'bodyIdleTimeoutMs' | 'maxInflateRatio' | 'egress'>;
  rows: RowOptions;
}

export type FeedItem =
  | { id: number; cdr: RawCdr; names: Partial<Record<Field, string>> }
  | { id: number; problem: string };

/** What a reader of the feed is told besides its rows. */
export interface FeedWatch {
  /** Each response's header, as sent and as read. */
  header?(sent: readonly string[], header: HeaderMap): void;
  /** A pointer row moved the next request past these ids. */
  skipped?(from: number, to: number): void;
}

/**
 * The feed's rows of the account with ids from `fromId` to `toId`, in id order: request after
 * request (a feed may answer with a window of ids, or a pointer row saying where data continues),
 * each from the id after the last one read, until a response brings nothing new.
 */
export async function* feedItems(
  side: FeedSide,
  fromId: number,
  toId: number,
  watch: FeedWatch = {},
): AsyncGenerator<FeedItem> {
  const zone = new TimeZone(side.rows.timeZone);
  let next = fromId;
  // The producer's way to the carrier: its proxy, its CA and client certificate.
  const dispatcher = egressDispatcher(side.feed.egress);
  for (;;) {
    const body = await openFeed({
      baseUrl: side.feed.url,
      credentials: side.account,
      fromId: next,
      headersTimeoutMs: side.feed.headersTimeoutMs,
      bodyIdleTimeoutMs: side.feed.bodyIdleTimeoutMs,
      maxInflateRatio: side.feed.maxInflateRatio,
      ...(dispatcher ? { dispatcher } : {}),
    });
    let header: HeaderMap | undefined;
    let reader: RowReader | undefined;
    let last: number | undefined;
    let pointer: number | undefined;
    let rows = 0;
    let beyond = false;
    for await (const ev of feedRows(body, {
      delimiter: side.rows.delimiter,
      maxRecordChars: side.rows.maxRecordChars,
      rawClipChars: 200,
      // Reading, not publishing: a last row without a line end is taken as it is.
      acceptTail: () => true,
    })) {
      if (ev.kind === 'header') {
        header = readHeader(ev.fields, side.rows.layouts, side.rows.currency);
        reader = new RowReader(header, { zone, login: side.account.login });
        watch.header?.(ev.fields, header);
        continue;
      }
      if (ev.kind !== 'record') continue;
      const h = header as HeaderMap;
      const r = reader as RowReader;
      rows++;
      if (last === undefined && h.layout.pointerWhenEmpty) {
        if (rows === 1 && r.idIsEmpty(ev.fields)) break;
        if (r.isPointer(ev.fields)) {
          pointer = r.id(ev.fields);
          break;
        }
      }
      const id = r.id(ev.fields);
      if (id === undefined || id < next) continue;
      if (id > toId) {
        beyond = true;
        break;
      }
      last = id;
      const result = r.convert(ev.fields, { ingested_at: 0, feed_host: '', line: ev.line });
      yield result.ok
        ? { id, cdr: result.cdr, names: h.names }
        : { id, problem: `${result.problem.field} ${result.problem.reason}` };
    }
    body.destroy();
    if (beyond || (last !== undefined && last >= toId)) return;
    if (last !== undefined) next = last + 1;
    else if (pointer !== undefined && pointer > next) {
      watch.skipped?.(next, pointer - 1);
      next = pointer;
    } else return;
  }
}

/** 32-bit FNV-1a of a string (UTF-16 code units), seeded. */
function fnv(text: string, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export const BUCKET_IDS = 1024;

interface Bucket {
  count: number;
  a: number;
  b: number;
}

/** Per bucket of ids: a count and two sums of fingerprints, in any order of adding. */
export class BucketSums {
  readonly buckets = new Map<number, Bucket>();

  add(id: number, text: string): void {
    const k = Math.floor(id / BUCKET_IDS);
    let b = this.buckets.get(k);
    if (b === undefined) {
      b = { count: 0, a: 0, b: 0 };
      this.buckets.set(k, b);
    }
    b.count++;
    b.a = (b.a + fnv(text, 0x811c9dc5)) >>> 0;
    b.b = (b.b + fnv(text, 0x2545f491)) >>> 0;
  }

  /** Buckets whose sums differ from `other`'s, ascending. */
  differing(other: BucketSums): number[] {
    const out = new Set<number>();
    for (const [k, x] of this.buckets) {
      const y = other.buckets.get(k);
      if (!y || y.count !== x.count || y.a !== x.a || y.b !== x.b) out.add(k);
    }
    for (const k of other.buckets.keys()) if (!this.buckets.has(k)) out.add(k);
    return [...out].sort((x, y) => x - y);
  }
}

export interface DeadLetter {
  reason: string;
}

export interface FeedReconcileOptions {
  kafka: Kafka;
  registry: RegistryOptions;
  rawTopic: string;
  side: FeedSide;
  fromId: number;
  toId: number;
  /** The account's dead letters by id. */
  deadLetters: ReadonlyMap<number, DeadLetter>;
  /** Called with each of the account's CDRs in range on the first (full) Kafka pass. */
  onKafkaCdr?(cdr: RawCdr, partition: number, offset: string): void;
  /** At most this many differing buckets are compared id by id; the rest are counted. */
  maxBuckets?: number;
  /** Columns left out of the comparison (`--ignore-column`), by field or feed header. */
  ignoreColumns?: readonly string[];
}

export interface FeedReconcileResult {
  kafkaRecords: number;
  feedRows: number;
  feedInvalid: number;
  bucketsDiffering: number;
  bucketsCompared: number;
  /** The ids the feed sent and those its pointer rows skipped, from `fromId` to `toId`. */
  coverage: FeedCoverage;
}

export async function reconcileWithFeed(
  options: FeedReconcileOptions,
  out: Differences,
): Promise<FeedReconcileResult> {
  const login = options.side.account.login;
  const columns = new ColumnFilter(options.ignoreColumns, options.side.rows.layouts);
  const inRange = (c: RawCdr) => c.account === login && c.id >= options.fromId && c.id <= options.toId;
  const kafkaSums = new BucketSums();
  const feedSums = new BucketSums();
  let kafkaRecords = 0;
  const kafkaPass = scan(options.kafka, {
    paceMs: MERGE_PACE_MS,
    topics: [options.rawTopic],
    registry: options.registry,
    keep: inRange,
    onMatch: (c, at) => {
      kafkaRecords++;
      kafkaSums.add(c.id, columns.comparable(c));
      options.onKafkaCdr?.(c, at.partition, at.offset);
    },
  });
  let feedRowsRead = 0;
  let feedInvalid = 0;
  const coverage: FeedCoverage = { sent: new IdRanges(), skipped: new IdRanges() };
  const watch: FeedWatch = {
    header: (sent, header) => columns.checkHeader(header, sent),
    skipped: (from, to) => coverage.skipped.appendRange(from, to),
  };
  // An invalid feed row is not a CDR: it is summed as its problem, so Kafka cannot match it.
  const feedPass = (async () => {
    for await (const item of feedItems(options.side, options.fromId, options.toId, watch)) {
      feedRowsRead++;
      coverage.sent.add(item.id);
      if ('cdr' in item) feedSums.add(item.id, columns.comparable(item.cdr));
      else {
        feedInvalid++;
        feedSums.add(item.id, `invalid\u0001${item.problem}`);
      }
    }
  })();
  await Promise.all([kafkaPass, feedPass]);

  const differing = kafkaSums.differing(feedSums);
  const max = options.maxBuckets ?? 1000;
  const compared = differing.slice(0, max);
  if (differing.length > max)
    out.add({
      kind: 'values_differ',
      account: login,
      id: (differing[max] as number) * BUCKET_IDS,
      detail: `${differing.length - max} more blocks of ${BUCKET_IDS} ids differ and were not compared id by id: reconcile a narrower --from-id/--to-id`,
    });
  if (compared.length > 0) await compareBuckets(options, columns, compared, out);
  return {
    coverage,
    kafkaRecords,
    feedRows: feedRowsRead,
    feedInvalid,
    bucketsDiffering: differing.length,
    bucketsCompared: compared.length,
  };
}

/** The differing buckets id by id: Kafka's records of them, and the feed read again from each. */
async function compareBuckets(
  options: FeedReconcileOptions,
  columns: ColumnFilter,
  buckets: number[],
  out: Differences,
): Promise<void> {
  const login = options.side.account.login;
  const wanted = new Set(buckets);
  const kafka = new Map<number, RawCdr[]>();
  await scan(options.kafka, {
    topics: [options.rawTopic],
    registry: options.registry,
    keep: (c) =>
      c.account === login &&
      c.id >= options.fromId &&
      c.id <= options.toId &&
      wanted.has(Math.floor(c.id / BUCKET_IDS)),
    onMatch: (c) => {
      const list = kafka.get(c.id);
      if (list) list.push(c);
      else kafka.set(c.id, [c]);
    },
  });
  const feed = new Map<number, FeedItem>();
  // Consecutive buckets are read in one request.
  for (let i = 0; i < buckets.length; ) {
    let j = i;
    while (j + 1 < buckets.length && buckets[j + 1] === (buckets[j] as number) + 1) j++;
    const from = Math.max(options.fromId, (buckets[i] as number) * BUCKET_IDS);
    const to = Math.min(options.toId, ((buckets[j] as number) + 1) * BUCKET_IDS - 1);
    for await (const item of feedItems(options.side, from, to)) feed.set(item.id, item);
    i = j + 1;
  }
  const ids = [...new Set([...kafka.keys(), ...feed.keys()])].sort((a, b) => a - b);
  // An id in Kafka twice is reported by the continuity check of the first pass.
  for (const id of ids)
    compareId(login, id, kafka.get(id)?.[0], feed.get(id), options.deadLetters, columns, out);
}

/** One id as Kafka and the feed have it. */
function compareId(
  login: string,
  id: number,
  ours: RawCdr | undefined,
  theirs: FeedItem | undefined,
  deadLetters: ReadonlyMap<number, { reason: string }>,
  columns: ColumnFilter,
  out: Differences,
): void {
  if (theirs === undefined) {
    if (ours) out.add({ kind: 'missing_in_other', account: login, id, detail: 'in Kafka, not in the feed' });
    return;
  }
  if (ours === undefined) {
    const dead = deadLetters.get(id);
    if (dead) out.add({ kind: 'dead_lettered', account: login, id, detail: dead.reason });
    else
      out.add({
        kind: 'missing_in_kafka',
        account: login,
        id,
        detail:
          'problem' in theirs
            ? `in the feed (invalid: ${theirs.problem}), not dead-lettered`
            : 'in the feed, not in Kafka',
      });
    return;
  }
  if ('problem' in theirs) {
    out.add({
      kind: 'values_differ',
      account: login,
      id,
      detail: `the feed's row no longer reads: ${theirs.problem}`,
    });
    return;
  }
  for (const d of columns.differences(ours, theirs.cdr, theirs.names))
    out.add({ kind: 'values_differ', account: login, id, ...d });
}
