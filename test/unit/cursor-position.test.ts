// Where an account stands after a failure: its cursor record, unless the running totals written in
// a later transaction name a later cursor (a transaction committed without its marker in the
// cursor partition, seen with a broker stopped mid-commit).
import { describe, expect, it } from 'vitest';
import { type CursorValue, cursorBehindTotals } from '../../src/topics/cursor.ts';

const at = (iso: string) => Date.parse(iso);
const record = (lastId: number, committedAt: string): CursorValue => ({
  account: '40021',
  lastId,
  rows: 5,
  committedAt,
});
const totals = (...t: Array<[string, number, string]>) =>
  new Map(t.map(([period, cursor, writtenAt]) => [period, { cursor, written_at: at(writtenAt) }]));

describe('cursorBehindTotals', () => {
  it('is undefined when the totals agree with the cursor record or lag it (batches without CDRs)', () => {
    const r = record(21611, '2026-11-28T08:47:49.826Z');
    expect(cursorBehindTotals(r, totals(['2026-11', 21611, '2026-11-28T08:47:49.826Z']))).toBeUndefined();
    expect(cursorBehindTotals(r, totals(['2026-11', 21600, '2026-11-28T08:47:49.700Z']))).toBeUndefined();
    expect(cursorBehindTotals(r, undefined)).toBeUndefined();
    expect(cursorBehindTotals(undefined, undefined)).toBeUndefined();
  });

  it("gives the totals' cursor when a later transaction's totals are visible and its cursor record is not", () => {
    // The case seen: the cursor record of the transaction at 08:47:49.849 stayed invisible.
    const r = record(21611, '2026-11-28T08:47:49.826Z');
    const t = totals(
      ['2026-10', 20000, '2026-11-28T08:40:00.000Z'],
      ['2026-11', 21616, '2026-11-28T08:47:49.849Z'],
    );
    expect(cursorBehindTotals(r, t)).toBe(21616);
    // No cursor record visible at all (the first transaction's marker missing).
    expect(cursorBehindTotals(undefined, t)).toBe(21616);
  });

  it('leaves a cursor moved back by an operator after the totals (cursor set --allow-backwards) as it is', () => {
    const r = record(11000, '2026-11-28T09:30:00.000Z');
    expect(cursorBehindTotals(r, totals(['2026-11', 11902, '2026-11-28T09:00:00.000Z']))).toBeUndefined();
  });
});
