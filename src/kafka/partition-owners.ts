// Which input partitions a consume-transform-produce stage (the enricher, the recordings stage) may
// write for, and with which transactional producer.
//
// kafkajs commits consumer offsets inside transactions with TxnOffsetCommit v1, which carries no
// group generation (no KIP-447 fencing): a zombie member's transaction is stopped only by its
// transactional id, which is tied to the input partition. So on every assignment this enricher
// initialises a fresh producer for each partition it got (InitProducerId fences the previous
// owner and aborts, or completes, its open transaction) and only then reads the offset the group
// committed, once no transaction holds one pending (committedOffset); records below that offset, which kafkajs may have fetched from an offset it read
// before the previous owner's last transaction completed, are skipped.
//
// A commit that fails, fenced or not, drops the partition: this enricher never initialises it
// again until the group assigns it anew, because initialising could fence the member that owns it
// now. The caller then rejoins the group, which decides.
import type { Admin, Kafka, KafkaMessage, TopicMessages } from 'kafkajs';
import type { Logger } from 'pino';
import { CdrError, ErrorCodes, isCdrError } from '../errors.ts';
import { retry } from '../ops/retry.ts';
import { type Offsets, TransactionalSender } from './transactions.ts';

export interface PartitionOwnersOptions {
  inputTopic: string;
  groupId: string;
  transactionalIdPrefix: string;
  transactionTimeoutMs: number;
  /** The topics the enricher writes (outputs, dead letters): see TransactionalOptions.writes. */
  outputTopics: readonly string[];
}

export interface Owner {
  sender: TransactionalSender;
  /** The offset the group had committed once the producer was initialised (next to read). */
  committed: bigint | undefined;
}

interface Entry {
  sender: TransactionalSender;
  ready: Promise<bigint | undefined>;
}

export class PartitionOwners {
  private readonly kafka: Kafka;
  private readonly options: PartitionOwnersOptions;
  private readonly log: Logger;
  private readonly owned = new Map<number, Entry>();
  /** What Kafka refused last (BatchOwners), until a commit goes through. */
  refusal: string | undefined;
  /** One admin client for the offset reads of every partition, connected on first use. */
  private admin: Promise<Admin> | undefined;

  constructor(kafka: Kafka, options: PartitionOwnersOptions, log: Logger) {
    this.kafka = kafka;
    this.options = options;
    this.log = log;
  }

  /** The group assigned these partitions (GROUP_JOIN): a fresh producer for each, initialised at once. */
  assigned(partitions: readonly number[]): void {
    const previous = new Map<number, Promise<void>>();
    for (const [partition, entry] of this.owned) {
      this.owned.delete(partition);
      previous.set(partition, this.retire(entry));
    }
    for (const partition of partitions) {
      const sender = new TransactionalSender(this.kafka, {
        transactionalId: `${this.options.transactionalIdPrefix}-${this.options.inputTopic}-${partition}`,
        transactionTimeoutMs: this.options.transactionTimeoutMs,
        // The previous owner's records left open (outputs, dead letters, the committed offset) are
        // ended as its last transaction was, before the committed offset is read.
        writes: { topics: () => this.options.outputTopics, consumerGroupId: this.options.groupId },
        log: this.log,
      });
      // After the partition's previous producer is gone: an InitProducerId of the old one landing
      // after the new one's would fence our own new producer.
      const before = previous.get(partition);
      const ready = (async () => {
        await before;
        await sender.connect();
        return this.committedOffset(partition);
      })();
      ready.catch(() => undefined);
      this.owned.set(partition, { sender, ready });
    }
  }

  /** The partition's producer, once initialised; undefined when the partition is not (or no longer) ours. */
  async acquire(partition: number): Promise<Owner | undefined> {
    const entry = this.owned.get(partition);
    if (!entry) return undefined;
    try {
      return { sender: entry.sender, committed: await entry.ready };
    } catch (err) {
      this.drop(partition, entry.sender);
      throw err;
    }
  }

  /** A transaction of this sender failed: the partition is dropped until the group assigns it again. */
  drop(partition: number, sender: TransactionalSender): void {
    const entry = this.owned.get(partition);
    if (entry?.sender !== sender) return;
    this.owned.delete(partition);
    void sender.discard();
  }

  /** Whether this sender is still the partition's producer (not one of an earlier assignment). */
  isCurrent(partition: number, sender: TransactionalSender): boolean {
    return this.owned.get(partition)?.sender === sender;
  }

  async close(): Promise<void> {
    const entries = [...this.owned.values()];
    this.owned.clear();
    await Promise.all(entries.map((e) => this.retire(e)));
    const admin = this.admin;
    this.admin = undefined;
    await admin?.then((a) => a.disconnect()).catch(() => undefined);
  }

  /** Discards an entry's producer, once its initialisation (if still running) has settled. */
  private async retire(entry: Entry): Promise<void> {
    await entry.sender.discard();
    await entry.ready.catch(() => undefined);
  }

  /**
   * The offset the group committed in `partition`, asked with require_stable (KIP-447): while a
   * transaction holds a newer offset of it pending (EndTxn answered, its marker in
   * __consumer_offsets not written yet, which a broker fault stretches out), the coordinator says so
   * instead of answering the offset before it, and the records in between would be enriched twice.
   * So the answer is asked again until no transaction holds it (about 20 s at most); past that, the
   * take-over fails and the group gives the partition out again.
   */
  private async committedOffset(partition: number): Promise<bigint | undefined> {
    try {
      this.admin ??= (async () => {
        const admin = this.kafka.admin();
        await admin.connect();
        return admin;
      })();
      const admin = await this.admin;
      const offset = await retry(
        `reading the committed offset of partition ${partition}`,
        async () => {
          const [answer] = await admin.fetchStableOffsets({
            groupId: this.options.groupId,
            topic: this.options.inputTopic,
            partitions: [partition],
          });
          if (answer?.pending !== false)
            throw new CdrError(ErrorCodes.KAFKA, 'a transaction holds an offset of it pending', {
              retriable: true,
            });
          return answer.offset;
        },
        { attempts: 60, backoff: { minMs: 20, maxMs: 500 }, retryIf: (err) => isCdrError(err) },
      );
      return offset === null || offset === '-1' ? undefined : BigInt(offset);
    } catch (cause) {
      this.admin = undefined;
      this.log.warn({ err: cause, partition }, 'reading the committed offset failed');
      throw new CdrError(ErrorCodes.KAFKA, `reading the committed offset of partition ${partition} failed`, {
        cause,
        retriable: true,
      });
    }
  }
}

/** The transactional producer of an input partition (TransactionalSender). */
export interface PartitionSender {
  commit(topicMessages: TopicMessages[], offsets?: Offsets): Promise<void>;
}

/** Which input partitions this process may write for (partition-owners.ts). */
export interface BatchOwners {
  /** The partition's producer, once initialised, and the offset its group had committed then. */
  acquire(partition: number): Promise<{ sender: PartitionSender; committed: bigint | undefined } | undefined>;
  isCurrent(partition: number, sender: PartitionSender): boolean;
  drop(partition: number, sender: PartitionSender): void;
  /** What Kafka refused this client last (a login, an ACL: CDR_KAFKA_ACCESS), until a commit goes through. */
  refusal: string | undefined;
}

/** Notes a refusal on the owners (the stage is not ready until a commit goes through); true when it was one. */
function noteRefusal(owners: BatchOwners, err: unknown, partition: number, log: Logger): boolean {
  if (!isCdrError(err, ErrorCodes.KAFKA_ACCESS)) return false;
  // Not routine: nothing of this partition moves until someone grants the ACL or fixes the login.
  owners.refusal = err.message;
  log.error({ partition, code: err.code }, err.message);
  return true;
}

/** An error kafkajs answers by rejoining the group (its isRebalancing test reads `type`). */
function rejoin(message: string, partition: number): CdrError {
  return Object.assign(
    new CdrError(ErrorCodes.PARTITION_MOVED, message, { retriable: true, details: { partition } }),
    { type: 'REBALANCE_IN_PROGRESS' },
  );
}

/** The records of `messages` at or after `committed`, and how many came before it. */
export function afterCommitted(
  messages: readonly KafkaMessage[],
  committed: bigint | undefined,
): { skipped: number; rest: readonly KafkaMessage[] } {
  if (committed === undefined) return { skipped: 0, rest: messages };
  const first = messages.findIndex((m) => BigInt(m.offset) >= committed);
  const skipped = first === -1 ? messages.length : first;
  return { skipped, rest: messages.slice(skipped) };
}

/** The partition's producer, or a rejoin when the partition cannot be taken or is not ours. */
async function takePartition(
  owners: BatchOwners,
  partition: number,
  log: Logger,
): Promise<{ sender: PartitionSender; committed: bigint | undefined }> {
  let owner: Awaited<ReturnType<BatchOwners['acquire']>>;
  try {
    owner = await owners.acquire(partition);
  } catch (err) {
    // Its producer could not be initialised or its committed offset read (a coordinator moving):
    // the partition was dropped; the group gives it out again.
    const code = isCdrError(err) ? err.code : undefined;
    if (!noteRefusal(owners, err, partition, log))
      log.warn({ err, partition, code }, 'taking the partition over failed: rejoining the group');
    throw rejoin(`taking partition ${partition} over failed (${code ?? 'error'})`, partition);
  }
  if (!owner) throw rejoin(`partition ${partition} is not assigned to this enricher`, partition);
  return owner;
}

/**
 * A batch of an input partition, as a consume-transform-produce stage starts it: the partition's
 * producer, and the records at or after the offset the group committed (those before it, already
 * done by the previous owner, resolved and counted in `skippedCommitted`).
 */
export async function takeBatch(
  owners: BatchOwners,
  messages: readonly KafkaMessage[],
  partition: number,
  resolveOffset: (offset: string) => void,
  skippedCommitted: { inc(n: number): void },
  log: Logger,
): Promise<{ sender: PartitionSender; rest: readonly KafkaMessage[] }> {
  const owner = await takePartition(owners, partition, log);
  const { skipped, rest } = afterCommitted(messages, owner.committed);
  if (skipped > 0) {
    skippedCommitted.inc(skipped);
    resolveOffset((messages[skipped - 1] as KafkaMessage).offset);
  }
  return { sender: owner.sender, rest };
}

/**
 * Commits a slice's output with the input offset after `lastOffset`. False when the commit failed
 * for a sender of an earlier assignment (that batch is void); a failure of the current sender drops
 * the partition and throws the rejoin that makes kafkajs ask the group again.
 */
export async function commitSlice(
  owners: BatchOwners,
  sender: PartitionSender,
  input: { topic: string; partition: number; groupId: string },
  topicMessages: TopicMessages[],
  lastOffset: string,
  metrics: { partitionsMoved: { inc(): void }; failed?: { inc(): void } },
  log: Logger,
): Promise<boolean> {
  const { topic, partition, groupId } = input;
  try {
    await sender.commit(topicMessages, {
      consumerGroupId: groupId,
      topics: [{ topic, partitions: [{ partition, offset: String(BigInt(lastOffset) + 1n) }] }],
    });
    owners.refusal = undefined;
    return true;
  } catch (err) {
    metrics.failed?.inc();
    // Nothing of this slice was committed. A sender of an earlier assignment: that batch is void.
    if (!owners.isCurrent(partition, sender)) return false;
    owners.drop(partition, sender);
    metrics.partitionsMoved.inc();
    const code = isCdrError(err) ? err.code : undefined;
    if (!noteRefusal(owners, err, partition, log))
      log.warn({ err, partition, code }, 'transaction failed: partition dropped; rejoining the group');
    throw rejoin(`the transaction of partition ${partition} failed (${code ?? 'error'})`, partition);
  }
}
