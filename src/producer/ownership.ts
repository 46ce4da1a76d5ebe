// Taking the accounts of a process at start, so that a crash, a restart or a second process neither
// loses nor doubles a CDR. A transactional id serialises whoever holds it: after an InitProducerId,
// nothing older can commit under that id, and a commit of ours under it fails if anyone initialised
// it since. So each account is claimed under the id that last wrote its cursor:
//
// 1. Initialise the pool's slots (InitProducerId): an older process with the same prefix and slots
//    is fenced, and its open transactions are aborted (or completed, if they were committing).
// 2. Read every cursor once. Each cursor record names `transactionalId`, the id that publishes the
//    account (records from before the pool name none: their writer was `<prefix>-<account>`).
// 3. Accounts whose id is one of our slots (or that have no cursor yet): each slot commits one claim
//    per account, a cursor record at the same position naming this process as `owner` and the
//    slot as `transactionalId`. An account without a cursor is claimed at the id before
//    the configured start id, where it starts anyway.
// 4. Accounts written under another id (another pool size or prefix, the version before the pool):
//    per id, initialise it (fencing its writer), read the cursors again, and commit their claims in
//    a transaction of that id. If the old writer initialises it again first, the claim fails and is
//    tried again; if the claim commits, the old writer's next commit fails and, reading the cursors
//    after initialising again, it finds the claim and stops those accounts.
//
// From then on another owner in the cursor topic means a takeover: an older process that reads the
// cursors after a failed commit finds the claim and stops those accounts instead of initialising
// the slot again (which would fence the newcomer back). A process that is fenced between 1 and 3
// fails the claim and starts over at 1 (the caller retries).
import type { Logger } from 'pino';
import { CdrError, ErrorCodes } from '../errors.ts';
import { fenceAndClaim } from '../kafka/fence-and-claim.ts';
import { Permits } from '../ops/permits.ts';
import type { ControlValue } from '../topics/control.ts';
import { accountPosition, type CursorValue, cursorMessage, legacyTransactionalId } from '../topics/cursor.ts';
import type { ProducerPool, ProducerSlot } from './pool.ts';

export interface TakeOptions {
  prefix: string;
  instanceId: string;
  cursorTopic: string;
  readCursors: () => Promise<Map<string, CursorValue>>;
  /** The running totals of every account (cdr.control.totals), read with the cursors. */
  readTotals: () => Promise<Map<string, Map<string, ControlValue>>>;
  /** Producers initialised at once (slots and fenced ids). */
  concurrency: number;
  /** The position of an account without a cursor yet: the id before the configured start id. */
  startAfter: number;
}

export interface TakenAccounts {
  /** The claim of each account: where it stands. */
  cursors: Map<string, CursorValue>;
  /** The running totals of each account, read after the same InitProducerIds as the cursors. */
  totals: Map<string, Map<string, ControlValue>>;
  /** The epoch of each slot when the cursors were read. */
  epochs: Map<ProducerSlot, number>;
  /** Transactional ids of other writers that were fenced. */
  fenced: string[];
}

export async function takeAccounts(
  pool: ProducerPool,
  logins: readonly string[],
  options: TakeOptions,
  log: Logger,
): Promise<TakenAccounts> {
  const permits = new Permits(options.concurrency);
  const inTurn = <T, R>(items: readonly T[], fn: (item: T) => Promise<R>) =>
    Promise.all(items.map((item) => permits.run(() => fn(item))));
  // 1. Every slot initialised (an older process with the same slots fenced).
  const epochs = new Map<ProducerSlot, number>();
  await inTurn(pool.all(), async (slot) => {
    epochs.set(slot, await slot.connect());
  });
  // 2. Every cursor and running total, read once.
  const cursors = await options.readCursors();
  const totals = await options.readTotals();
  const writerOf = (login: string, found: CursorValue | undefined) =>
    found === undefined ? undefined : (found.transactionalId ?? legacyTransactionalId(options.prefix, login));
  const { own, foreign } = byWriter(pool, logins, (login) => writerOf(login, cursors.get(login)));
  const claims = new Map<string, CursorValue>();
  const claim = claimer(pool, options, totals, claims, log);
  const cursorRecords = (accounts: readonly string[], read: Map<string, CursorValue>) => [
    {
      topic: options.cursorTopic,
      messages: accounts.map((login) => cursorMessage(claim(login, read.get(login)))),
    },
  ];
  // 3. The accounts of our slots, claimed by their slot at the epoch the cursors were read at.
  await inTurn([...own], ([slot, accounts]) =>
    slot.commitIfEpoch(epochs.get(slot) as number, cursorRecords(accounts, cursors)),
  );
  if (foreign.size > 0)
    log.info(
      { transactionalIds: foreign.size, examples: [...foreign.keys()].slice(0, 5) },
      'taking accounts over from producers under other transactional ids: fencing them',
    );
  // 4. The accounts of other writers: each writer's id fenced and its accounts claimed under it.
  await inTurn([...foreign], ([writer, accounts]) =>
    fenceAndClaim(
      `taking accounts over from ${writer}`,
      { sender: () => pool.senderFor(writer) },
      async () => {
        // Read after the fence: whatever the old writer committed is in it, and it can commit no more.
        const now = await options.readCursors();
        const moved = accounts.filter((login) => writerOf(login, now.get(login)) !== writer);
        if (moved.length > 0)
          throw new CdrError(
            ErrorCodes.KAFKA,
            `accounts ${moved.join(', ')} changed hands while being taken over: starting over`,
            { retriable: true },
          );
        return { records: cursorRecords(accounts, now), result: undefined };
      },
    ),
  );
  return { cursors: claims, totals, epochs, fenced: [...foreign.keys()] };
}

/** The accounts by who writes their cursor: a slot of ours (or nobody yet), or another transactional id. */
function byWriter(
  pool: ProducerPool,
  logins: readonly string[],
  writerOf: (login: string) => string | undefined,
): { own: Map<ProducerSlot, string[]>; foreign: Map<string, string[]> } {
  const own = new Map<ProducerSlot, string[]>();
  const foreign = new Map<string, string[]>();
  const add = <K>(groups: Map<K, string[]>, key: K, login: string) => {
    const list = groups.get(key);
    if (list) list.push(login);
    else groups.set(key, [login]);
  };
  for (const login of logins) {
    const writer = writerOf(login);
    if (writer === undefined || pool.owns(writer)) add(own, pool.slotFor(login), login);
    else add(foreign, writer, login);
  }
  return { own, foreign };
}

/** Makes an account's claim from its cursor as read (kept in `claims`). */
function claimer(
  pool: ProducerPool,
  options: TakeOptions,
  totals: Map<string, Map<string, ControlValue>>,
  claims: Map<string, CursorValue>,
  log: Logger,
): (login: string, found: CursorValue | undefined) => CursorValue {
  const committedAt = new Date().toISOString();
  return (login, found) => {
    // A claim records where the account stands: past a transaction whose cursor marker the broker
    // lost, when the totals say so, and not at the older cursor it would cement.
    const position = accountPosition(login, found, totals.get(login), options.startAfter, log);
    const c: CursorValue = {
      account: login,
      lastId: position.lastId,
      rows: 0,
      committedAt,
      owner: options.instanceId,
      transactionalId: pool.slotFor(login).transactionalId,
      deadLetteredAfter: position.deadLetteredAfter,
      ...(found?.newestStartTime === undefined ? {} : { newestStartTime: found.newestStartTime }),
    };
    claims.set(login, c);
    return c;
  };
}
