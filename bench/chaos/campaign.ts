// A fault campaign on the three-node cluster: the producer and the enrichers run while rows keep
// arriving in the feed, faults are injected one after another, and after each the topics are
// checked independently (check.ts): nothing doubled, nothing lost, no account stuck. `./dev chaos`
// runs a long one (bench/chaos.ts); the test suite a short one (test/cluster/campaign.test.ts).
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Kafka, logLevel } from 'kafkajs';
import { pino } from 'pino';
import { waitClusterHealthy } from '../../scripts/stack/cluster.ts';
import { ADDRESSES, up } from '../../scripts/stack/index.ts';
import { sleep } from '../../scripts/stack/processes.ts';
import type { SimAccountData } from '../../src/simulator/generator.ts';
import { type RunningSimulator, startSimulator } from '../../src/simulator/index.ts';
import { type CheckResult, checkTopics } from './check.ts';
import { type FaultKind, type FaultRun, injectFault } from './faults.ts';
import { Pipeline } from './pipeline.ts';

export interface CampaignOptions {
  /** The three-node cluster (the default), or the single broker. */
  stack?: 'cluster' | 'single';
  kinds: readonly FaultKind[];
  /** Rounds of each kind (kinds are interleaved). */
  rounds: number;
  /** Rows per second arriving in the feed, over all accounts. */
  rowsPerSecond: number;
  accounts: number;
  downMs: number;
  pauseMs: number;
  /** Folder for the processes' logs and the results. */
  dir: string;
  /** More environment for the pipeline's processes. */
  env?: Record<string, string>;
  /** Runs the pipeline of another checkout (to measure a version before a change). */
  pipelineRoot?: string;
  /** Longest wait for the cursors to reach the feed's end after a fault. */
  catchUpMs?: number;
  /** Leaves the run's topics on the broker afterwards (by default they are deleted). */
  keepTopics?: boolean;
  log?: (line: string) => void;
}

export interface RoundResult {
  run: FaultRun;
  /** ms from the reference point until every account committed again; undefined: not within the wait. */
  producerResumeMs: number | undefined;
  /** The longest time any account went without a commit across the fault (ms). */
  producerStallMs: number | undefined;
  /**
   * ms from when the cluster was whole again (the node started and every partition in sync, or the
   * single broker answering) until every account committed again; 0 when they committed before.
   */
  producerAfterWholeMs: number | undefined;
  /** ms from the reference point until the enrichers' longest pause across the fault ended. */
  enricherResumeMs: number | undefined;
  /** Accounts whose cursor did not reach the feed's end in time. */
  stuck: string[];
  /** The topics as checked after the round: everything up to then. */
  check: CheckResult;
  /** What this round added to the findings of the rounds before it. */
  added: Record<'raw' | 'enriched' | 'dlq', { duplicates: number; missing: number; unexpected: number }>;
}

export interface CampaignResult {
  rounds: RoundResult[];
  /** What stopped the campaign before its last round, if anything did. */
  failure?: string;
  exitCodes: Map<string, number | null>;
  errorLines: string[];
  warnLines: number;
  logDir: string;
}

const RAW_PARTITIONS = 6;

export async function runCampaign(o: CampaignOptions): Promise<CampaignResult> {
  const log = o.log ?? (() => {});
  const single = o.stack === 'single';
  const brokers = single ? ADDRESSES.single : ADDRESSES.cluster;
  await up([single ? 'kafka' : 'cluster', 'registry']);
  if (!single) await waitClusterHealthy();
  // Every run on a broker of the same size: a node's failover time grows with the partitions it
  // leads, and each earlier run and conformance test left 18-100 of them behind (764 partitions on
  // a node after a day of campaigns; the new leader took 11 s to take 423 of them over).
  const dropped = await dropTopics(brokers, (t) => EARLIER_RUNS.test(t));
  if (dropped > 0) log(`deleted ${dropped} topics of earlier campaigns and conformance tests`);
  const runId = `chaos-${randomUUID().slice(0, 8)}`;
  const dir = `${o.dir}/${runId}`;
  mkdirSync(dir, { recursive: true });
  const accounts: SimAccountData[] = [...Array(o.accounts).keys()].map((i) => ({
    login: `9${String(i + 1).padStart(4, '0')}`,
    firstId: 1_000_000 * (i + 1),
    index: i,
  }));
  const sim: RunningSimulator = await startSimulator(
    {
      host: '127.0.0.1',
      port: 0,
      seed: 11,
      timeZone: 'Australia/Sydney',
      epochMs: Math.floor(Date.now() / 1000) * 1000,
      historyRows: 1000,
      historySpacingMs: 60_000,
      growthPerSecond: o.rowsPerSecond / o.accounts,
      unknownShare: 0.05,
      malformedShare: 0.005,
      accounts: accounts.map((a) => ({ login: a.login, password: `pw-${a.login}`, firstId: a.firstId })),
      bom: false,
      eol: '\n',
      faults: { latencyMs: 0, rules: [] },
    },
    pino({ level: 'silent' }),
  );
  const accountsFile = `${dir}/accounts.json`;
  writeFileSync(
    accountsFile,
    JSON.stringify(accounts.map((a) => ({ login: a.login, password: `pw-${a.login}` }))),
    {
      mode: 0o600,
    },
  );
  const pipeline = new Pipeline({
    brokers,
    registryUrl: ADDRESSES.registry,
    feedUrl: sim.url,
    accountsFile,
    runId,
    dir,
    enrichers: 2,
    ...(o.pipelineRoot === undefined ? {} : { root: o.pipelineRoot }),
    env: {
      TOPIC_RAW_PARTITIONS: String(RAW_PARTITIONS),
      TOPIC_REPLICATION_FACTOR: single ? '1' : '3',
      ...o.env,
    },
  });
  const rounds: RoundResult[] = [];
  let failure: string | undefined;
  try {
    await pipeline.started();
    log(`run ${runId}: producer and 2 enrichers started; logs in ${dir}`);
    const enrichedTopics = await waitForEnrichedTopics(brokers, pipeline.topics.enrichedPrefix);
    const ends = () => accounts.map((account) => ({ account, rows: sim.generator.rowCountAt(Date.now()) }));
    const stuck = await catchUp(pipeline, sim, ends(), o.catchUpMs ?? 180_000);
    if (stuck.length > 0)
      throw new Error(`the pipeline did not catch up with the feed at start: ${stuck.join(', ')}`);
    const targets = {
      cursorTopic: pipeline.topics.cursor,
      rawTopic: pipeline.topics.raw,
      rawPartitions: RAW_PARTITIONS,
      transactionalIds: [...pipeline.producerSlotIds(), `${runId}-enrich-${pipeline.topics.raw}-0`],
    };
    for (let round = 0; round < o.rounds; round++) {
      for (const kind of o.kinds) {
        const monitor = new Monitor(pipeline);
        await monitor.started;
        const run = await injectFault(kind, round, targets, { downMs: o.downMs, pauseMs: o.pauseMs });
        const resumed = await monitor.resumed(run, 120_000);
        const end = ends();
        const stuckNow = await catchUp(pipeline, sim, end, o.catchUpMs ?? 180_000);
        const check = await checkTopics({
          brokers,
          topics: pipeline.topics,
          enrichedTopics,
          generator: sim.generator,
          ends: end,
        });
        const before = rounds.at(-1)?.check;
        const added = Object.fromEntries(
          (['raw', 'enriched', 'dlq'] as const).map((t) => [
            t,
            {
              duplicates: check[t].duplicates - (before?.[t].duplicates ?? 0),
              missing: Math.max(0, check[t].missing - (before?.[t].missing ?? 0)),
              unexpected: check[t].unexpected - (before?.[t].unexpected ?? 0),
            },
          ]),
        ) as RoundResult['added'];
        const result: RoundResult = { run, ...resumed, stuck: stuckNow, check, added };
        rounds.push(result);
        log(describeRound(rounds.length, result));
      }
    }
  } catch (err) {
    failure = err instanceof Error ? (err.stack ?? err.message) : String(err);
    log(`the campaign stopped: ${failure}`);
  }
  const exitCodes = await pipeline.stop();
  await sim.close();
  // The logs and results stay in the run's folder; its topics go, unless asked to keep them or
  // something was found in them (the evidence, to read with kcat or DumpLogSegments).
  const found =
    failure !== undefined ||
    rounds.some((r) =>
      (['raw', 'enriched', 'dlq'] as const).some((t) => r.check[t].duplicates + r.check[t].missing > 0),
    );
  if (o.keepTopics || found) log(`the run's topics are kept: ${runId}.*`);
  else await dropTopics(brokers, (t) => t.startsWith(`${runId}.`)).catch(() => 0);
  const result: CampaignResult = {
    rounds,
    ...(failure === undefined ? {} : { failure }),
    exitCodes,
    errorLines: pipeline.errorLines(),
    warnLines: pipeline.all().reduce((n, p) => n + p.warnCount.value, 0),
    logDir: dir,
  };
  writeFileSync(`${dir}/results.json`, JSON.stringify({ ...result, exitCodes: [...exitCodes] }, null, 2));
  return result;
}

function describeRound(n: number, r: RoundResult): string {
  const ms = (v: number | undefined) => (v === undefined ? 'not within 120 s' : `${(v / 1000).toFixed(1)} s`);
  const c = r.check;
  return (
    `round ${n}: ${r.run.kind} on ${r.run.target}; commits resumed after ${ms(r.producerResumeMs)}, ` +
    `stalled ${ms(r.producerStallMs)} at most, ${ms(r.producerAfterWholeMs)} after the cluster was whole ` +
    `(enrichers resumed after ${ms(r.enricherResumeMs)}); raw dup ${c.raw.duplicates} missing ${c.raw.missing}, ` +
    `enriched dup ${c.enriched.duplicates} missing ${c.enriched.missing}, dlq dup ${c.dlq.duplicates} ` +
    `missing ${c.dlq.missing}, totals ${c.totals.length === 0 ? 'equal' : `${c.totals.length} differ`}` +
    `${r.stuck.length > 0 ? `, STUCK ${r.stuck.join(', ')}` : ''}` +
    `${c.enriched.behind ? `, enrichers behind on partitions (committed/end) ${c.enriched.behind.join(', ') || 'none: the offsets were committed past ids missing'}` : ''}` +
    `${c.ok ? '' : `\n  ${[...c.raw.examples, ...c.enriched.examples, ...c.dlq.examples, ...c.totals].slice(0, 8).join('\n  ')}`}`
  );
}

/** Watches the pipeline's metrics from before a fault until commits resume after it. */
class Monitor {
  private readonly pipeline: Pipeline;
  /** Per account, every commit time seen (seconds); the enrichers' record count over time. */
  private readonly commits = new Map<string, Set<number>>();
  private readonly enriched: Array<{ at: number; n: number }> = [];
  private running = true;
  private readonly loop: Promise<void>;
  private sampled: () => void = () => {};
  /** Resolves once the first sample is in: the state before the fault. */
  readonly started = new Promise<void>((resolve) => {
    this.sampled = resolve;
  });

  constructor(pipeline: Pipeline) {
    this.pipeline = pipeline;
    this.loop = this.watch();
  }

  private async watch(): Promise<void> {
    while (this.running) {
      const times = await this.pipeline.commitTimes().catch(() => new Map<string, number>());
      for (const [account, t] of times) {
        const seen = this.commits.get(account) ?? new Set<number>();
        seen.add(t);
        this.commits.set(account, seen);
      }
      const n = await this.pipeline.enrichedIn().catch(() => undefined);
      if (n !== undefined) this.enriched.push({ at: Date.now(), n });
      if (this.enriched.length > 0) this.sampled();
      await sleep(250);
    }
  }

  /**
   * Commits across a fault. Waits (at most `waitMs` after the cluster was whole again) until every
   * account has committed after that and the enrichers have moved on; then, per account, takes the
   * longest gap between two of its commits that overlaps the fault (an account commits every second
   * or so while rows arrive): how long commits stopped (`producerStallMs`, the worst account), and
   * when they started again, from the fault's reference point (the kill, or the SIGCONT of a pause:
   * `producerResumeMs`, the worst account).
   */
  async resumed(
    run: FaultRun,
    waitMs: number,
  ): Promise<{
    producerResumeMs: number | undefined;
    producerStallMs: number | undefined;
    producerAfterWholeMs: number | undefined;
    enricherResumeMs: number | undefined;
  }> {
    const ref = run.referenceAt;
    const deadline = run.healthyAt + waitMs;
    const committedSince = (t: number) =>
      this.commits.size > 0 &&
      [...this.commits.values()].every((seen) => [...seen].some((s) => s * 1000 > t));
    const enrichedSince = (t: number) => {
      const before = this.enriched.filter((e) => e.at <= t).at(-1)?.n ?? 0;
      return this.enriched.some((e) => e.at > t && e.n > before);
    };
    while (Date.now() < deadline && !(committedSince(run.healthyAt) && enrichedSince(run.healthyAt)))
      await sleep(500);
    this.running = false;
    await this.loop;
    let producerResumeMs: number | undefined;
    let producerStallMs: number | undefined;
    let producerAfterWholeMs: number | undefined;
    if (committedSince(run.healthyAt))
      for (const seen of this.commits.values()) {
        const gap = longestGap(
          [...seen].map((s) => s * 1000),
          run,
        );
        producerStallMs = Math.max(producerStallMs ?? 0, gap.ms);
        producerResumeMs = Math.max(producerResumeMs ?? 0, (gap.end ?? ref) - ref);
        producerAfterWholeMs = Math.max(producerAfterWholeMs ?? 0, (gap.end ?? 0) - run.healthyAt);
      }
    // The enrichers: the longest pause between two increases of their count of records read (the
    // first sample, taken before the fault, counts as one).
    const increases = this.enriched
      .filter((e, i) => i === 0 || e.n > (this.enriched[i - 1]?.n ?? 0))
      .map((e) => e.at);
    const enricherGap = enrichedSince(run.healthyAt) ? longestGap(increases, run) : undefined;
    return {
      producerResumeMs,
      producerStallMs,
      producerAfterWholeMs,
      enricherResumeMs: enricherGap === undefined ? undefined : (enricherGap.end ?? ref) - ref,
    };
  }
}

/** The longest gap between two of `times` that overlaps the fault: its length and when it ended. */
function longestGap(times: number[], run: FaultRun): { ms: number; end: number | undefined } {
  const sorted = [...times].sort((x, y) => x - y);
  let ms = 0;
  let end: number | undefined;
  for (let i = 1; i < sorted.length; i++) {
    const [from, to] = [sorted[i - 1] as number, sorted[i] as number];
    if (to > run.injectedAt && from < run.healthyAt && to - from > ms) {
      ms = to - from;
      end = to;
    }
  }
  return { ms, end };
}

/** Waits until every account's cursor is at the feed's end; the accounts that did not get there. */
async function catchUp(
  pipeline: Pipeline,
  sim: RunningSimulator,
  ends: Array<{ account: SimAccountData; rows: number }>,
  timeoutMs: number,
): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const cursors = await pipeline.cursors().catch(() => new Map<string, number>());
    const behind = ends
      .filter((e) => (cursors.get(e.account.login) ?? 0) < sim.generator.idOf(e.account, e.rows - 1))
      .map((e) => e.account.login);
    if (behind.length === 0 || Date.now() > deadline) return behind;
    await sleep(500);
  }
}

/** Names of the topics campaigns and the conformance tests create for themselves. */
const EARLIER_RUNS = /^(chaos-[0-9a-f]{8}[.-]|conform-)/;

async function dropTopics(brokers: string, which: (topic: string) => boolean): Promise<number> {
  const admin = new Kafka({ brokers: brokers.split(','), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter(which);
    if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 60_000 });
    return topics.length;
  } finally {
    await admin.disconnect();
  }
}

async function waitForEnrichedTopics(brokers: string, prefix: string): Promise<string[]> {
  const admin = new Kafka({ brokers: brokers.split(','), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    for (;;) {
      const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
      if (topics.length > 0) return topics;
      await sleep(500);
    }
  } finally {
    await admin.disconnect();
  }
}
