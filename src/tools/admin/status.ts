// `cdr-pipeline status`: is it working? Answered from Kafka (and the registry) alone, without
// access to the running processes: per account the cursor, when it was committed, the newest CDR
// published and how far behind now it is, dead letters in the last 24 hours; per enricher group
// the lag per partition; hanging transactions in the pipeline's topics; the registry's subjects of
// the pipeline's topics.
import type { Kafka } from 'kafkajs';
import { type RegistryOptions, registryGet } from '../../codec/registry.ts';
import type { ToolsOptions } from '../../config/tools.ts';
import { readToEnd } from '../../kafka/bounded-read.ts';
import { findHanging } from '../../kafka/hanging.ts';
import { topicOffsets } from '../../kafka/offsets.ts';
import { readCursors } from '../../topics/cursor.ts';
import { formatAge, renderTable } from '../read/table.ts';

export interface AccountStatus {
  account: string;
  lastId: number;
  committedAt: string;
  owner: string | null;
  newestStartTime: string | null;
  /** Now minus the newest CDR's start, ms; null when unknown. */
  behindMs: number | null;
  deadLetters24h: number;
  stale: boolean;
}

export interface GroupStatus {
  group: string;
  state: string;
  members: number;
  partitions: Array<{ partition: number; committed: string | null; end: string; lag: number }>;
  totalLag: number;
  overLag: boolean;
}

export interface HangingStatus {
  topic: string;
  partition: number;
  lastStableOffset: string;
  highWatermark: string;
  /** When the record holding the partition was written. */
  since: string;
  producerId: string | null;
}

export interface StatusReport {
  at: string;
  accounts: AccountStatus[];
  groups: GroupStatus[];
  /** Partitions held by a transaction open for longer than the transaction timeout and some. */
  hanging: HangingStatus[];
  subjects: Array<{ subject: string; version: number; id: number }> | { error: string } | null;
  ok: boolean;
}

export interface StatusOptions {
  groups: string[];
  /** An account whose newest CDR is older than this (or that has none) is stale: exit 1. */
  staleAfterMs?: number;
  /** A group whose total lag is above this: exit 1. */
  maxLag?: number;
  timeoutMs?: number;
}

export async function gatherStatus(
  kafka: Kafka,
  tools: ToolsOptions,
  options: StatusOptions,
  now = Date.now(),
): Promise<StatusReport> {
  const { topics } = tools;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const cursors = await readCursors(kafka, topics.cursor, { timeoutMs, groupPrefix: 'cdr-status' });
  const dead = new Map<string, number>();
  await readToEnd(
    kafka,
    [topics.dlq],
    ({ messages }) => {
      for (const m of messages) {
        const account = dlqAccount(m.value, m.key);
        dead.set(account, (dead.get(account) ?? 0) + 1);
      }
    },
    { timeoutMs, groupPrefix: 'cdr-status', fromTimestamp: now - 24 * 3_600_000 },
  );
  const accounts = [...cursors.values()]
    .sort((a, b) => a.account.localeCompare(b.account))
    .map((c): AccountStatus => {
      const newest = c.newestStartTime === undefined ? Number.NaN : Date.parse(c.newestStartTime);
      const behindMs = Number.isNaN(newest) ? null : now - newest;
      return {
        account: c.account,
        lastId: c.lastId,
        committedAt: c.committedAt,
        owner: c.owner ?? null,
        newestStartTime: Number.isNaN(newest) ? null : new Date(newest).toISOString(),
        behindMs,
        deadLetters24h: dead.get(c.account) ?? 0,
        stale: options.staleAfterMs !== undefined && (behindMs === null || behindMs > options.staleAfterMs),
      };
    });
  const groups = await groupLags(kafka, topics.raw, options.groups, options.maxLag);
  const hanging = await pipelineHanging(kafka, tools, now);
  const subjects = tools.registry
    ? await registrySubjects(tools.registry, [topics.raw, tools.enrichers.topicPrefix])
    : null;
  return {
    at: new Date(now).toISOString(),
    accounts,
    groups,
    hanging,
    subjects,
    ok: !accounts.some((a) => a.stale) && !groups.some((g) => g.overLag) && hanging.length === 0,
  };
}

/** Hanging transactions in the topics the pipeline writes (see kafka/hanging.ts). */
async function pipelineHanging(kafka: Kafka, tools: ToolsOptions, now: number): Promise<HangingStatus[]> {
  const { topics } = tools;
  const admin = kafka.admin();
  await admin.connect();
  let enriched: string[];
  try {
    enriched = (await admin.listTopics()).filter((t) => t.startsWith(tools.enrichers.topicPrefix));
  } finally {
    await admin.disconnect();
  }
  const written = [topics.raw, topics.cursor, topics.control, topics.controlTotals, topics.dlq];
  const found = await findHanging(
    kafka,
    [...written, ...enriched],
    tools.producers.transactionTimeoutMs + 30_000,
    now,
  );
  return found.map((h) => ({
    topic: h.topic,
    partition: h.partition,
    lastStableOffset: String(h.lastStableOffset),
    highWatermark: String(h.highWatermark),
    since: new Date(h.since).toISOString(),
    producerId: h.producerId ?? null,
  }));
}

/** The account of a dead letter: the producer's carry one; the enricher's are keyed by billing group. */
function dlqAccount(value: Buffer | null, key: Buffer | null): string {
  try {
    const v = JSON.parse(value?.toString('utf8') ?? '') as { account?: unknown };
    if (typeof v.account === 'string') return v.account;
  } catch {
    // not JSON: counted under its key
  }
  return `(enricher) ${key?.toString('utf8') ?? ''}`.trim();
}

async function groupLags(
  kafka: Kafka,
  topic: string,
  groups: string[],
  maxLag?: number,
): Promise<GroupStatus[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ends = (await admin.listTopics()).includes(topic) ? await topicOffsets(admin, topic) : [];
    const described = await admin.describeGroups(groups);
    const out: GroupStatus[] = [];
    for (const group of groups) {
      const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
      const partitions = ends
        .map((e) => {
          const c = committed?.partitions.find((p) => p.partition === e.partition)?.offset;
          const from = c === undefined || c === '-1' ? BigInt(e.low) : BigInt(c);
          return {
            partition: e.partition,
            committed: c === undefined || c === '-1' ? null : c,
            end: e.high,
            lag: Number(BigInt(e.high) - from),
          };
        })
        .sort((a, b) => a.partition - b.partition);
      const info = described.groups.find((g) => g.groupId === group);
      const totalLag = partitions.reduce((n, p) => n + p.lag, 0);
      out.push({
        group,
        state: info?.state ?? 'Unknown',
        members: info?.members.length ?? 0,
        partitions,
        totalLag,
        overLag: maxLag !== undefined && totalLag > maxLag,
      });
    }
    return out;
  } finally {
    await admin.disconnect();
  }
}

async function registrySubjects(
  registry: RegistryOptions,
  prefixes: string[],
): Promise<StatusReport['subjects']> {
  try {
    const all = (await (await registryGet(registry, '/subjects', 10_000)).json()) as string[];
    const mine = all.filter((s) => prefixes.some((p) => s.startsWith(p))).sort();
    const out: Array<{ subject: string; version: number; id: number }> = [];
    for (const subject of mine) {
      const res = await registryGet(
        registry,
        `/subjects/${encodeURIComponent(subject)}/versions/latest`,
        10_000,
      );
      const v = (await res.json()) as { version: number; id: number };
      out.push({ subject, version: v.version, id: v.id });
    }
    return out;
  } catch (err) {
    return { error: `the registry did not answer: ${(err as Error).message}` };
  }
}

export function formatStatus(r: StatusReport, now = Date.parse(r.at)): string {
  const parts = [`cdr-pipeline status at ${r.at}: ${r.ok ? 'OK' : 'ATTENTION'}`, '', accountsText(r, now)];
  for (const g of r.groups) {
    parts.push(
      '',
      `enricher group ${g.group}: ${g.state}, ${g.members} member(s), lag ${g.totalLag}${g.overLag ? '  OVER LIMIT' : ''}`,
      renderTable(
        ['partition', 'committed', 'end', 'lag'],
        g.partitions.map((p) => [p.partition, p.committed ?? '-', p.end, p.lag]),
      ),
    );
  }
  parts.push('', hangingText(r, now));
  if (r.subjects !== null)
    parts.push(
      '',
      'registry subjects',
      'error' in r.subjects
        ? `  ${r.subjects.error}`
        : renderTable(
            ['subject', 'latest version', 'schema id'],
            r.subjects.map((s) => [s.subject, s.version, s.id]),
          ),
    );
  return parts.join('\n');
}

function accountsText(r: StatusReport, now: number): string {
  const title = 'accounts (cursor topic; dead letters in the last 24 h)\n';
  if (r.accounts.length === 0) return `${title}  no cursor yet: no account has committed`;
  return (
    title +
    renderTable(
      ['account', 'cursor', 'committed', 'newest CDR start', 'behind', 'DLQ 24h', ''],
      r.accounts.map((a) => [
        a.account,
        a.lastId,
        `${a.committedAt} (${formatAge(now - Date.parse(a.committedAt))} ago)`,
        a.newestStartTime ?? '-',
        a.behindMs === null ? '-' : formatAge(a.behindMs),
        a.deadLetters24h,
        a.stale ? 'STALE' : '',
      ]),
    )
  );
}

function hangingText(r: StatusReport, now: number): string {
  if (r.hanging.length === 0) return 'hanging transactions: none';
  return `HANGING TRANSACTIONS: read_committed readers see nothing past these offsets (docs/operations.md, hanging transactions)\n${renderTable(
    ['topic', 'partition', 'last stable offset', 'high watermark', 'held since', 'producer id'],
    r.hanging.map((h) => [
      h.topic,
      h.partition,
      h.lastStableOffset,
      h.highWatermark,
      `${h.since} (${formatAge(now - Date.parse(h.since))} ago)`,
      h.producerId ?? '-',
    ]),
  )}`;
}
