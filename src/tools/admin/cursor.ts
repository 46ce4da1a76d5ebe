// `cdr-pipeline cursor show|set`. Moving a cursor is safe against a running producer: the
// transactional id that wrote the account's cursor (its producer's pool slot) is initialised first
// (InitProducerId fences the producer that uses it and ends its open transaction), then the cursor
// is read again and the new one written in a transaction, as a record naming this command as its
// owner. The running producer finds the account claimed
// by another at its next commit and stops it (exit code 3 when it has no other account); a
// producer started afterwards resumes from the new cursor.
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import type { ToolsConfig } from '../../config/tools.ts';
import { CdrError, ErrorCodes, isCdrError } from '../../errors.ts';
import { TransactionalSender } from '../../kafka/transactions.ts';
import { type CursorValue, cursorMessage, legacyTransactionalId, readCursors } from '../../topics/cursor.ts';
import { renderTable } from '../read/table.ts';

export function formatCursors(cursors: Map<string, CursorValue>): string {
  if (cursors.size === 0) return 'no cursor yet: no account has committed';
  return renderTable(
    ['account', 'last id', 'committed', 'owner', 'producer (transactional id)', 'dead-lettered after it'],
    [...cursors.values()]
      .sort((a, b) => a.account.localeCompare(b.account))
      .map((c) => [
        c.account,
        c.lastId,
        c.committedAt,
        c.owner ?? '-',
        c.transactionalId ?? '-',
        c.deadLetteredAfter ?? 0,
      ]),
  );
}

export interface SetCursorRequest {
  account: string;
  lastId: number;
  allowBackwards: boolean;
}

export interface SetCursorResult {
  account: string;
  from: number | null;
  to: number;
  /** Ids between the old and the new cursor: skipped (forward) or published again (backwards). */
  between: number;
  direction: 'forward' | 'backwards' | 'same';
  owner: string;
  /** The transactional id fenced (and written with). */
  transactionalId: string;
}

export async function setCursor(
  kafka: Kafka,
  config: ToolsConfig,
  req: SetCursorRequest,
): Promise<SetCursorResult> {
  const { env } = config;
  const readTimeout = 2 * env.TRANSACTION_TIMEOUT_MS + 30_000;
  const check = (current: CursorValue | undefined): SetCursorResult => {
    const from = current?.lastId ?? null;
    const between = from === null ? 0 : Math.abs(req.lastId - from);
    const direction =
      from === null || req.lastId > from ? 'forward' : req.lastId < from ? 'backwards' : 'same';
    if (direction === 'backwards' && !req.allowBackwards) {
      throw new CdrError(
        ErrorCodes.REFUSED,
        `moving account ${req.account} back from ${from} to ${req.lastId} republishes up to ${between} ids (${req.lastId + 1}..${from}) already in ${env.TOPIC_RAW}: pass --allow-backwards to do it`,
        { details: { from, to: req.lastId, between } },
      );
    }
    return { account: req.account, from, to: req.lastId, between, direction, owner: '', transactionalId: '' };
  };
  // Refuse early, before fencing anything.
  const before = (
    await readCursors(kafka, env.TOPIC_CURSOR, { timeoutMs: readTimeout, groupPrefix: 'cdr-cursor-tool' })
  ).get(req.account);
  check(before);
  // The producer that wrote the cursor; records from before the producer pool name none.
  const transactionalId =
    before?.transactionalId ?? legacyTransactionalId(env.TRANSACTIONAL_ID_PREFIX, req.account);
  // A running producer that meets our fencing before our write may still think itself the owner
  // and initialise again, fencing us in turn (or the coordinator refuses our commit while it fences
  // the producer's epoch): then fence, read and write once more. It stops for
  // good at its first epoch error after our record is there.
  for (let attempt = 1; ; attempt++) {
    const sender = new TransactionalSender(kafka, {
      transactionalId,
      transactionTimeoutMs: env.TRANSACTION_TIMEOUT_MS,
      // The producer's id: its records left open are ended as its last transaction was.
      writes: {
        topics: () => [
          env.TOPIC_RAW,
          env.TOPIC_DLQ,
          env.TOPIC_CURSOR,
          env.TOPIC_CONTROL,
          env.TOPIC_CONTROL_TOTALS,
        ],
      },
    });
    try {
      await sender.connect();
      // The producer may have committed up to the moment it was fenced: decide on what is there now.
      const result = check(
        (
          await readCursors(kafka, env.TOPIC_CURSOR, {
            timeoutMs: readTimeout,
            groupPrefix: 'cdr-cursor-tool',
          })
        ).get(req.account),
      );
      const owner = `cursor-set:${randomUUID()}`;
      await sender.commit([
        {
          topic: env.TOPIC_CURSOR,
          messages: [
            cursorMessage({
              account: req.account,
              lastId: req.lastId,
              deadLetteredAfter: 0,
              rows: 0,
              committedAt: new Date().toISOString(),
              owner,
              transactionalId,
            }),
          ],
        },
      ]);
      return { ...result, owner, transactionalId };
    } catch (err) {
      // Fenced back, or a retriable Kafka error: Kafka 4.4's coordinator answers an EndTxn that
      // meets its own epoch fence with UNKNOWN_SERVER_ERROR instead of an epoch error.
      const again = isCdrError(err) && (err.retriable || err.code === ErrorCodes.PRODUCER_FENCED);
      if (!again || attempt >= 10) throw err;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    } finally {
      await sender.discard();
    }
  }
}
