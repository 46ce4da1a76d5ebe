import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { costToBytes } from '../../src/cdr/decimal.ts';
import { PhoneNumbers } from '../../src/cdr/phone.ts';
import type { RawCdr } from '../../src/cdr/row.ts';
import { TimeZone } from '../../src/cdr/time-zone.ts';
import { filterFromOptions } from '../../src/cli/read-options.ts';
import { avroType } from '../../src/codec/schemas.ts';
import { encodeValue } from '../../src/codec/wire.ts';
import { boundary, matches } from '../../src/tools/read/filter.ts';
import { CSV_COLUMNS, csvHeaderLine, csvLine, jsonLine, neutralise } from '../../src/tools/read/formats.ts';
import { ByteSink, CsvTranscoder, GENERIC, SKIPPED, WRITTEN } from '../../src/tools/replay/csv-transcode.ts';
import { JsonLinesTranscoder } from '../../src/tools/replay/json-transcode.ts';
import { rawCdr } from '../helpers/raw-cdr.ts';

describe('export formats', () => {
  it('writes RFC 4180 CSV in the contract order, money as sent, formulas neutralised in text cells only', () => {
    const text = csvHeaderLine() + csvLine(rawCdr());
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
    const j = JSON.parse(jsonLine(rawCdr())) as Record<string, unknown>;
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
    expect(matches(rawCdr(), f)).toBe(true);
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
      expect(matches(rawCdr(miss), f), JSON.stringify(miss)).toBe(false);
    expect(matches(rawCdr({ type: 'I', sub_type: 'I', billing_group: '' }), f)).toBe(true);
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

describe('CSV and JSON Lines straight from Avro bytes', () => {
  const type = avroType('cdr-raw');
  const transcode = (c: RawCdr) => {
    const sink = new ByteSink(16);
    const result = new CsvTranscoder().write(encodeValue(type, 9, c), sink);
    return { result, text: sink.buf.toString('utf8', 0, sink.len) };
  };
  const transcodeJson = (c: RawCdr) => {
    const sink = new ByteSink(16);
    const result = new JsonLinesTranscoder().write(encodeValue(type, 9, c), sink);
    return { result, text: sink.buf.toString('utf8', 0, sink.len) };
  };

  it.each([
    ['the usual record', {}],
    [
      'formulas, quotes, line breaks and commas',
      { account: '-1', billing_group: '@g, "x"', to: '+44 20 7946 0000' },
    ],
    [
      'leading and trailing spaces, tab and CR first',
      { from: ' 612', to: '612 ', description: '\tx', sub_type: '\rM3' },
    ],
    ['non-ASCII text', { description: 'Tōkyō 東京 — ünïcödé 🚀', billing_group: 'Müller & Söhne' }],
    ['an empty group, description and extra', { billing_group: '', description: '', extra: {} }],
    [
      'every optional field set',
      {
        layout: 'legacy17',
        billing_period_derived: true,
        currency: 'NZD',
        date_text: '03/11/2026',
        time_text: '09:15:02',
        status: 'ANSWERED',
        terminated: '=cmd',
        smartcode: 'S1',
        smartcode_description: 'Mobile, "national"',
        recording: 'rec/1.mp3',
      },
    ],
    ['extra needing JSON escapes', { extra: { 'a"b': 'back\\slash', ctl: '\u0001\b\f\n\r\t', ü: '=x,"y"' } }],
    [
      'costs: credit, zero, past 2^47 and the largest',
      { cost: costToBytes('-999999999999.999999'), cost_text: '-999999999999.999999' },
    ],
    ['a small cost', { cost: costToBytes('0.000001'), cost_text: '0.000001' }],
    ['id 1 and zero seconds', { id: 1, seconds: 0 }],
  ] as Array<[string, Partial<RawCdr>]>)('writes the same bytes as csvLine and jsonLine: %s', (_name, o) => {
    const c = rawCdr(o);
    const { result, text } = transcode(c);
    expect(result).toBe(WRITTEN);
    expect(text).toBe(csvLine(c));
    const json = transcodeJson(c);
    expect(json.result).toBe(WRITTEN);
    expect(json.text).toBe(jsonLine(c));
  });

  it('leaves to the generic path an extra whose keys JSON would reorder', () => {
    for (const t of [transcode, transcodeJson]) {
      const { result, text } = t(rawCdr({ extra: { b: '1', '7': 'index-like' } }));
      expect(result).toBe(GENERIC);
      expect(text).toBe('');
    }
  });

  it('filters on the bytes with the same rules', () => {
    const c = rawCdr({ account: '40022', to: '4420' });
    const sink = new ByteSink(16);
    const t = new CsvTranscoder();
    const value = encodeValue(type, 9, c);
    expect(t.write(value, sink, (x) => matches(x, { accounts: new Set(['40021']) }))).toBe(SKIPPED);
    expect(
      t.write(value, sink, (x) => matches(x, { to: { value: '44', prefix: true }, secondsMin: 100 })),
    ).toBe(WRITTEN);
    expect(sink.buf.toString('utf8', 0, sink.len)).toBe(csvLine(c));
  });

  it('refuses bytes that are not a cdr-raw record of the current schema', () => {
    expect(() => new CsvTranscoder().write(Buffer.from([0, 0, 0, 0, 9, 2, 4]), new ByteSink(16))).toThrow();
  });

  it("filters numbers on their E.164 form in the home country of the record's layout", () => {
    const phones = new PhoneNumbers();
    const sink = new ByteSink(16);
    for (const [layout, want] of [
      ['contract', WRITTEN],
      ['legacy17', SKIPPED],
    ] as const) {
      const value = encodeValue(type, 9, rawCdr({ to: '0412345678', layout }));
      const keep = (x: RawCdr) => matches(x, { to: { value: '614', prefix: true }, phones });
      expect(new CsvTranscoder().write(value, sink, keep), layout).toBe(want);
    }
  });
});
