// The one fence-and-claim: take a transactional id from whoever writes under it, and write what a
// read made after the fence decides, in one transaction of that id.
//
// InitProducerId fences the id's previous producer (it can commit nothing more) and ends its open
// transaction; whatever it committed before is then in the topics, so a read made after the fence
// sees the last word of the previous writer. `decide` reads and returns the records to commit (or
// throws to refuse: thrown as it is). If the previous writer initialises the id again before our
// commit (it did not know yet), our commit fails: fence, read and decide again, a few times; it
// cannot win for long, since it reads the cursor topic before its next commit and finds our claim.
//
// Used by the producer to take accounts over from other transactional ids (ownership.ts) and by
// `cursor set` to move a running producer's cursor.
import type { TopicMessages } from 'kafkajs';
import { ErrorCodes, isCdrError } from '../errors.ts';
import { retry } from '../ops/retry.ts';
import type { TransactionalSender } from './transactions.ts';

export interface FenceAndClaimOptions {
  /** A fresh producer of the id to take, each try (discarded after it). */
  sender: () => TransactionalSender;
  /** Tries in all (default 10). */
  attempts?: number;
}

/** What a read after the fence decided: the records of the claim, and what to answer. */
export interface Claim<T> {
  records: TopicMessages[];
  result: T;
}

export async function fenceAndClaim<T>(
  what: string,
  options: FenceAndClaimOptions,
  decide: () => Promise<Claim<T>>,
): Promise<T> {
  return retry(
    what,
    async () => {
      const sender = options.sender();
      try {
        await sender.connect();
        const claim = await decide();
        await sender.commit(claim.records);
        return claim.result;
      } finally {
        await sender.discard();
      }
    },
    {
      attempts: options.attempts ?? 10,
      backoff: { minMs: 100, maxMs: 2000 },
      // Fenced back by the previous writer, or a retriable Kafka error (Kafka 4.4's coordinator
      // answers an EndTxn that meets its own epoch fence with UNKNOWN_SERVER_ERROR, not an epoch error).
      retryIf: (err) => isCdrError(err) && (err.retriable || err.code === ErrorCodes.PRODUCER_FENCED),
    },
  );
}
