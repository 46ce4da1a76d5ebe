// One fetched batch of an input partition, enriched: its records below the offset the previous
// owner committed skipped, the rest cut in slices of at most SLICE records, each slice one
// transaction of the partition's producer holding its output records and the consumer offset after
// it (consume-transform-produce). A partition this enricher cannot take, or whose transaction
// fails, is dropped and the consumer rejoins the group: never a crash.
import type { EachBatchPayload, KafkaMessage } from 'kafkajs';
import type { Logger } from 'pino';
import { type BatchOwners, commitSlice, takeBatch } from '../kafka/partition-owners.ts';
import type { EnricherMetrics } from './metrics.ts';
import { type SliceDeps, transformSlice } from './transform.ts';

/**
 * Records per transaction at most; a fetched batch larger than this commits in several. A fetched
 * batch of a partition is at most 1 MB (~5,500 CDRs), so this is one transaction per batch: with
 * 5,000 most batches took two, and the enricher spent the second commit's round trips idle
 * (docs/performance.md: 73,000-87,000 rec/s at 5,000, 86,000-92,000 at 10,000).
 */
export const SLICE = 10_000;

export interface BatchEnricherDeps {
  owners: BatchOwners;
  /** Fills the decoder's cache of writer schemas for these values (RawDecoder.prepare). */
  prepare(values: ReadonlyArray<Buffer | null>): Promise<void>;
  slice: SliceDeps;
  groupId: string;
  metrics: EnricherMetrics;
  log: Logger;
  now?: () => number;
}

type BatchPayload = Pick<EachBatchPayload, 'batch' | 'resolveOffset' | 'heartbeat' | 'isRunning' | 'isStale'>;

/** kafkajs's eachBatch of the enricher. */
export async function enrichBatch(deps: BatchEnricherDeps, payload: BatchPayload): Promise<void> {
  const { batch, resolveOffset, heartbeat, isRunning, isStale } = payload;
  if (batch.messages.length === 0) return;
  const { partition } = batch;
  const { metrics, log } = deps;
  // Below the offset the previous owner committed: already enriched by it.
  const { sender, rest } = await takeBatch(
    deps.owners,
    batch.messages,
    partition,
    resolveOffset,
    metrics.skippedCommitted,
    log,
  );
  await deps.prepare(rest.map((m) => m.value));
  for (let start = 0; start < rest.length; start += SLICE) {
    if (!isRunning() || isStale()) return;
    const slice = rest.slice(start, start + SLICE);
    const out = transformSlice(
      slice,
      { topic: batch.topic, partition },
      deps.slice,
      (deps.now ?? Date.now)(),
    );
    const last = (slice[slice.length - 1] as KafkaMessage).offset;
    const end = metrics.transaction.startTimer();
    const input = { topic: batch.topic, partition, groupId: deps.groupId };
    if (!(await commitSlice(deps.owners, sender, input, out.topicMessages, last, metrics, log))) return;
    end();
    resolveOffset(last);
    metrics.recordsIn.inc(slice.length);
    metrics.deadLettered.inc(out.deadLettered);
    for (const [category, n] of out.counts) metrics.recordsOut.inc({ category }, n);
    await heartbeat();
  }
  metrics.lag.set({ partition: String(partition) }, Number(batch.offsetLag()));
}
