// Which pool slot (transactional producer) an account uses: stable across processes and releases,
// since a restarted process must initialise the ids its previous incarnation used.
import { describe, expect, it } from 'vitest';
import { slotOf, slotTransactionalId } from '../../src/producer/pool.ts';
import { legacyTransactionalId } from '../../src/topics/cursor.ts';

describe('producer pool slots', () => {
  it('hashes a login with 32-bit FNV-1a of its UTF-8 bytes (values computed outside this code)', () => {
    // FNV-1a: 40021 -> 2294610830, 40022 -> 2277833211, 61000 -> 2655710984, a -> 3826002220.
    expect(slotOf('40021', 4)).toBe(2294610830 % 4);
    expect(slotOf('40022', 4)).toBe(2277833211 % 4);
    expect(slotOf('61000', 7)).toBe(2655710984 % 7);
    expect(slotOf('a', 7)).toBe(3826002220 % 7);
    expect(slotOf('40021', 1)).toBe(0);
  });

  it('spreads a thousand logins over the slots', () => {
    const counts = new Array<number>(8).fill(0);
    for (let i = 0; i < 1000; i++)
      counts[slotOf(String(70000 + i), 8)] = (counts[slotOf(String(70000 + i), 8)] ?? 0) + 1;
    // 125 each on average: no slot empty or holding twice its share.
    for (const c of counts) {
      expect(c).toBeGreaterThan(60);
      expect(c).toBeLessThan(250);
    }
  });

  it('names the slot ids after the prefix, and the ids of the version before the pool after the login', () => {
    expect(slotTransactionalId('cdr-producer', 3)).toBe('cdr-producer-slot-3');
    expect(legacyTransactionalId('cdr-producer', '40021')).toBe('cdr-producer-40021');
  });
});
