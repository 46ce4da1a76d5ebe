import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { costToBytes } from '../../src/cdr/decimal.ts';
import type { RawCdr } from '../../src/cdr/row.ts';
import { TimeZone } from '../../src/cdr/time-zone.ts';
import { filterFromOptions } from '../../src/replay/cli.ts';
import { boundary, matches } from '../../src/replay/filter.ts';
import { CSV_COLUMNS, csvHeaderLine, csvLine, jsonLine, neutralise } from '../../src/replay/formats.ts';

const cdr = (o: Partial<RawCdr> = {}): RawCdr => ({
  id: 5_000_000_000_123,
  account: '40021',
  billing_group: 'Sales',
  billing_period: '2026-11',
  start_time: Date.parse('2026-11-03T09:15:02+11:00'),
  start_time_text: '2026-11-03T09:15:02+11:00',
  from: '+61 2 9000 1234',
  to: '61412345678',
  seconds: 125,
  type: 'M',
  sub_type: 'M3',
  cost: costToBytes('-0.4170'),
  cost_text: '-0.4170',
  description: '=HYPERLINK("http://x","click"), then\r\na "quote"',
  extra: { carrier_ref: 'CR-1' },
  ingest: { ingested_at: 0, feed_host: 'h:1', line: 2 },
  layout: 'contract',
  billing_period_derived: false,
  currency: null,
  date_text: null,
  time_text: null,
  status: null,
  terminated: null,
  smartcode: null,
  smartcode_description: null,
  recording: null,
  ...o,
});

describe('export formats', () => {
  it('writes RFC 4180 CSV in the contract order, money as sent, formulas neutralised in text cells only', () => {
    const text = csvHeaderLine() + csvLine(cdr());
    const [row] = parse(text, { columns: true }) as Array<Record<string, string>>;
    expect(Object.keys(row ?? {})).toEqual([...CSV_COLUMNS]);
    expect(row).toMatchObject({
      id: '5000000000123',
      cost: '-0.4170',
      cost_decimal: '-0.417000',
      from: "'+61 2 9000 1234",
      description: `'=HYPERLINK("http://x","click"), then\r\na "quote"`,
      start_time_utc: '2026-11-02T22:15:02.000Z',
      extra: '{"carrier_ref":"CR-1"}',
    });
    for (const f of ['=1+1', '+1', '-1', '@SUM(A1)', '\tx', '\rx']) expect(neutralise(f)).toBe(`'${f}`);
    for (const f of ['61412345678', 'Sales', '', "O'Brien"]) expect(neutralise(f)).toBe(f);
  });

  it('writes JSON Lines with every value as sent, money as an exact decimal string', () => {
    const j = JSON.parse(jsonLine(cdr())) as Record<string, unknown>;
    expect(j).toMatchObject({
      id: 5_000_000_000_123,
      cost: '-0.417000',
      cost_text: '-0.4170',
      from: '+61 2 9000 1234',
      start_time: '2026-11-02T22:15:02.000Z',
    });
    expect(String(j.description)).toMatch(/^=HYPERLINK/);
  });
});

describe('search filters', () => {
  const sydney = new TimeZone('Australia/Sydney');

  it('reads dates in the zone, a date as an upper bound taking its whole day', () => {
    expect(boundary('2026-11-03', sydney, false)).toBe(Date.parse('2026-11-03T00:00:00+11:00'));
    expect(boundary('2026-11-03', sydney, true)).toBe(Date.parse('2026-11-04T00:00:00+11:00'));
    expect(boundary('2026-11-03T09:00:00Z', sydney, false)).toBe(Date.parse('2026-11-03T09:00:00Z'));
    expect(boundary('2026-11-03 09:00', sydney, false)).toBeUndefined();
  });

  it('combines every criterion', () => {
    const f = filterFromOptions({
      zone: 'Australia/Sydney',
      startFrom: '2026-11-03',
      startTo: '2026-11-03',
      period: ['2026-11'],
      group: ['Sales', ''],
      account: ['40021'],
      type: ['M/M3', 'I'],
      secondsMin: '100',
      secondsMax: '200',
      fromPrefix: '+61 2',
      to: '61412345678',
      idFrom: '5000000000000',
      idTo: '5000000000200',
    });
    expect(matches(cdr(), f)).toBe(true);
    for (const miss of [
      { start_time: Date.parse('2026-11-04T00:00:00+11:00') },
      { billing_period: '2026-10' },
      { billing_group: 'Support' },
      { account: '40022' },
      { sub_type: 'MG' },
      { seconds: 99 },
      { seconds: 201 },
      { from: '61290001234' },
      { to: '614123456789' },
      { id: 5_000_000_000_201 },
    ])
      expect(matches(cdr(miss), f), JSON.stringify(miss)).toBe(false);
    expect(matches(cdr({ type: 'I', sub_type: 'I', billing_group: '' }), f)).toBe(true);
  });

  it('names the option of a bad value', () => {
    const err = (o: Record<string, unknown>) => {
      try {
        filterFromOptions({ zone: 'UTC', ...o });
      } catch (e) {
        return (e as Error).message;
      }
      return '';
    };
    expect(err({ startFrom: 'yesterday' })).toContain('--start-from');
    expect(err({ period: ['2026-13'] })).toContain('--period');
    expect(err({ zone: 'Mars/Base' })).toContain('--zone');
    expect(err({ secondsMin: '-1' })).toContain('--seconds-min');
    expect(err({ from: '1', fromPrefix: '2' })).toContain('--from');
  });
});
