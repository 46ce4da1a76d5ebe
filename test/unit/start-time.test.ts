import { describe, expect, it } from 'vitest';
import { parseStartTime } from '../../src/cdr/start-time.ts';
import { TimeZone } from '../../src/cdr/time-zone.ts';

const sydney = new TimeZone('Australia/Sydney');

describe('start_time', () => {
  it('reads ISO 8601 with an offset or Z', () => {
    expect(parseStartTime('2026-11-03T09:15:02+11:00', sydney)).toBe(Date.UTC(2026, 10, 2, 22, 15, 2));
    expect(parseStartTime('2026-11-03T09:15:02-03:30', sydney)).toBe(Date.UTC(2026, 10, 3, 12, 45, 2));
    expect(parseStartTime('2026-11-03T09:15:02Z', sydney)).toBe(Date.UTC(2026, 10, 3, 9, 15, 2));
    expect(parseStartTime('2026-11-03T09:15:02.5+00:00', sydney)).toBe(Date.UTC(2026, 10, 3, 9, 15, 2, 500));
  });

  it('reads local times in the configured zone, summer and winter', () => {
    expect(parseStartTime('2026-11-03 09:17:05', sydney)).toBe(Date.UTC(2026, 10, 2, 22, 17, 5)); // AEDT +11
    expect(parseStartTime('2026-07-01 12:00:00', sydney)).toBe(Date.UTC(2026, 6, 1, 2, 0, 0)); // AEST +10
    expect(parseStartTime('2026-07-01 12:00:00', new TimeZone('UTC'))).toBe(Date.UTC(2026, 6, 1, 12, 0, 0));
  });

  it('moves a time skipped by the spring-forward gap forward by the gap', () => {
    // Sydney, 2026-10-04: 02:00 AEST becomes 03:00 AEDT; 02:30 does not exist and reads as 03:30 AEDT.
    expect(parseStartTime('2026-10-04 02:30:00', sydney)).toBe(Date.UTC(2026, 9, 3, 16, 30, 0));
    expect(parseStartTime('2026-10-04 03:30:00', sydney)).toBe(Date.UTC(2026, 9, 3, 16, 30, 0));
  });

  it('reads a time repeated by the fall-back change as its earlier instant', () => {
    // Sydney, 2026-04-05: 03:00 AEDT becomes 02:00 AEST; 02:30 happens twice, first at +11.
    expect(parseStartTime('2026-04-05 02:30:00', sydney)).toBe(Date.UTC(2026, 3, 4, 15, 30, 0));
    expect(parseStartTime('2026-04-05 03:30:00', sydney)).toBe(Date.UTC(2026, 3, 4, 17, 30, 0));
  });

  it.each([
    '2026-02-30 10:00:00',
    '2026-13-01 10:00:00',
    '2026-11-03 24:00:00',
    '2026-11-03T09:15:02',
    '2026-11-03T09:15:02+25:00',
    '03/11/2026 09:15',
    'yesterday',
    '',
  ])('rejects %j', (text) => {
    expect(parseStartTime(text, sydney)).toBeUndefined();
  });
});
