// The transactional producers of a process, shared by its accounts: `transactions.poolSize` slots, each
// one kafkajs transactional producer (its own connections) with the stable transactional id
// `<prefix>-slot-<i>`; an account always uses slot `fnv1a(login) mod size`. So a process opens the
// same few connections for ten accounts or a thousand, and a restarted process initialises the same
// ids, which fences its previous incarnation.
//
// A slot runs one transaction at a time (kafkajs allows one per producer); the accounts of a slot
// take turns under its lock. After a failed transaction the slot's producer is replaced, and
// between the old producer and the new one another process may have initialised the id and
// committed for any account of the slot. So every account remembers the slot epoch at which it
// last read or committed its cursor; its next commit on a newer epoch first compares its cursor with
// the cursor topic as read after the new producer was initialised (one read per epoch for the whole
// slot): another owner is a takeover (that account stops), another cursor means the account reads it
// again before it publishes anything.
//
// A commit refused for the producer's epoch is a timed-out transaction or another process that
// initialised the id to take accounts over (ownership.ts): it fences first and claims a moment
// later. So the slot does not initialise the id again at once for the next account that commits
// (that would fence the newcomer before its claim, and the two would take turns for ever): it waits
// FENCE_WAIT_MS, doubling while its commits keep being refused, and reads the cursor topic first;
// the accounts it finds claimed stop.
import { setTimeout as sleep } from 'node:timers/promises';
import type { CompressionTypes, Kafka, TopicMessages } from 'kafkajs';
import type { Logger } from 'pino';
import { CdrError, ErrorCodes, isCdrError } from '../errors.ts';
import type { SentOffsets } from '../kafka/sends.ts';
import { TransactionalSender } from '../kafka/transactions.ts';
import { Permits } from '../ops/permits.ts';
import type { CursorState, CursorValue } from '../topics/cursor.ts';

/** The slot of an account: FNV-1a (32 bits) of its login's UTF-8 bytes, modulo the pool size. */
export function slotOf(login: string, size: number): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(login, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % size;
}

/** The first wait after a refused commit before the slot's id is initialised again; then 2x, 4x... */
const FENCE_WAIT_MS = 2000;
const FENCE_WAIT_MAX_MS = 30_000;

export function slotTransactionalId(prefix: string, slot: number): string {
  return `${prefix}-slot-${slot}`;
}

/** What an account believes of its cursor when it commits. */
export interface CursorGuard {
  account: string;
  /** The slot epoch at which the account last read or committed its cursor. */
  epoch: number;
  cursor: CursorState;
}

export interface SlotOptions {
  transactionalId: string;
  transactionTimeoutMs: number;
  /** The topics the producer writes: records of the slot left open there are ended (TransactionalOptions.writes). */
  topics: readonly string[];
  log?: Logger;
  compression?: CompressionTypes;
  /** This process, as named in the cursor records it writes. */
  instanceId: string;
  /** Reads every account's cursor, starting after the call (see CursorReader.readAll). */
  readCursors: () => Promise<Map<string, CursorValue>>;
  /** Ends a wait before initialising the id again (the process is stopping). */
  signal?: AbortSignal;
}

export class ProducerSlot {
  private readonly sender: TransactionalSender;
  private readonly options: SlotOptions;
  private readonly lock = new Permits(1);
  /** The cursor topic as read after the producer of `epoch` was initialised. */
  private snapshot: { epoch: number; cursors: Map<string, CursorValue> } | undefined;
  /** Accounts of the slot found claimed by another process: they stop at their next turn. */
  private readonly taken = new Map<string, CursorValue>();
  /** The last commit refused for the producer's epoch, and how many in a row. */
  private refused: { at: number; times: number } | undefined;
  /** The accounts that use the slot. */
  readonly accounts: string[] = [];

  constructor(kafka: Kafka, options: SlotOptions) {
    this.options = options;
    this.sender = new TransactionalSender(kafka, {
      transactionalId: options.transactionalId,
      transactionTimeoutMs: options.transactionTimeoutMs,
      ...(options.compression === undefined ? {} : { compression: options.compression }),
      writes: { topics: () => options.topics },
      ...(options.log === undefined ? {} : { log: options.log }),
    });
  }

  get transactionalId(): string {
    return this.options.transactionalId;
  }

  /**
   * Initialises the slot's producer if it has none; resolves with its epoch. After a refused commit,
   * first waits and reads the cursor topic: throws the takeover of `account` if it was claimed.
   */
  async connect(account?: string): Promise<number> {
    return this.lock.run(async () => {
      await this.ensureProducer(account);
      return this.sender.epoch;
    });
  }

  /**
   * Sends the messages in one transaction of the slot, after checking the account's cursor when the
   * slot's producer changed since the account last saw it. Resolves with the epoch it committed in.
   * `then` as in TransactionalSender.commit.
   */
  async commit(
    guard: CursorGuard,
    topicMessages: TopicMessages[],
    then?: (offsets: SentOffsets) => TopicMessages[],
  ): Promise<number> {
    return this.lock.run(async () => {
      this.throwIfTaken(guard.account);
      await this.ensureProducer(guard.account);
      const epoch = this.sender.epoch;
      if (guard.epoch !== epoch) await this.verify(guard, epoch);
      try {
        await this.sender.commit(topicMessages, undefined, then).catch(rethrowAsEpoch);
      } catch (err) {
        if (isCdrError(err, ErrorCodes.PRODUCER_EPOCH))
          this.refused = { at: Date.now(), times: (this.refused?.times ?? 0) + 1 };
        throw err;
      }
      this.refused = undefined;
      return epoch;
    });
  }

  /** Commits `messages` only if the producer is still the one of `epoch` (a claim made on a read at that epoch). */
  async commitIfEpoch(epoch: number, topicMessages: TopicMessages[]): Promise<void> {
    return this.lock.run(async () => {
      if (this.sender.epoch !== epoch || !this.sender.isConnected)
        throw new CdrError(ErrorCodes.KAFKA, `the producer of ${this.transactionalId} was replaced`, {
          retriable: true,
        });
      await this.sender.commit(topicMessages).catch(rethrowAsEpoch);
    });
  }

  /**
   * Marks the slot's accounts that `cursors` shows claimed by another process; throws the takeover
   * of `account` if it is one of them.
   */
  markTakenAccounts(cursors: Map<string, CursorValue>, account: string | undefined): void {
    for (const login of this.accounts) this.markIfTaken(login, cursors.get(login));
    if (account !== undefined) this.throwIfTaken(account);
  }

  /** Throws the takeover of `account` when the slot found it claimed by another process. */
  throwIfTaken(account: string): void {
    const found = this.taken.get(account);
    if (found) throw takenOver(found);
  }

  async close(): Promise<void> {
    await this.sender.discard();
  }

  /**
   * Initialises the slot's producer again if the slot is idle (no transaction of it under way, and
   * it has one to replace) and its producer id is one of `producerIds`: the new producer ends the
   * records of the slot left open (see TransactionalSender's endOpenRecords). For a position read
   * held by an open transaction of this idle slot; a busy slot ends its own with its next commit, or
   * its next producer. Not after a commit refused for the epoch (another process may be taking the
   * accounts over: initialising the id would fence it before its claim).
   */
  async renewIfIdle(producerIds: ReadonlySet<string>): Promise<boolean> {
    const id = this.sender.producerId;
    if (id === undefined || !producerIds.has(id) || this.refused !== undefined) return false;
    const release = this.lock.tryAcquire();
    if (release === undefined) return false;
    try {
      if (!this.sender.isConnected || this.taken.size === this.accounts.length) return false;
      await this.sender.discard();
      await this.ensureProducer(undefined);
      return true;
    } finally {
      release();
    }
  }

  /** Under the lock: the producer, initialised after the wait that follows a refused commit. */
  private async ensureProducer(account: string | undefined): Promise<void> {
    if (this.sender.isConnected) return;
    if (this.refused) {
      const wait = Math.min(FENCE_WAIT_MS * 2 ** (this.refused.times - 1), FENCE_WAIT_MAX_MS);
      const left = this.refused.at + wait - Date.now();
      if (left > 0)
        await sleep(left, undefined, this.options.signal ? { signal: this.options.signal } : {}).catch(() => {
          throw new CdrError(ErrorCodes.ABORTED, 'stopped while waiting to initialise the producer again');
        });
      // A claim that landed meanwhile stops its account here; initialising again would fence its writer.
      this.markTakenAccounts(await this.options.readCursors(), account);
    }
    await this.sender.connect().catch(rethrowAsEpoch);
  }

  /** Another process's name in the account's cursor record is a takeover. */
  private markIfTaken(login: string, found: CursorValue | undefined): void {
    if (found?.owner !== undefined && found.owner !== this.options.instanceId) this.taken.set(login, found);
  }

  private async verify(guard: CursorGuard, epoch: number): Promise<void> {
    if (this.snapshot?.epoch !== epoch) this.snapshot = { epoch, cursors: await this.options.readCursors() };
    const found = this.snapshot.cursors.get(guard.account);
    this.markIfTaken(guard.account, found);
    this.throwIfTaken(guard.account);
    if (
      found?.lastId !== guard.cursor.lastId ||
      (found.deadLetteredAfter ?? 0) !== guard.cursor.deadLetteredAfter
    )
      throw new CdrError(
        ErrorCodes.KAFKA,
        `the cursor of ${guard.account} is not where this process left it (its producer was replaced): reading it again`,
        {
          retriable: true,
          details: { account: guard.account, expected: guard.cursor.lastId, found: found?.lastId },
        },
      );
  }
}

function takenOver(found: CursorValue): CdrError {
  return new CdrError(ErrorCodes.FENCED, `account ${found.account} was claimed by ${found.owner}`, {
    details: { account: found.account, owner: found.owner },
  });
}

/**
 * A slot's transactional id was initialised by another producer: that says nothing yet about which
 * accounts were taken over (the caller reads the cursor topic), so it is reported as an epoch error.
 */
function rethrowAsEpoch(err: unknown): never {
  if (isCdrError(err, ErrorCodes.PRODUCER_FENCED))
    throw new CdrError(ErrorCodes.PRODUCER_EPOCH, err.message, { cause: err, retriable: true });
  throw err;
}

export interface PoolOptions {
  prefix: string;
  size: number;
  transactionTimeoutMs: number;
  /** The topics the producer writes (cdr.raw, the dead letters, the cursor, the control topics). */
  topics: readonly string[];
  log?: Logger;
  compression?: CompressionTypes;
  instanceId: string;
  readCursors: () => Promise<Map<string, CursorValue>>;
  signal?: AbortSignal;
}

/** The slots of a process, created for the accounts that use them only. */
export class ProducerPool {
  private readonly kafka: Kafka;
  private readonly options: PoolOptions;
  private readonly slots = new Map<number, ProducerSlot>();

  constructor(kafka: Kafka, options: PoolOptions, logins: readonly string[]) {
    this.kafka = kafka;
    this.options = options;
    for (const login of logins) {
      const i = slotOf(login, options.size);
      let slot = this.slots.get(i);
      if (!slot) {
        slot = new ProducerSlot(kafka, {
          transactionalId: slotTransactionalId(options.prefix, i),
          transactionTimeoutMs: options.transactionTimeoutMs,
          topics: options.topics,
          ...(options.log === undefined ? {} : { log: options.log }),
          ...(options.compression === undefined ? {} : { compression: options.compression }),
          instanceId: options.instanceId,
          readCursors: options.readCursors,
          ...(options.signal === undefined ? {} : { signal: options.signal }),
        });
        this.slots.set(i, slot);
      }
      slot.accounts.push(login);
    }
  }

  slotFor(login: string): ProducerSlot {
    const slot = this.slots.get(slotOf(login, this.options.size));
    if (!slot) throw new Error(`account ${login} is not one of the pool's`);
    return slot;
  }

  all(): ProducerSlot[] {
    return [...this.slots.values()];
  }

  /** Initialises again the idle slots of these producer ids (ProducerSlot.renewIfIdle); how many were. */
  async renewIdle(producerIds: ReadonlySet<string>): Promise<number> {
    const renewed = await Promise.all(this.all().map((s) => s.renewIfIdle(producerIds).catch(() => false)));
    return renewed.filter(Boolean).length;
  }

  /** Whether `transactionalId` is one of the slots this process uses. */
  owns(transactionalId: string): boolean {
    return this.all().some((s) => s.transactionalId === transactionalId);
  }

  /** A producer of another transactional id (a previous writer of one of the pool's accounts). */
  senderFor(transactionalId: string): TransactionalSender {
    return new TransactionalSender(this.kafka, {
      transactionalId,
      transactionTimeoutMs: this.options.transactionTimeoutMs,
      writes: { topics: () => this.options.topics },
      ...(this.options.log === undefined ? {} : { log: this.options.log }),
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.all().map((s) => s.close()));
  }
}
