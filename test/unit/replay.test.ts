import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesToDecimalString, costToBytes } from '../../src/cdr/decimal.ts';
import { PhoneNumbers } from '../../src/cdr/phone.ts';
import type { RawCdr } from '../../src/cdr/row.ts';
import { TimeZone } from '../../src/cdr/time-zone.ts';
import { filterFromOptions } from '../../src/cli/read-options.ts';
import { avroType } from '../../src/codec/schemas.ts';
import { encodeValue } from '../../src/codec/wire.ts';
import { ByteSink } from '../../src/tools/read/byte-sink.ts';
import { boundary, matches } from '../../src/tools/read/filter.ts';
import { CSV_COLUMNS, csvHeaderLine, csvLine, jsonLine, neutralise } from '../../src/tools/read/formats.ts';
import { CsvTranscoder, GENERIC, SKIPPED, WRITTEN } from '../../src/tools/replay/csv-transcode.ts';
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
      for (const key of ['7', '0', '1234567890', '4294967294']) {
        const { result, text } = t(rawCdr({ extra: { b: '1', [key]: 'index-like' } }));
        expect(result, key).toBe(GENERIC);
        expect(text).toBe('');
      }
    }
  });

  it('writes from the bytes an extra whose keys only look like numbers, or are not ASCII', () => {
    for (const key of ['01', '12345678901', '-1', '1.5', ' 7', 'ü', '東京', 'ab', 'ba']) {
      const c = rawCdr({ extra: { z: '1', [key]: 'v', b: '2' } });
      expect(transcode(c)).toEqual({ result: WRITTEN, text: csvLine(c) });
      expect(transcodeJson(c)).toEqual({ result: WRITTEN, text: jsonLine(c) });
    }
  });

  it('leaves to the generic path a map that holds a key twice (ASCII or not)', () => {
    // Avro maps may repeat a key; an object keeps one. Made by renaming a key in the bytes.
    for (const [first, second] of [
      ['ka', 'kb'],
      ['ü1', 'ü2'],
    ]) {
      const v = encodeValue(type, 9, rawCdr({ extra: { [first as string]: '1', [second as string]: '2' } }));
      const at = v.lastIndexOf(Buffer.from(second as string));
      Buffer.from(first as string).copy(v, at);
      for (const t of [new CsvTranscoder(), new JsonLinesTranscoder()])
        expect(t.write(v, new ByteSink(16))).toBe(GENERIC);
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

describe('ByteSink writes numbers, times and costs as JavaScript does', () => {
  const written = (f: (s: ByteSink) => void) => {
    const s = new ByteSink(1);
    f(s);
    return s.buf.toString('latin1', 0, s.len);
  };

  it('digits: String(n) for any integer up to 2^53 in magnitude', () => {
    for (const n of [0, 1, 9, 10, 99, 100, -1, -10, 2 ** 53 - 1, -(2 ** 53 - 1), 1e15, 5_000_000_000_123])
      expect(written((s) => s.digits(n))).toBe(String(n));
    fc.assert(
      fc.property(fc.maxSafeInteger(), (n) => written((s) => s.digits(n)) === String(n)),
      { numRuns: 2000 },
    );
  });

  it('isoTime: toISOString for every instant, years 0000 to 9999 written directly, the rest by Date', () => {
    const edges = [
      0, -1, 1, 86_399_999, 86_400_000, 951_782_400_000, 253_402_300_799_999, 253_402_300_800_000,
    ];
    for (const ms of [...edges, -62_167_219_200_000, -62_167_219_200_001, -8_640_000_000_000_000])
      expect(written((s) => s.isoTime(ms))).toBe(new Date(ms).toISOString());
    fc.assert(
      fc.property(fc.integer({ min: -8_640_000_000_000_000, max: 8_640_000_000_000_000 }), (ms) => {
        return written((s) => s.isoTime(ms)) === new Date(ms).toISOString();
      }),
      { numRuns: 5000 },
    );
    fc.assert(
      fc.property(fc.integer({ min: -62_167_219_200_000, max: 253_402_300_799_999 }), (ms) => {
        return written((s) => s.isoTime(ms)) === new Date(ms).toISOString();
      }),
      { numRuns: 5000 },
    );
  });

  it('cost: bytesToDecimalString for decimals of 0 to 8 bytes', () => {
    for (const text of ['0', '-0.000001', '0.000001', '-1.25', '999999999999.999999', '-999999999999.999999'])
      expect(written((s) => s.cost(costToBytes(text), 0, costToBytes(text).length))).toBe(
        bytesToDecimalString(costToBytes(text)),
      );
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 8 }), (b) => {
        const framed = Buffer.concat([Buffer.from([7, 7]), b, Buffer.from([7])]);
        return written((s) => s.cost(framed, 2, 2 + b.length)) === bytesToDecimalString(b);
      }),
      { numRuns: 5000 },
    );
  });
});
