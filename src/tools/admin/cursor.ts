// `cdr-pipeline cursor show|set`. Moving a cursor is safe against a running producer: the
// transactional id that wrote the account's cursor (its producer's pool slot) is initialised first
// (InitProducerId fences the producer that uses it and ends its open transaction), then the cursor
// is read again and the new one written in a transaction, as a record naming this command as its
// owner. The running producer finds the account claimed
// by another at its next commit and stops it (exit code 3 when it has no other account); a
// producer started afterwards resumes from the new cursor.
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import type { ToolsOptions } from '../../config/tools.ts';
import { CdrError, ErrorCodes } from '../../errors.ts';
import { fenceAndClaim } from '../../kafka/fence-and-claim.ts';
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
  tools: ToolsOptions,
  req: SetCursorRequest,
): Promise<SetCursorResult> {
  const { topics, producers } = tools;
  const read = async () =>
    (
      await readCursors(kafka, topics.cursor, {
        timeoutMs: 2 * producers.transactionTimeoutMs + 30_000,
        groupPrefix: 'cdr-cursor-tool',
      })
    ).get(req.account);
  const check = (current: CursorValue | undefined): SetCursorResult => {
    const from = current?.lastId ?? null;
    const between = from === null ? 0 : Math.abs(req.lastId - from);
    const direction =
      from === null || req.lastId > from ? 'forward' : req.lastId < from ? 'backwards' : 'same';
    if (direction === 'backwards' && !req.allowBackwards) {
      throw new CdrError(
        ErrorCodes.REFUSED,
        `moving account ${req.account} back from ${from} to ${req.lastId} republishes up to ${between} ids (${req.lastId + 1}..${from}) already in ${topics.raw}: pass --allow-backwards to do it`,
        { details: { from, to: req.lastId, between } },
      );
    }
    return { account: req.account, from, to: req.lastId, between, direction, owner: '', transactionalId: '' };
  };
  // Refuse early, before fencing anything.
  const before = await read();
  check(before);
  // The producer that wrote the cursor; records from before the producer pool name none.
  const transactionalId = before?.transactionalId ?? legacyTransactionalId(producers.idPrefix, req.account);
  const sender = () =>
    new TransactionalSender(kafka, {
      transactionalId,
      transactionTimeoutMs: producers.transactionTimeoutMs,
      // The producer's id: its records left open are ended as its last transaction was.
      writes: { topics: () => [topics.raw, topics.dlq, topics.cursor, topics.control, topics.controlTotals] },
    });
  // The running producer stops for good at its first epoch error after our record is there.
  return fenceAndClaim(`moving the cursor of ${req.account}`, { sender }, async () => {
    // The producer may have committed up to the moment it was fenced: decide on what is there now.
    const result = check(await read());
    const owner = `cursor-set:${randomUUID()}`;
    const value = {
      account: req.account,
      lastId: req.lastId,
      deadLetteredAfter: 0,
      rows: 0,
      committedAt: new Date().toISOString(),
      owner,
      transactionalId,
    };
    return {
      records: [{ topic: topics.cursor, messages: [cursorMessage(value)] }],
      result: { ...result, owner, transactionalId },
    };
  });
}
