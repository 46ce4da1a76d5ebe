// `cdr-pipeline reconcile`: control totals per billing period x account x billing group x call
// type, computed from Kafka (one bounded scan of cdr.raw, or with `fast` the control records
// summed), with each account's continuity, compared with the feed, a totals file or the enriched
// topics. See report.ts for what a difference is.
import type { Kafka } from 'kafkajs';
import type { RawCdr } from '../../cdr/row.ts';
import type { RegistryOptions } from '../../codec/registry.ts';
import { CdrError, ErrorCodes } from '../../errors.ts';
import { latestTotals } from '../../topics/control-read.ts';
import { readCursors } from '../../topics/cursor.ts';
import { readDeadLetters } from '../../topics/dlq.ts';
import { scan } from '../read/scan.ts';
import { Continuity, MERGE_PACE_MS } from './continuity.ts';
import { reconcileWithEnriched } from './enriched.ts';
import { type FeedSide, reconcileWithFeed } from './feed.ts';
import { explainGaps, type FeedCoverage } from './gaps.ts';
import {
  compareTotals,
  continuityDifference,
  type DifferenceKind,
  Differences,
  type ReconcileReport,
} from './report.ts';
import { type CdrScope, TOTALS_FIELDS } from './scope.ts';
import { KEY_COLUMNS, TotalsTable } from './totals.ts';
import type { TotalsFile } from './totals-file.ts';

export type Against =
  | { kind: 'nothing' }
  | {
      kind: 'feed';
      side: FeedSide;
      fromId: number;
      toId?: number;
      /** Columns left out of the comparison (`--ignore-column`). */
      ignoreColumns?: readonly string[];
    }
  | { kind: 'totals-file'; file: TotalsFile }
  | { kind: 'enriched'; topics: string[] };

export interface ReconcileRequest {
  kafka: Kafka;
  registry: RegistryOptions;
  topics: { raw: string; controlTotals: string; dlq: string; cursor: string };
  scope: CdrScope;
  fast: boolean;
  against: Against;
  /** Differences listed at most; the rest are counted. */
  maxListed?: number;
  /** Kinds of difference that do not make the reconciliation fail (`--accept`). */
  accept?: ReadonlySet<DifferenceKind>;
  timeoutMs?: number;
}

function refuse(message: string): never {
  throw new CdrError(ErrorCodes.CONFIG_INVALID, `invalid option: ${message}`);
}

export async function reconcile(req: ReconcileRequest): Promise<ReconcileReport> {
  const out = new Differences(req.maxListed, req.accept);
  const { against } = req;
  if (req.fast && (against.kind === 'feed' || against.kind === 'enriched'))
    refuse(`--fast: control records hold totals, not ids: --against ${against.kind} needs the full scan`);
  const continuity = new Continuity(req.maxListed);
  const counted = req.fast ? await fastTotals(req, out) : await scannedTotals(req, out, continuity);
  const feed = counted.feed;
  const { totals } = counted;
  if (against.kind === 'enriched')
    await reconcileWithEnriched(
      req.kafka,
      req.registry,
      against.topics,
      req.scope,
      { continuity, totals },
      out,
    );
  if (against.kind === 'totals-file') {
    const file = against.file;
    compareTotals(totals.rollUp(file.table.columns), file.table, file.values, out, file.lines);
  }
  return {
    against: against.kind,
    source: req.fast ? 'fast' : 'scan',
    columns: KEY_COLUMNS,
    totals: totals.list(),
    differences: out.list,
    unlisted: out.unlisted,
    accounts: [...continuity.accounts.values()]
      .sort((a, b) => (a.account < b.account ? -1 : a.account > b.account ? 1 : 0))
      .map((a) => {
        const gaps = a.ids.gaps();
        // With the feed read beside Kafka, each gap says why it is one.
        const explained =
          feed !== undefined && a.account === feed.account
            ? { gapParts: explainGaps(gaps, feed.coverage, feed.deadLetters) }
            : {};
        return {
          account: a.account,
          firstId: a.ids.first,
          lastId: a.ids.last,
          ids: a.ids.count,
          gaps,
          ...explained,
        };
      }),
    records: counted.records,
    accepted: out.accepted,
    ok: out.blocking === 0,
  };
}

interface Counted {
  totals: TotalsTable;
  /** CDRs counted. */
  records: number;
  /** With --feed: what the feed showed of the account, and its dead letters. */
  feed?: FeedSeen;
}

interface FeedSeen {
  account: string;
  coverage: FeedCoverage;
  deadLetters: ReadonlyMap<number, { reason: string }>;
}

/** The running totals (cdr.control.totals): the latest record per account and period is its total so far. */
async function fastTotals(req: ReconcileRequest, out: Differences): Promise<Counted> {
  if (req.scope.idMin !== undefined || req.scope.idMax !== undefined)
    refuse('--fast: control totals are per billing period: an id range needs the full scan');
  const read = await latestTotals(req.kafka, req.registry, req.topics.controlTotals, {
    ...(req.scope.accounts ? { accounts: req.scope.accounts } : {}),
    ...(req.scope.periods ? { periods: req.scope.periods } : {}),
    rawTopic: req.topics.raw,
  });
  const totals = new TotalsTable();
  let records = 0;
  for (const c of read.totals.values()) {
    records += c.count;
    for (const l of c.lines)
      totals.add(
        {
          billing_period: c.billing_period,
          account: c.account,
          billing_group: l.billing_group,
          type: l.type,
          sub_type: l.sub_type,
        },
        { count: l.count, seconds: l.seconds, cost: l.cost, firstId: l.first_id, lastId: l.last_id },
      );
  }
  if (read.undecodable > 0)
    out.add({ kind: 'undecodable', detail: `${read.undecodable} control records could not be decoded` });
  return { totals, records };
}

/** The CDRs themselves, read once: their totals and each account's continuity (against the feed, side by side). */
async function scannedTotals(
  req: ReconcileRequest,
  out: Differences,
  continuity: Continuity,
): Promise<Counted> {
  const counted: Counted = { totals: new TotalsTable(), records: 0 };
  const count = (c: RawCdr, partition: number, offset: string) => {
    counted.records++;
    counted.totals.addCdr(c, c.seconds, c.cost, c.id);
    continuity.add(c.account, c.id, partition, offset);
  };
  if (req.against.kind === 'feed') counted.feed = await feedScan(req, req.against, out, count);
  else {
    const done = await scan(req.kafka, {
      paceMs: MERGE_PACE_MS,
      fields: TOTALS_FIELDS,
      topics: [req.topics.raw],
      registry: req.registry,
      keep: req.scope.keep,
      onMatch: (c, at) => {
        count(c, at.partition, at.offset);
      },
      ...(req.timeoutMs ? { timeoutMs: req.timeoutMs } : {}),
    });
    if (done.undecodable > 0)
      out.add({
        kind: 'undecodable',
        detail: `${done.undecodable} records of ${req.topics.raw} could not be decoded`,
      });
  }
  for (const issue of continuity.issues) out.add(continuityDifference(issue));
  out.unlisted += continuity.dropped;
  return counted;
}

/** One account's CDRs in Kafka merged with the feed re-read, id by id; its dead letters explain the ids missing. */
async function feedScan(
  req: ReconcileRequest,
  against: Extract<Against, { kind: 'feed' }>,
  out: Differences,
  count: (c: RawCdr, partition: number, offset: string) => void,
): Promise<FeedSeen> {
  const login = against.side.account.login;
  if (req.scope.accounts && !(req.scope.accounts.size === 1 && req.scope.accounts.has(login)))
    refuse(`--account: the feed is reconciled one account at a time (${login})`);
  const toId = against.toId ?? (await cursorOf(req, login));
  const deadLetters = new Map<number, { reason: string }>();
  for (const d of await readDeadLetters(req.kafka, req.topics.dlq, { account: login }))
    if (d.id !== null) deadLetters.set(Number(d.id), { reason: d.reason });
  const { coverage } = await reconcileWithFeed(
    {
      ...(against.ignoreColumns ? { ignoreColumns: against.ignoreColumns } : {}),
      kafka: req.kafka,
      registry: req.registry,
      rawTopic: req.topics.raw,
      side: against.side,
      fromId: against.fromId,
      toId,
      deadLetters,
      onKafkaCdr: (c, partition, offset) => {
        if (req.scope.keep(c)) count(c, partition, offset);
      },
    },
    out,
  );
  return { account: login, coverage, deadLetters };
}

async function cursorOf(req: ReconcileRequest, login: string): Promise<number> {
  const cursor = (
    await readCursors(req.kafka, req.topics.cursor, { timeoutMs: 60_000, groupPrefix: 'cdr-reconcile' })
  ).get(login);
  if (cursor === undefined)
    refuse(
      `--account ${login}: no cursor in ${req.topics.cursor}: nothing was ingested for it (or give --to-id)`,
    );
  return cursor.lastId;
}
