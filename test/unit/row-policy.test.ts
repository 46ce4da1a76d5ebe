import { describe, expect, it } from 'vitest';
import { RowPolicy } from '../../src/feed/row-policy.ts';

const start = (cursor: number, deadLetteredAfter = 0, heldTail?: string) =>
  new RowPolicy({ cursor, deadLetteredAfter, heldTail });
const actions = (p: RowPolicy, ids: Array<number | undefined>) =>
  ids.map((id) => {
    const d = p.decide(id);
    return d.action === 'take' ? 'take' : d.reason;
  });

describe('row policy', () => {
  it('drops the row that repeats the cursor (inclusive fromid) without counting it as backwards', () => {
    const p = start(100);
    expect(actions(p, [100, 101, 102])).toEqual(['cursor_row', 'take', 'take']);
    expect(p.lastId).toBe(102);
  });

  it('drops ids that go backwards, and a repeat of the cursor that is not the first row', () => {
    const p = start(100);
    expect(actions(p, [101, 100, 103, 102, 103, 104])).toEqual([
      'take',
      'id_not_above_cursor',
      'take',
      'id_not_above_cursor',
      'id_not_above_cursor',
      'take',
    ]);
    expect(p.lastId).toBe(104);
  });

  it('serves an exclusive feed (no repeat of the cursor) the same way', () => {
    expect(actions(start(100), [101, 102])).toEqual(['take', 'take']);
  });

  it('counts rows without a readable id after the last id, and resets the count when an id moves on', () => {
    const p = start(100);
    expect(actions(p, [100, 101, undefined, undefined])).toEqual(['cursor_row', 'take', 'take', 'take']);
    expect([p.lastId, p.deadLetteredAfter]).toEqual([101, 2]);
    p.decide(102);
    expect([p.lastId, p.deadLetteredAfter]).toEqual([102, 0]);
  });

  it('does not dead-letter again the id-less rows the cursor says were dead-lettered, only new ones', () => {
    const p = start(101, 2);
    expect(actions(p, [101, undefined, undefined, undefined, 102, undefined])).toEqual([
      'cursor_row',
      'already_dead_lettered',
      'already_dead_lettered',
      'take',
      'take',
      'take',
    ]);
    expect([p.lastId, p.deadLetteredAfter]).toEqual([102, 1]);
  });

  it('keeps the count when only already-dead-lettered rows came', () => {
    const p = start(101, 2);
    actions(p, [101, undefined, undefined]);
    expect([p.lastId, p.deadLetteredAfter]).toEqual([101, 2]);
  });

  it('holds back an unterminated last row unless the previous response ended with the same text', () => {
    const first = start(100);
    expect(first.acceptTail('101,a,b')).toBe(false);
    first.hold('101,a,b');
    expect(first.heldTail).toBe('101,a,b');
    const second = start(100, 0, first.heldTail);
    expect(second.acceptTail('101,a,b')).toBe(true);
    expect(second.acceptTail('101,a,b,c')).toBe(false);
    expect(second.heldTail).toBeUndefined();
  });
});
