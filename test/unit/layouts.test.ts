import { describe, expect, it } from 'vitest';
import { bytesToDecimalString, canonicalCost } from '../../src/cdr/decimal.ts';
import { BUILT_IN_LAYOUTS, readHeader } from '../../src/cdr/header.ts';
import { type Layout, LEGACY17_LAYOUT } from '../../src/cdr/layouts.ts';
import { DateTimeReader } from '../../src/cdr/local-time.ts';
import { RowReader } from '../../src/cdr/row.ts';
import { TimeZone } from '../../src/cdr/time-zone.ts';
import type { CdrError } from '../../src/errors.ts';
import { LEGACY17_COLUMNS } from '../../src/simulator/index.ts';
import { legacy17Row } from '../helpers/legacy17.ts';

const LEGACY = [...LEGACY17_COLUMNS];
const ingest = { ingested_at: 1, feed_host: 'h', line: 2 };
const NZ = new TimeZone('Pacific/Auckland');

const legacyRow = legacy17Row;

describe('layouts', () => {
  it('picks the layout from the header: the contract, then the 17-column one, in any order and case', () => {
    expect(
      readHeader([
        'id',
        'account',
        'billing_period',
        'start_time',
        'from',
        'to',
        'seconds',
        'type',
        'sub_type',
        'cost',
      ]).layout.name,
    ).toBe('contract');
    const shuffled = [...LEGACY].reverse().map((c) => ` ${c.toUpperCase()} `);
    const h = readHeader(shuffled);
    expect(h.layout.name).toBe('legacy17');
    expect(h.index.id).toBe(16);
    expect(h.currency).toBe('NZD');
    expect(h.names.cost).toBe('CALL COST (NZD)');
  });

  it('reads the currency from the cost header, else FEED_CURRENCY', () => {
    expect(readHeader(LEGACY.map((c) => c.replace('NZD', 'aud'))).currency).toBe('AUD');
    const noCurrency = readHeader(
      ['id', 'account', 'billing_period', 'start_time', 'from', 'to', 'seconds', 'type', 'sub_type', 'cost'],
      BUILT_IN_LAYOUTS,
      'EUR',
    );
    expect(noCurrency.currency).toBe('EUR');
  });

  it('names, for a header that fits no layout, what the closest layout misses and the header it got', () => {
    const err = (() => {
      try {
        readHeader(LEGACY.filter((c) => c !== 'Origin Number' && c !== 'Type'));
      } catch (e) {
        return e as CdrError;
      }
    })();
    expect(err?.code).toBe('CDR_FEED_HEADER');
    expect(err?.message).toMatch(/closest is legacy17, which needs Origin Number, Type/);
    expect(err?.message).toContain('got "ID,Billing Group,Destination Number');
    expect(err?.details).toMatchObject({ closest: 'legacy17', missing: ['Origin Number', 'Type'] });
  });

  it('accepts a 17-column header without Date/Time (Date and Time) or without Date and Time (Date/Time)', () => {
    expect(readHeader(LEGACY.filter((c) => c !== 'Date/Time')).layout.name).toBe('legacy17');
    expect(readHeader(LEGACY.filter((c) => c !== 'Date' && c !== 'Time')).layout.name).toBe('legacy17');
    expect(() => readHeader(LEGACY.filter((c) => !c.startsWith('Date') && c !== 'Time'))).toThrow(
      /Date\/Time or Date/,
    );
  });
});

describe('date and time forms', () => {
  const r = new DateTimeReader({ date: 'DD/MM/YYYY', time: 'HH:MM:SS', dateTime: 'DD/MM/YYYY HH:MM:SS' });

  it('reads day-first dates and the ISO forms, and refuses days that do not exist', () => {
    expect(r.readDate('03/11/2026')).toEqual({ ok: true, value: { y: 2026, mo: 11, d: 3 } });
    expect(r.readDate('2026-11-03')).toEqual({ ok: true, value: { y: 2026, mo: 11, d: 3 } });
    expect(r.readDate('31/02/2026')).toEqual({ ok: false, why: 'not-real' });
    expect(r.readDate('29/02/2028')).toMatchObject({ ok: true });
    expect(r.readDate('2026.11.03')).toEqual({ ok: false, why: 'form' });
    expect(r.readTime('24:00:00')).toEqual({ ok: false, why: 'not-real' });
  });

  it('reads a local date-time in the zone with the compatible rule, and ISO with an offset as it says', () => {
    expect(r.readDateTime('03/11/2026 09:15:02', NZ)).toEqual({
      ok: true,
      value: Date.parse('2026-11-03T09:15:02+13:00'),
    });
    expect(r.readDateTime('2026-11-03T09:15:02+11:00', NZ)).toEqual({
      ok: true,
      value: Date.parse('2026-11-03T09:15:02+11:00'),
    });
    expect(r.readDateTime('2026-11-03T09:15:02', NZ)).toEqual({
      ok: true,
      value: Date.parse('2026-11-03T09:15:02+13:00'),
    });
    // 27 September 2026, 02:30 does not exist in Auckland (clocks go 02:00 -> 03:00): moved forward by the gap.
    expect(r.readDateTime('27/09/2026 02:30:00', NZ)).toEqual({
      ok: true,
      value: Date.parse('2026-09-27T03:30:00+13:00'),
    });
    // 5 April 2026, 02:30 happens twice (03:00 -> 02:00): the earlier instant.
    expect(r.readDateTime('05/04/2026 02:30:00', NZ)).toEqual({
      ok: true,
      value: Date.parse('2026-04-05T02:30:00+13:00'),
    });
  });

  it('reads one- and two-digit parts alike, and refuses text of the right length but not the form', () => {
    // Two-digit parts are read at fixed widths, anything else by the form's pattern: both agree.
    const utc = new TimeZone('UTC');
    const at = Date.UTC(2026, 1, 3, 4, 5, 6);
    for (const text of ['03/02/2026 04:05:06', '3/2/2026 4:5:6', '03/2/2026 04:5:06', '3/02/2026 04:05:6'])
      expect(r.readDateTime(text, utc)).toEqual({ ok: true, value: at });
    expect(r.readDate('3/2/2026')).toEqual({ ok: true, value: { y: 2026, mo: 2, d: 3 } });
    expect(r.readTime('4:05:06')).toEqual({ ok: true, value: { h: 4, mi: 5, s: 6 } });
    for (const text of [
      '03-02-2026 04:05:06',
      '0a/02/2026 04:05:06',
      '03/02/2026 04:05:0x',
      '03/02/2026T04:05:06',
    ])
      expect(r.readDateTime(text, utc)).toEqual({ ok: false, why: 'form' });
    expect(r.readDateTime('03/02/2026 04:60:06', utc)).toEqual({ ok: false, why: 'not-real' });
    expect(r.readDateTime('30/02/2026 04:05:06', utc)).toEqual({ ok: false, why: 'not-real' });
    // A date repeated from the row before with another time, and a new date after it.
    expect(r.readDateTime('30/02/2026 04:05:07', utc)).toEqual({ ok: false, why: 'not-real' });
    expect(r.readDateTime('28/02/2026 23:59:59', utc)).toEqual({
      ok: true,
      value: Date.UTC(2026, 1, 28, 23, 59, 59),
    });
    expect(r.readDateTime('28/02/2026', utc)).toEqual({ ok: false, why: 'form' });
  });

  it('takes its own forms: month-first, dotted, without seconds', () => {
    const us = new DateTimeReader({ date: 'MM/DD/YYYY', time: 'HH:MM', dateTime: 'YYYY.MM.DD HH:MM' });
    expect(us.readDate('11/03/2026')).toEqual({ ok: true, value: { y: 2026, mo: 11, d: 3 } });
    expect(us.readTime('09:15')).toEqual({ ok: true, value: { h: 9, mi: 15, s: 0 } });
    expect(us.readDateTime('2026.11.03 09:15', new TimeZone('UTC'))).toEqual({
      ok: true,
      value: Date.UTC(2026, 10, 3, 9, 15),
    });
  });
});

describe('17-column rows', () => {
  const header = readHeader(LEGACY);
  const reader = new RowReader(header, { zone: NZ, login: '40021' });

  it('converts a row: account from the login, derived billing period, currency, every value as sent', () => {
    const r = reader.convert(legacyRow(), ingest);
    expect(r.ok && r.cdr).toMatchObject({
      id: 1001,
      account: '40021',
      billing_period: '2026-11',
      billing_period_derived: true,
      start_time: Date.parse('2026-11-03T09:15:02+13:00'),
      start_time_text: '03/11/2026 09:15:02',
      date_text: '03/11/2026',
      time_text: '09:15:02',
      currency: 'NZD',
      cost_text: '0.5',
      layout: 'legacy17',
      status: 'ANSWERED',
      terminated: 'Callee',
      smartcode: 'SC1',
      smartcode_description: 'rate',
      recording: 'rec/1001.mp3',
      extra: {},
    });
  });

  it('derives the billing period in the feed zone: 1 December 00:30 in Auckland is still November in UTC', () => {
    const r = reader.convert(
      legacyRow({ 'Date/Time': '01/12/2026 00:30:00', Date: '01/12/2026', Time: '00:30:00' }),
      ingest,
    );
    expect(r.ok && r.cdr.billing_period).toBe('2026-12');
  });

  it('uses Date and Time when Date/Time is empty, and refuses them when they disagree with it', () => {
    const parts = reader.convert(legacyRow({ 'Date/Time': '' }), ingest);
    expect(parts.ok && [parts.cdr.start_time_text, parts.cdr.start_time]).toEqual([
      '03/11/2026 09:15:02',
      Date.parse('2026-11-03T09:15:02+13:00'),
    ]);
    const disagree = reader.convert(legacyRow({ Time: '09:15:03' }), ingest);
    expect(!disagree.ok && disagree.problem).toEqual({
      field: 'Date/Time',
      reason: '"03/11/2026 09:15:02" and Date "03/11/2026" Time "09:15:03" name different instants',
    });
  });

  it('refuses a cost with a currency sign, naming the column as sent', () => {
    const r = reader.convert(legacyRow({ 'Call Cost (NZD)': '$0.50' }), ingest);
    expect(!r.ok && r.problem.field).toBe('Call Cost (NZD)');
  });

  it('tells pointer rows and empty first rows from CDRs', () => {
    const pointer = ['5000', ...Array(16).fill('')];
    expect(reader.isPointer(pointer)).toBe(true);
    expect(reader.isPointer(legacyRow())).toBe(false);
    expect(reader.isPointer(Array(17).fill(''))).toBe(false);
    expect(reader.idIsEmpty(Array(17).fill(''))).toBe(true);
    expect(reader.idIsEmpty(legacyRow())).toBe(false);
  });

  it('reads a comma decimal separator when the layout says so', () => {
    const layout: Layout = { ...LEGACY17_LAYOUT, decimalSeparator: ',' };
    const r = new RowReader(readHeader(LEGACY, [layout]), { zone: NZ, login: 'x' }).convert(
      legacyRow({ 'Call Cost (NZD)': '-12,50' }),
      ingest,
    );
    expect(r.ok && [r.cdr.cost_text, bytesToDecimalString(r.cdr.cost)]).toEqual([
      '-12,50',
      canonicalCost('-12.5'),
    ]);
  });
});
