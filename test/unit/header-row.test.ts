import { describe, expect, it } from 'vitest';
import { bytesToDecimalString } from '../../src/cdr/decimal.ts';
import { readHeader } from '../../src/cdr/header.ts';
import { convertRow } from '../../src/cdr/row.ts';
import { TimeZone } from '../../src/cdr/time-zone.ts';
import type { CdrError } from '../../src/errors.ts';

const zone = new TimeZone('Australia/Sydney');
const ingest = { ingested_at: 1, feed_host: 'feed.example:443', line: 2 };
const HEADER =
  'id,account,billing_group,billing_period,start_time,from,to,seconds,type,sub_type,cost,description'.split(
    ',',
  );
const ROW = [
  '1001',
  '40021',
  'Sales',
  '2026-11',
  '2026-11-03T09:15:02+11:00',
  '61290001234',
  '61412345678',
  '125',
  'M',
  'M3',
  '0.4170',
  'Calls to Mobile 3G',
];

describe('header', () => {
  it('matches names case-insensitively and trimmed, in any order, and keeps unknown columns', () => {
    const h = readHeader([
      ' COST ',
      'Description',
      'id',
      'account',
      'billing_group',
      'billing_period',
      'start_time',
      'from',
      'to',
      'seconds',
      'Type',
      'sub_type',
      'carrier_ref',
    ]);
    expect(h.index.cost).toBe(0);
    expect(h.index.type).toBe(10);
    expect(h.extra).toEqual([['carrier_ref', 12]]);
    expect(h.width).toBe(13);
  });

  it('allows the optional columns to be absent, and names missing required ones', () => {
    const h = readHeader(HEADER.filter((c) => c !== 'description' && c !== 'billing_group'));
    expect(h.index.description).toBe(-1);
    try {
      readHeader(HEADER.filter((c) => c !== 'cost' && c !== 'seconds'));
      expect.unreachable();
    } catch (err) {
      expect((err as CdrError).code).toBe('CDR_FEED_HEADER');
      expect((err as CdrError).message).toContain('seconds, cost');
    }
    expect(() => readHeader([...HEADER, 'ID'])).toThrow(/twice/);
  });
});

describe('row', () => {
  const header = readHeader(HEADER);

  it('converts a valid row with exact values', () => {
    const r = convertRow(ROW, header, zone, ingest);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.cdr).toMatchObject({
      id: 1001,
      account: '40021',
      billing_group: 'Sales',
      start_time: Date.UTC(2026, 10, 2, 22, 15, 2),
      start_time_text: '2026-11-03T09:15:02+11:00',
      seconds: 125,
      cost_text: '0.4170',
      description: 'Calls to Mobile 3G',
      extra: {},
      ingest,
    });
    expect(bytesToDecimalString(r.cdr.cost)).toBe('0.417000');
  });

  it('accepts an empty billing group and description, and a credit', () => {
    const row = [...ROW];
    row[2] = '';
    row[11] = '';
    row[10] = '-12.5';
    const r = convertRow(row, header, zone, ingest);
    expect(
      r.ok && r.cdr.billing_group === '' && r.cdr.description === '' && r.cdr.cost_text === '-12.5',
    ).toBe(true);
  });

  it('keeps ids up to 2^53-1 whole', () => {
    const row = [...ROW];
    row[0] = '9007199254740991';
    const r = convertRow(row, header, zone, ingest);
    expect(r.ok && r.cdr.id).toBe(9_007_199_254_740_991);
  });

  it.each([
    [0, '9007199254740992', 'id'],
    [0, '0', 'id'],
    [0, '12a', 'id'],
    [1, '', 'account'],
    [3, '2026-13', 'billing_period'],
    [3, '2026-1', 'billing_period'],
    [4, '2026-11-03 25:00:00', 'start_time'],
    [5, '', 'from'],
    [6, '', 'to'],
    [7, '-1', 'seconds'],
    [7, '1.5', 'seconds'],
    [8, '', 'type'],
    [9, '', 'sub_type'],
    [10, '1.2.3', 'cost'],
    [10, '0.1234567', 'cost'],
  ])('names the field when column %i is %j', (col, value, field) => {
    const row = [...ROW];
    row[col] = value;
    const r = convertRow(row, header, zone, ingest);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.problem.field).toBe(field);
      expect(r.id).toBe(field === 'id' ? undefined : 1001);
    }
  });

  it('rejects a row with fewer or more fields than the header', () => {
    const short = convertRow(ROW.slice(0, 10), header, zone, ingest);
    expect(short.ok || short.problem).toEqual({ field: '(row)', reason: 'has 10 fields, the header has 12' });
    const long = convertRow([...ROW, 'x'], header, zone, ingest);
    expect(long.ok).toBe(false);
  });
});
