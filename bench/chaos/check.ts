// The campaign's independent check: every topic read back with kcat (librdkafka) at
// read_committed, not with this project's readers, and held against the feed itself (the
// simulator's generator says which row each id is and whether it is broken). Every valid id once in
// cdr.raw and once across the enriched topics, every broken row once in cdr.dlq, the running control
// totals and the per-transaction control records equal to what cdr.raw holds, every cursor at the
// feed's end.
import { readFileSync } from 'node:fs';
import avro from 'avsc';
import { Kafka, logLevel } from 'kafkajs';
import { type KcatRecord, kcatReadCommitted as kcatRead } from '../../scripts/stack/kcat.ts';
import { ROOT } from '../../scripts/stack/paths.ts';
import { type CdrGenerator, SHORT_ROW_MARK, type SimAccountData } from '../../src/simulator/generator.ts';
import type { RunTopics } from './pipeline.ts';

const schema = (name: string) =>
  avro.Type.forSchema(JSON.parse(readFileSync(`${ROOT}/schemas/${name}.avsc`, 'utf8')) as avro.Schema);
const RAW = schema('cdr-raw');
const ENRICHED = schema('cdr-enriched');
const CONTROL = schema('cdr-control');

/** The Avro body of a Confluent-framed value (magic byte, 4-byte schema id). */
function body(value: Buffer | null): Buffer {
  if (value === null || value.length < 5 || value[0] !== 0) throw new Error('not a Confluent-framed value');
  return value.subarray(5);
}

/** A two's complement big-endian decimal's unscaled value. */
function unscaled(bytes: Buffer): bigint {
  if (bytes.length === 0) return 0n;
  let v = BigInt(`0x${bytes.toString('hex')}`);
  if ((bytes[0] as number) & 0x80) v -= 1n << BigInt(bytes.length * 8);
  return v;
}

export interface FeedEnd {
  account: SimAccountData;
  /** Rows of the account the check covers: 0 .. rows-1. */
  rows: number;
}

/** Which of the account's first `rows` rows the producer must publish, and which it must dead-letter. */
export function expectedIds(
  generator: CdrGenerator,
  end: FeedEnd,
): { valid: Set<number>; broken: Set<number> } {
  const valid = new Set<number>();
  const broken = new Set<number>();
  for (let n = 0; n < end.rows; n++) {
    const row = generator.row(end.account, n);
    const bad =
      row.seconds === 'abc' ||
      row.billing_period === '2026-13' ||
      row.cost === '12.3.4' ||
      row.cost === SHORT_ROW_MARK ||
      row.start_time === 'yesterday' ||
      row.account === '';
    (bad ? broken : valid).add(generator.idOf(end.account, n));
  }
  return { valid, broken };
}

export interface TopicFindings {
  /** Extra copies of ids that should be there once. */
  duplicates: number;
  missing: number;
  /** Ids there that should not be (a broken row published, a valid one dead-lettered). */
  unexpected: number;
  examples: string[];
  /**
   * Enriched ids missing: the input partitions where the enrichers' committed offset is more than
   * a marker behind cdr.raw's end (still behind: stuck, not lost), as `partition committed/end`.
   */
  behind?: string[];
}

export interface CheckResult {
  raw: TopicFindings;
  enriched: TopicFindings;
  dlq: TopicFindings;
  /** Totals or control records that do not add up to cdr.raw, by account|period. */
  totals: string[];
  ok: boolean;
}

function compare(
  seen: Map<string, number>,
  expected: Map<string, Set<number>>,
  forbidden: Map<string, Set<number>>,
  max: Map<string, number>,
): TopicFindings {
  const f: TopicFindings = { duplicates: 0, missing: 0, unexpected: 0, examples: [] };
  const note = (text: string) => {
    if (f.examples.length < 10) f.examples.push(text);
  };
  for (const [account, ids] of expected)
    for (const id of ids) {
      const n = seen.get(`${account}|${id}`) ?? 0;
      if (n === 0) {
        f.missing++;
        note(`missing ${account}/${id}`);
      } else if (n > 1) {
        f.duplicates += n - 1;
        note(`${n} times ${account}/${id}`);
      }
    }
  for (const [key, n] of seen) {
    const [account, idText] = key.split('|') as [string, string];
    const id = Number(idText);
    if (id > (max.get(account) ?? Number.NEGATIVE_INFINITY)) continue;
    if (forbidden.get(account)?.has(id) || !expected.get(account)?.has(id)) {
      f.unexpected += n;
      note(`unexpected ${account}/${id}`);
    }
  }
  return f;
}

function countIds(
  records: KcatRecord[],
  decode: (r: KcatRecord, index?: number) => { account: string; id: number } | undefined,
) {
  const seen = new Map<string, number>();
  for (let i = 0; i < records.length; i++) {
    const d = decode(records[i] as KcatRecord, i);
    if (d === undefined) continue;
    const key = `${d.account}|${d.id}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  return seen;
}

interface Sums {
  count: number;
  seconds: number;
  cost: bigint;
}

const addTo = (m: Map<string, Sums>, key: string, seconds: number, cost: bigint, count = 1) => {
  const s = m.get(key) ?? { count: 0, seconds: 0, cost: 0n };
  s.count += count;
  s.seconds += seconds;
  s.cost += cost;
  m.set(key, s);
};

export interface CheckInput {
  brokers: string;
  topics: RunTopics;
  enrichedTopics: string[];
  generator: CdrGenerator;
  ends: FeedEnd[];
  /** Waits this long for the enrichers to have every raw id before counting what is missing. */
  enrichedWaitMs?: number;
}

export async function checkTopics(input: CheckInput): Promise<CheckResult> {
  const { brokers, topics, generator } = input;
  const expectedValid = new Map<string, Set<number>>();
  const expectedBroken = new Map<string, Set<number>>();
  const max = new Map<string, number>();
  for (const end of input.ends) {
    const { valid, broken } = expectedIds(generator, end);
    expectedValid.set(end.account.login, valid);
    expectedBroken.set(end.account.login, broken);
    max.set(end.account.login, generator.idOf(end.account, end.rows - 1));
  }
  // Control records first: cdr.raw read after them holds at least what they count.
  const totalsRecords = await kcatRead(brokers, topics.totals);
  const controlRecords = await kcatRead(brokers, topics.control);
  const rawRecords = await kcatRead(brokers, topics.raw);
  const rawDecoded = rawRecords.map((r) => RAW.fromBuffer(body(r.value)) as RawValue);
  const rawFindings = compare(
    countIds(rawRecords, (_, i) => rawDecoded[i as number]),
    expectedValid,
    expectedBroken,
    max,
  );

  const dlqRecords = await kcatRead(brokers, topics.dlq);
  const dlqSeen = countIds(dlqRecords, (r) => {
    const v = JSON.parse(r.value?.toString('utf8') ?? '{}') as { account?: string; id?: string };
    return v.account !== undefined && v.id !== undefined
      ? { account: v.account, id: Number(v.id) }
      : undefined;
  });
  const dlqFindings = compare(dlqSeen, expectedBroken, expectedValid, max);

  // The enrichers run behind the producer: wait until every raw id up to the ends is there.
  let enrichedFindings: TopicFindings | undefined;
  const deadline = Date.now() + (input.enrichedWaitMs ?? 120_000);
  for (;;) {
    const records = (await Promise.all(input.enrichedTopics.map((t) => kcatRead(brokers, t)))).flat();
    const seen = countIds(records, (r) => {
      const v = ENRICHED.fromBuffer(body(r.value)) as { account: string; id: number };
      return { account: v.account, id: v.id };
    });
    enrichedFindings = compare(seen, expectedValid, expectedBroken, max);
    if (enrichedFindings.missing === 0 || Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
  // Missing after the wait: lost (the offsets past them committed) or never reached (behind)?
  if (enrichedFindings.missing > 0)
    enrichedFindings.behind = await groupBehind(brokers, topics.enrichGroup, topics.raw).catch(
      (err: unknown) => [`the group's offsets could not be read: ${String(err)}`],
    );

  const totals = checkControl(rawDecoded, totalsRecords, controlRecords);
  const clean = (f: TopicFindings) => f.duplicates === 0 && f.missing === 0 && f.unexpected === 0;
  return {
    raw: rawFindings,
    enriched: enrichedFindings,
    dlq: dlqFindings,
    totals,
    ok: clean(rawFindings) && clean(enrichedFindings) && clean(dlqFindings) && totals.length === 0,
  };
}

/** Partitions of `topic` where `group` committed more than one offset (a marker) below the end. */
async function groupBehind(brokers: string, group: string, topic: string): Promise<string[]> {
  const admin = new Kafka({ brokers: brokers.split(','), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const ends = await admin.fetchTopicOffsets(topic);
    const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    const at = new Map((committed?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
    return ends
      .map((e) => ({ partition: e.partition, end: BigInt(e.high), committed: at.get(e.partition) ?? -1n }))
      .filter((p) => p.end - p.committed > 1n)
      .map((p) => `${p.partition} ${p.committed}/${p.end}`);
  } finally {
    await admin.disconnect();
  }
}

interface RawValue {
  id: number;
  account: string;
  billing_period: string;
  seconds: number;
  cost: Buffer;
}

interface ControlRecord {
  account: string;
  billing_period: string;
  count: number;
  seconds: number;
  cost: Buffer;
  cursor: number;
}

/**
 * The latest running total of each account|period, and the sum of the per-transaction control
 * records, against the CDRs of cdr.raw up to the cursor each names (cdr.raw was read after them).
 */
function checkControl(raw: RawValue[], totalsRecords: KcatRecord[], controlRecords: KcatRecord[]): string[] {
  const problems: string[] = [];
  const latest = new Map<string, ControlRecord>();
  for (const r of totalsRecords) {
    if (r.value === null) continue;
    const v = CONTROL.fromBuffer(body(r.value)) as ControlRecord;
    latest.set(`${v.account}|${v.billing_period}`, v);
  }
  const controlSums = new Map<string, Sums>();
  const controlCursor = new Map<string, number>();
  for (const r of controlRecords) {
    const v = CONTROL.fromBuffer(body(r.value)) as ControlRecord;
    addTo(controlSums, `${v.account}|${v.billing_period}`, v.seconds, unscaled(v.cost), v.count);
    controlCursor.set(v.account, Math.max(controlCursor.get(v.account) ?? 0, v.cursor));
  }
  const rawUpTo = (cursorOf: (account: string, period: string) => number | undefined) => {
    const sums = new Map<string, Sums>();
    for (const v of raw) {
      const limit = cursorOf(v.account, v.billing_period);
      if (limit !== undefined && v.id <= limit)
        addTo(sums, `${v.account}|${v.billing_period}`, v.seconds, unscaled(v.cost));
    }
    return sums;
  };
  const same = (a: Sums | undefined, b: Sums | undefined) =>
    (a?.count ?? 0) === (b?.count ?? 0) &&
    (a?.seconds ?? 0) === (b?.seconds ?? 0) &&
    (a?.cost ?? 0n) === (b?.cost ?? 0n);
  const show = (s: Sums | undefined) => `${s?.count ?? 0} CDRs, ${s?.seconds ?? 0} s, cost ${s?.cost ?? 0n}`;
  // Running totals: each key against cdr.raw up to the account's cursor in that very record. A key
  // written earlier than the account's last cursor still counts everything of its period up to then.
  // A period with CDRs at or below the account's latest cursor in the totals must have a record.
  const accountCursor = new Map<string, number>();
  for (const v of latest.values())
    accountCursor.set(v.account, Math.max(accountCursor.get(v.account) ?? 0, v.cursor));
  const fromTotals = rawUpTo(
    (account, period) => latest.get(`${account}|${period}`)?.cursor ?? accountCursor.get(account),
  );
  for (const key of new Set([...latest.keys(), ...fromTotals.keys()])) {
    const v = latest.get(key);
    const want: Sums | undefined = v && { count: v.count, seconds: v.seconds, cost: unscaled(v.cost) };
    if (!same(want, fromTotals.get(key)))
      problems.push(`totals ${key} say ${show(want)}; cdr.raw holds ${show(fromTotals.get(key))}`);
  }
  const fromControl = rawUpTo((account) => controlCursor.get(account));
  for (const key of new Set([...controlSums.keys(), ...fromControl.keys()]))
    if (!same(controlSums.get(key), fromControl.get(key)))
      problems.push(
        `control records of ${key} add up to ${show(controlSums.get(key))}; cdr.raw holds ${show(fromControl.get(key))}`,
      );
  return problems.slice(0, 20);
}
