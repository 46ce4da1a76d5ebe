// `cdr-pipeline replay copy`: the matching records of a CDR topic copied, unchanged, to a target
// topic for a billing system to re-consume, exactly once. Consume-transform-produce: a consumer
// group and a transactional producer named after the replay id; each batch's copies and the
// source offsets commit in one transaction, so a re-run after a crash (same replay id) continues
// where the last commit left off and duplicates nothing (connecting first fences the dead run).
// The read is bounded by the end offsets of the first run, kept with the filter under the replay
// id in a small compacted topic: a re-run copies the same set, whatever arrived since.
import type { Admin, Kafka, KafkaMessage, Message } from 'kafkajs';
import { RawDecoder } from '../../codec/raw-decoder.ts';
import type { RegistryOptions } from '../../codec/registry.ts';
import { avroType } from '../../codec/schemas.ts';
import { CdrError, ErrorCodes } from '../../errors.ts';
import { readToEnd } from '../../kafka/bounded-read.ts';
import { topicOffsets } from '../../kafka/offsets.ts';
import { TransactionalSender } from '../../kafka/transactions.ts';
import { type CdrFilter, matches } from '../read/filter.ts';

export interface CopyRequest {
  replayId: string;
  source: string;
  target: string;
  /** Kept with the replay: a re-run with other criteria is refused. */
  filterText: string;
  filter: CdrFilter;
  registry: RegistryOptions;
  stateTopic: string;
  transactionTimeoutMs: number;
}

interface ReplayState {
  replayId: string;
  source: string;
  target: string;
  filter: string;
  /** Source partition -> end offset when the replay started. */
  ends: Record<string, string>;
  startedAt: string;
}

export interface CopyResult {
  replayId: string;
  copied: number;
  scanned: number;
  resumed: boolean;
}

export async function copyRecords(kafka: Kafka, req: CopyRequest): Promise<CopyResult> {
  const groupId = `cdr-replay-${req.replayId}`;
  const admin = kafka.admin();
  await admin.connect();
  const sender = new TransactionalSender(kafka, {
    transactionalId: `cdr-replay-${req.replayId}`,
    transactionTimeoutMs: req.transactionTimeoutMs,
    writes: { topics: () => [req.target, req.stateTopic], consumerGroupId: groupId },
  });
  try {
    await createTopics(admin, req);
    // Connecting first fences a run of the same replay that died, and ends its open transaction.
    await sender.connect();
    const { state, resumed } = await replayState(kafka, admin, req, sender);
    // Partitions already copied to their end (or empty) need no reading.
    const [committed] = await admin.fetchOffsets({ groupId, topics: [req.source] });
    const pending = new Set(
      Object.entries(state.ends)
        .filter(([p, end]) => {
          const c = committed?.partitions.find((x) => String(x.partition) === p)?.offset;
          return BigInt(end) > BigInt(c === undefined || c === '-1' ? '0' : c);
        })
        .map(([p]) => Number(p)),
    );
    const result: CopyResult = { replayId: req.replayId, copied: 0, scanned: 0, resumed };
    if (pending.size > 0) await copyPartitions(kafka, req, state, groupId, pending, sender, result);
    return result;
  } finally {
    await sender.discard();
    await admin.disconnect();
  }
}

/** The source must exist; the target (as many partitions as the source) and the state topic are made when missing. */
async function createTopics(admin: Admin, req: CopyRequest): Promise<void> {
  const topics = await admin.listTopics();
  if (!topics.includes(req.source))
    throw new CdrError(ErrorCodes.CONFIG_INVALID, `invalid option: --topic: ${req.source} does not exist`);
  const [meta] = (await admin.fetchTopicMetadata({ topics: [req.source] })).topics;
  const missing = [req.stateTopic, req.target].filter((t) => !topics.includes(t));
  if (missing.length > 0)
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((t) => ({
        topic: t,
        numPartitions: t === req.stateTopic ? 1 : (meta?.partitions.length ?? 1),
        replicationFactor: -1,
        configEntries: t === req.stateTopic ? [{ name: 'cleanup.policy', value: 'compact' }] : [],
      })),
    });
}

/** The replay as its first run recorded it (the same criteria, or refused), or recorded now with the source's ends. */
async function replayState(
  kafka: Kafka,
  admin: Admin,
  req: CopyRequest,
  sender: TransactionalSender,
): Promise<{ state: ReplayState; resumed: boolean }> {
  const previous = await readState(kafka, req.stateTopic, req.replayId);
  if (previous) {
    if (
      previous.source !== req.source ||
      previous.target !== req.target ||
      previous.filter !== req.filterText
    )
      throw new CdrError(
        ErrorCodes.REFUSED,
        `replay ${req.replayId} was started as ${previous.source} -> ${previous.target} with ${previous.filter || 'no criteria'}: re-run it the same way, or use another --replay-id`,
      );
    return { state: previous, resumed: true };
  }
  const ends = Object.fromEntries(
    (await topicOffsets(admin, req.source)).map((o) => [String(o.partition), o.high]),
  );
  const state: ReplayState = {
    replayId: req.replayId,
    source: req.source,
    target: req.target,
    filter: req.filterText,
    ends,
    startedAt: new Date().toISOString(),
  };
  await sender.commit([
    { topic: req.stateTopic, messages: [{ key: req.replayId, value: JSON.stringify(state) }] },
  ]);
  return { state, resumed: false };
}

async function copyPartitions(
  kafka: Kafka,
  req: CopyRequest,
  state: ReplayState,
  groupId: string,
  pending: Set<number>,
  sender: TransactionalSender,
  result: CopyResult,
): Promise<void> {
  const decoder = new RawDecoder(avroType('cdr-raw'), req.registry);
  const end = (p: number) => BigInt(state.ends[String(p)] ?? '0');
  // One member per replay: a re-run after a crash waits for the dead member's session to expire
  // before the group is its own, so the session is short (the broker's minimum is 6 s).
  const consumer = kafka.consumer({
    groupId,
    readUncommitted: false,
    maxWaitTimeInMs: 100,
    sessionTimeout: 10_000,
    heartbeatInterval: 1000,
  });
  let finish: () => void = () => {};
  let fail: (err: unknown) => void = () => {};
  const done = new Promise<void>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  // As in the bounded read: kafkajs's high watermark - 1 of a batch with nothing read is not the end.
  consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
    if (e.payload.firstOffset === null) return;
    if (BigInt(e.payload.lastOffset) >= end(e.payload.partition) - 1n) pending.delete(e.payload.partition);
    if (pending.size === 0) finish();
  });
  consumer.on(consumer.events.CRASH, (e) => {
    if (!e.payload.restart) fail(e.payload.error);
  });
  const copy = { req, groupId, sender, decoder, result, end };
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: req.source, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: ({ batch, resolveOffset }) => copyBatch(copy, batch, resolveOffset),
    });
    await done;
  } finally {
    await consumer.disconnect();
  }
}

/** One fetched batch: its matching records copied, and the source offset after it, in one transaction. */
async function copyBatch(
  copy: {
    req: CopyRequest;
    groupId: string;
    sender: TransactionalSender;
    decoder: RawDecoder;
    result: CopyResult;
    end: (partition: number) => bigint;
  },
  batch: { partition: number; messages: KafkaMessage[] },
  resolveOffset: (offset: string) => void,
): Promise<void> {
  const { req } = copy;
  const inRange = batch.messages.filter((m) => BigInt(m.offset) < copy.end(batch.partition));
  if (inRange.length === 0) return;
  await copy.decoder.prepare(inRange.map((m) => m.value));
  const copies: Message[] = [];
  for (const m of inRange) {
    copy.result.scanned++;
    let keep = false;
    try {
      keep = matches(copy.decoder.decode(m.value), req.filter);
    } catch {
      keep = false;
    }
    if (keep) copies.push(copyOf(m, batch.partition, req));
  }
  const last = (inRange[inRange.length - 1] as KafkaMessage).offset;
  await copy.sender.commit(copies.length > 0 ? [{ topic: req.target, messages: copies }] : [], {
    consumerGroupId: copy.groupId,
    topics: [
      { topic: req.source, partitions: [{ partition: batch.partition, offset: String(BigInt(last) + 1n) }] },
    ],
  });
  copy.result.copied += copies.length;
  resolveOffset(last);
}

function copyOf(m: KafkaMessage, partition: number, req: CopyRequest): Message {
  return {
    key: m.key,
    value: m.value,
    headers: {
      ...m.headers,
      'cdr-replay-id': req.replayId,
      'cdr-source-topic': req.source,
      'cdr-source-partition': String(partition),
      'cdr-source-offset': m.offset,
    },
  };
}

async function readState(kafka: Kafka, topic: string, replayId: string): Promise<ReplayState | undefined> {
  let found: ReplayState | undefined;
  await readToEnd(
    kafka,
    [topic],
    ({ messages }) => {
      for (const m of messages)
        if (m.key?.toString() === replayId && m.value) found = JSON.parse(m.value.toString()) as ReplayState;
    },
    { timeoutMs: 120_000, groupPrefix: 'cdr-replay-state' },
  );
  return found;
}
