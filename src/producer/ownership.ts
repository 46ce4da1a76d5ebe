// Taking the accounts of a process at start, so that a crash, a restart or a second process neither
// loses nor doubles a CDR:
//
// 1. Initialise the pool's slots (InitProducerId): an older process with the same prefix and slots
//    is fenced, and its open transactions are aborted (or completed, if they were committing).
// 2. Read every cursor once. An account whose last cursor was written by a transactional id this
//    process does not use (another pool size or prefix, or a producer from before the pool, which
//    used `<prefix>-<account>`) gets that id initialised too, fencing its writer; then read again.
// 3. Claim: each slot commits one cursor record per account (same position, `owner` this process,
//    `transactionalId` the slot). From then on another owner in the cursor topic means a takeover:
//    an older process that reads the cursors after a failed commit finds the claim and stops those
//    accounts instead of initialising the slot again (which would fence the newcomer back). An
//    account without a cursor is claimed at the id before FEED_START_ID, where it starts anyway.
//
// A process that is fenced between 1 and 3 (the older one initialised the slot again before it
// saw the claim) fails the claim and starts over at 1; the older one then finds the claim.
import type { Logger } from 'pino';
import { Permits } from '../ops/permits.ts';
import { type CursorValue, cursorMessage } from './cursor.ts';
import { legacyTransactionalId, type ProducerPool, type ProducerSlot } from './pool.ts';

export interface TakeOptions {
  prefix: string;
  instanceId: string;
  cursorTopic: string;
  readCursors: () => Promise<Map<string, CursorValue>>;
  /** Producers initialised at once (slots and fenced ids). */
  concurrency: number;
  /** The position of an account without a cursor yet: the id before FEED_START_ID. */
  startAfter: number;
}

export interface TakenAccounts {
  /** The claim of each account: where it stands. */
  cursors: Map<string, CursorValue>;
  /** The epoch of each slot at the claim (the cursors were read at it). */
  epochs: Map<ProducerSlot, number>;
  /** Transactional ids of other writers that were fenced. */
  fenced: string[];
}

export async function takeAccounts(
  pool: ProducerPool,
  logins: readonly string[],
  o: TakeOptions,
  log: Logger,
): Promise<TakenAccounts> {
  const permits = new Permits(o.concurrency);
  const gradually = <T, R>(items: readonly T[], fn: (item: T) => Promise<R>) =>
    Promise.all(
      items.map(async (item) => {
        const release = await permits.acquire();
        try {
          return await fn(item);
        } finally {
          release();
        }
      }),
    );
  const slots = pool.all();
  const epochs = new Map<ProducerSlot, number>();
  await gradually(slots, async (slot) => {
    epochs.set(slot, await slot.connect());
  });
  let cursors = await o.readCursors();
  const foreign = new Set<string>();
  for (const login of logins) {
    const found = cursors.get(login);
    if (!found) continue;
    const writer = found.transactionalId ?? legacyTransactionalId(o.prefix, login);
    if (!pool.owns(writer)) foreign.add(writer);
  }
  if (foreign.size > 0) {
    log.info(
      { transactionalIds: foreign.size, examples: [...foreign].slice(0, 5) },
      'fencing the producers that last wrote these accounts under other transactional ids',
    );
    await gradually([...foreign], (id) => pool.fence(id));
    cursors = await o.readCursors();
  }
  const claims = new Map<string, CursorValue>();
  const committedAt = new Date().toISOString();
  await gradually(slots, async (slot) => {
    const messages = pool.accountsOf(slot).map((login) => {
      const found = cursors.get(login);
      const claim: CursorValue = {
        account: login,
        lastId: found?.lastId ?? o.startAfter,
        rows: 0,
        committedAt,
        owner: o.instanceId,
        transactionalId: slot.transactionalId,
        deadLetteredAfter: found?.deadLetteredAfter ?? 0,
        ...(found?.newestStartTime === undefined ? {} : { newestStartTime: found.newestStartTime }),
      };
      claims.set(login, claim);
      return cursorMessage(claim);
    });
    await slot.commitAt(epochs.get(slot) as number, [{ topic: o.cursorTopic, messages }]);
  });
  return { cursors: claims, epochs, fenced: [...foreign] };
}
