// One fetched batch of a cdr.raw partition: its CDRs that name a recording stored (downloads in
// parallel, within the permits), then one transaction per slice holding the slice's reference
// records, its dead letters and the consumer offset after it. A crash before the commit redoes the
// slice: the recordings stored meanwhile are found in storage, not fetched again.
import type { EachBatchPayload, KafkaMessage, Message } from 'kafkajs';
import type { Logger } from 'pino';
import type { RawCdr } from '../cdr/row.ts';
import { type BatchOwners, commitSlice, takeBatch } from '../kafka/partition-owners.ts';
import type { Outcome } from './job.ts';
import type { RecordingsMetrics } from './metrics.ts';
import { recordingDeadLetter, referenceValue, type Source } from './reference.ts';
import type { RecordingRef } from './source.ts';

/** CDRs per transaction at most: a slice waits for all of its downloads before it commits. */
export const SLICE = 500;

/** How often the member tells the group it is alive while a slice's downloads run. */
const HEARTBEAT_MS = 3000;

export interface RecordingsBatchDeps {
  owners: BatchOwners;
  prepare(values: ReadonlyArray<Buffer | null>): Promise<void>;
  /** The CDR of a record; throws for one that cannot be read (the enrichers dead-letter those). */
  decode(value: Buffer | null): RawCdr;
  store(ref: RecordingRef, publishedAt: number): Promise<Outcome>;
  encodeReference(value: ReturnType<typeof referenceValue>): Buffer;
  bucket: string;
  outputTopic: string;
  dlqTopic: string;
  groupId: string;
  metrics: RecordingsMetrics;
  log: Logger;
}

type BatchPayload = Pick<EachBatchPayload, 'batch' | 'resolveOffset' | 'heartbeat' | 'isRunning' | 'isStale'>;

/** The recording a record's CDR names, if any. */
export function recordingOf(cdr: RawCdr): RecordingRef | undefined {
  const path = cdr.recording?.trim();
  if (!path) return undefined;
  return { id: String(cdr.id), account: cdr.account, billingPeriod: cdr.billing_period, path };
}

export async function recordingsBatch(deps: RecordingsBatchDeps, payload: BatchPayload): Promise<void> {
  const { batch, resolveOffset, heartbeat, isRunning, isStale } = payload;
  if (batch.messages.length === 0) return;
  const { partition } = batch;
  const { sender, rest } = await takeBatch(
    deps.owners,
    batch.messages,
    partition,
    resolveOffset,
    deps.metrics.skippedCommitted,
    deps.log,
  );
  await deps.prepare(rest.map((m) => m.value));
  const source = { topic: batch.topic, partition };
  for (let start = 0; start < rest.length; start += SLICE) {
    if (!isRunning() || isStale()) return;
    const slice = rest.slice(start, start + SLICE);
    const end = deps.metrics.transaction.startTimer();
    const beat = setInterval(() => heartbeat().catch(() => undefined), HEARTBEAT_MS);
    let messages: { references: Message[]; deadLetters: Message[] };
    try {
      messages = await storeSlice(deps, slice, source);
    } finally {
      clearInterval(beat);
    }
    if (!isRunning() || isStale()) return;
    const last = (slice[slice.length - 1] as KafkaMessage).offset;
    const outputs = [
      { topic: deps.outputTopic, messages: messages.references },
      { topic: deps.dlqTopic, messages: messages.deadLetters },
    ].filter((t) => t.messages.length > 0);
    const input = { topic: batch.topic, partition, groupId: deps.groupId };
    if (!(await commitSlice(deps.owners, sender, input, outputs, last, deps.metrics, deps.log))) return;
    end();
    resolveOffset(last);
    deps.metrics.recordsIn.inc(slice.length);
    deps.metrics.referencesCommitted.inc(messages.references.length);
    for (const m of messages.deadLetters)
      deps.metrics.deadLettered.inc({ code: String(m.headers?.['cdr-error-code'] ?? 'error') });
    await heartbeat();
  }
}

/** Every recording of the slice stored or given up on, in the slice's order. */
async function storeSlice(
  deps: RecordingsBatchDeps,
  slice: readonly KafkaMessage[],
  source: Source,
): Promise<{ references: Message[]; deadLetters: Message[] }> {
  const work = slice.map((m) => {
    let ref: RecordingRef | undefined;
    try {
      ref = recordingOf(deps.decode(m.value));
    } catch (err) {
      // Not a CDR this stage can read: the enrichers dead-letter such records; nothing to fetch.
      deps.log.debug({ err, partition: source.partition, offset: m.offset }, 'record skipped: not readable');
    }
    return ref ? deps.store(ref, Number(m.timestamp)).then((outcome) => ({ m, ref, outcome })) : undefined;
  });
  const done = await Promise.all(work);
  const references: Message[] = [];
  const deadLetters: Message[] = [];
  const now = Date.now();
  for (const d of done) {
    if (!d) continue;
    if (d.outcome.kind === 'stored')
      references.push({
        key: d.m.key,
        value: deps.encodeReference(referenceValue(d.ref, deps.bucket, d.outcome.object, source, d.m.offset)),
      });
    else deadLetters.push(recordingDeadLetter(d.m, d.ref, source, d.outcome.error, now));
  }
  return { references, deadLetters };
}
