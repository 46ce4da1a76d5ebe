import { describe, expect, it } from 'vitest';
import { type CsvEvent, CsvReader } from '../../src/feed/csv-records.ts';
import { splitLine } from '../../src/feed/split-line.ts';

const opts = { delimiter: ',', maxRecordChars: 1000, rawClipChars: 50 };

/** Reads `text` in chunks of `size` characters; the tail is accepted unless told otherwise. */
function read(text: string, size = text.length || 1, accept = true, options = opts): CsvEvent[] {
  const r = new CsvReader(options);
  const events: CsvEvent[] = [];
  for (let i = 0; i < text.length; i += size) events.push(...r.push(Buffer.from(text.slice(i, i + size))));
  events.push(...r.end(() => accept));
  return events;
}

const records = (events: CsvEvent[]) =>
  events.map((e) => (e.kind === 'record' ? e.fields : `${e.kind}:${e.raw}`));

describe('CsvReader', () => {
  const body =
    '\ufeffid,name,note\r\n1,"a, b","say ""hi"""\r\n\r\n2,"two\r\nlines",x\n3,,\n4,plain,"ends ""quoted"""\n';
  const expected = [
    ['id', 'name', 'note'],
    ['1', 'a, b', 'say "hi"'],
    ['2', 'two\r\nlines', 'x'],
    ['3', '', ''],
    ['4', 'plain', 'ends "quoted"'],
  ];

  it('reads RFC 4180: BOM, CRLF, quotes, doubled quotes, line breaks in fields, empty lines', () => {
    expect(records(read(body))).toEqual(expected);
  });

  it('gives the same records whatever the chunk boundaries (every split, one character at a time)', () => {
    for (const size of [1, 2, 3, 5, 7, 11])
      expect(records(read(body, size)), `size ${size}`).toEqual(expected);
  });

  it('splits a multi-byte character across chunks without damage', () => {
    const text = 'id,d\n1,東京 ☎\n';
    const bytes = Buffer.from(text);
    const r = new CsvReader(opts);
    const events = [...r.push(bytes.subarray(0, 8)), ...r.push(bytes.subarray(8)), ...r.end(() => false)];
    expect(records(events)).toEqual([
      ['id', 'd'],
      ['1', '東京 ☎'],
    ]);
  });

  it('reads mixed ASCII and multi-byte bodies split at every byte the same as in one piece', () => {
    // A chunk that follows the first bytes of a character (a split one, or a lone lead byte
    // before ASCII text) must not lose them or move them.
    const bodies = [
      Buffer.from('id,d\n1,Zürich €5\n2,plain\n3,😀x\n'),
      Buffer.concat([
        Buffer.from('id,d\n1,a'),
        Buffer.from([0xe6]),
        Buffer.from('bc\n2,x\xff\n3,\u00e9\n', 'latin1'),
      ]),
    ];
    for (const body of bodies) {
      const whole = new CsvReader(opts);
      const expected = records([...whole.push(body), ...whole.end(() => true)]);
      for (let a = 1; a < body.length; a++)
        for (let b = a + 1; b <= body.length; b++) {
          const r = new CsvReader(opts);
          const got = [
            ...r.push(body.subarray(0, a)),
            ...r.push(body.subarray(a, b)),
            ...r.push(body.subarray(b)),
            ...r.end(() => true),
          ];
          expect(records(got), `split at ${a}, ${b}`).toEqual(expected);
        }
    }
  });

  it('reads bytes as the UTF-8 text they are: fields, raw text, quotes, a mark split over chunks', () => {
    // Bytes pushed in chunks of any size give the events of the decoded text read as a string.
    const text =
      '\ufeffid,Gruppe €,note\r\n1,"Müller, ""Söhne""",東京 ☎\n2,plain,"two\nlines ü"\n3,a"b é,x\n4,"q"ö,y\n5,,\n';
    const fromText = new CsvReader(opts);
    const expected = [...fromText.push(text), ...fromText.end(() => true)];
    expect(records(expected)[1]).toEqual(['1', 'Müller, "Söhne"', '東京 ☎']);
    const bytes = Buffer.from(text);
    for (const size of [1, 2, 3, 4, 5, 7, 64]) {
      const r = new CsvReader(opts);
      const got: CsvEvent[] = [];
      for (let i = 0; i < bytes.length; i += size) got.push(...r.push(bytes.subarray(i, i + size)));
      got.push(...r.end(() => true));
      expect(got, `size ${size}`).toEqual(expected);
    }
    // A body of two bytes that start like the mark is not one: and not UTF-8 either, a broken
    // record shown with U+FFFD where the byte was.
    const two = new CsvReader(opts);
    expect([...two.push(Buffer.from([0xef, 0x41])), ...two.end(() => true)]).toMatchObject([
      { kind: 'broken', code: 'invalid_utf8', raw: '\ufffdA' },
    ]);
  });

  it('makes a row with bytes that are not UTF-8 one broken record, however the chunks cut them; valid text is untouched', () => {
    const bytes = Buffer.concat([
      Buffer.from('id,note\n1,ok ü 東京 🚀\n2,bad'),
      Buffer.from([0xff, 0xe6, 0x9d]), // a stray byte, a three-byte sequence without its last byte
      Buffer.from('x\n3,\ud83d\ude80 fine\n4,'),
      Buffer.from([0xed, 0xa0, 0x80]), // an encoded surrogate
      Buffer.from('\n'),
    ]);
    for (const size of [1, 2, 3, 5, 1000]) {
      const r = new CsvReader(opts);
      const got: CsvEvent[] = [];
      for (let i = 0; i < bytes.length; i += size) got.push(...r.push(bytes.subarray(i, i + size)));
      got.push(...r.end(() => true));
      expect(
        got.map((e) =>
          e.kind === 'record' ? e.fields : `${e.kind}:${e.kind === 'broken' ? e.code : ''}:${e.raw}`,
        ),
        `size ${size}`,
      ).toEqual([
        ['id', 'note'],
        ['1', 'ok ü 東京 🚀'],
        'broken:invalid_utf8:2,bad\ufffd\ufffd\ufffdx', // one U+FFFD a byte
        ['3', '🚀 fine'],
        'broken:invalid_utf8:4,\ufffd\ufffd\ufffd',
      ]);
    }
  });

  it('reports raw text without the line end and the physical line where a record starts', () => {
    const events = read('h1,h2\n1,"x\ny"\n2,z\n');
    expect(events.map((e) => [e.kind === 'record' && e.raw, e.line])).toEqual([
      ['h1,h2', 1],
      ['1,"x\ny"', 2],
      ['2,z', 4],
    ]);
  });

  it('keeps stray quotes as data', () => {
    expect(records(read('a,b\nab"c,"x"y\n'))).toEqual([
      ['a', 'b'],
      ['ab"c', '"x"y'],
    ]);
  });

  it('reads other delimiters with the same quoting', () => {
    expect(records(read('a|b\n"1|2"|3\n', 4, true, { ...opts, delimiter: '|' }))).toEqual([
      ['a', 'b'],
      ['1|2', '3'],
    ]);
    expect(records(read('a\tb\n1\t"2\t3"\n', 4, true, { ...opts, delimiter: '\t' }))).toEqual([
      ['a', 'b'],
      ['1', '2\t3'],
    ]);
  });

  describe('the end of a body', () => {
    it('returns a last record without a line end as a tail unless it is accepted', () => {
      expect(records(read('a,b\n1,2\n3,4', 3, false))).toEqual([['a', 'b'], ['1', '2'], 'tail:3,4']);
      expect(records(read('a,b\n1,2\n3,4', 3, true))).toEqual([
        ['a', 'b'],
        ['1', '2'],
        ['3', '4'],
      ]);
    });

    it('holds a body cut right after a whole field, and one cut inside a quoted field', () => {
      expect(records(read('a,b,c\n1,2', 100, false))).toEqual([['a', 'b', 'c'], 'tail:1,2']);
      expect(records(read('a,b,c\n1,2,"x\ny', 100, false))).toEqual([['a', 'b', 'c'], 'tail:1,2,"x\ny']);
    });

    it('gives a tail exactly the text it was given, so two identical bodies compare equal', () => {
      const tails = [0, 1].map(() => read('a,b\n1,"2\n', 2, false).find((e) => e.kind === 'tail'));
      expect(tails[0]).toEqual(tails[1]);
      expect(tails[0]).toMatchObject({ raw: '1,"2\n', line: 2 });
    });

    it('has no tail when the body ends with a line end, or is empty', () => {
      expect(read('a,b\n1,2\n', 100, false).some((e) => e.kind === 'tail')).toBe(false);
      expect(read('', 1, false)).toEqual([]);
    });

    it('takes a lone CR as data, not a line end (line ends are LF and CRLF): a body ending in one has a tail', () => {
      expect(records(read('a,b\n1,x\ry\n2,z\n'))).toEqual([
        ['a', 'b'],
        ['1', 'x\ry'],
        ['2', 'z'],
      ]);
      for (const size of [1, 2, 3, 100]) {
        expect(records(read('a,b\r\n1,x\ry\r\n', size))).toEqual([
          ['a', 'b'],
          ['1', 'x\ry'],
        ]);
        expect(read('a,b\r\n1,2\r', size, false).some((e) => e.kind === 'tail')).toBe(true);
      }
    });
  });

  describe('poison records', () => {
    it('reads the whole leading fields of a broken line, quotes honoured, never a cut one', () => {
      const c = ','.charCodeAt(0);
      expect(splitLine('1,"a, ""b""",c,"open', c)).toEqual(['1', 'a, "b"', 'c']);
      expect(splitLine('1,2,xxxx', c)).toEqual(['1', '2']);
      expect(splitLine('7', c)).toEqual([]);
    });

    it('reports an oversized record clipped, with its first field, and reads on at the next line', () => {
      const big = 'x'.repeat(5000);
      for (const size of [64, 1000, 100_000]) {
        const events = read(`id,d\n1,ok\n2,${big}\n3,fine\n`, size);
        expect(records(events).filter((r) => Array.isArray(r))).toEqual([
          ['id', 'd'],
          ['1', 'ok'],
          ['3', 'fine'],
        ]);
        const broken = events.find((e) => e.kind === 'broken');
        expect(broken).toMatchObject({ code: 'too_large', leading: ['2'], line: 3 });
        expect(broken?.raw).toHaveLength(50);
      }
    });

    it('reads past an unclosed quote: its first line is broken, the rows after it are read again', () => {
      const text = 'id,d,e\n1,a,b\n2,"open,b\n3,c,d\n4,"x ""y""",e\n5,f,g\n';
      for (const size of [1, 4, 1000]) {
        const events = read(text, size);
        expect(
          records(events).filter((r) => Array.isArray(r)),
          `size ${size}`,
        ).toEqual([
          ['id', 'd', 'e'],
          ['1', 'a', 'b'],
          ['3', 'c', 'd'],
          ['4', 'x "y"', 'e'],
          ['5', 'f', 'g'],
        ]);
        const broken = events.filter((e) => e.kind === 'broken');
        expect(broken).toHaveLength(1);
        expect(broken[0]).toMatchObject({
          code: 'unclosed_quote',
          leading: ['2'],
          raw: '2,"open,b',
          line: 3,
        });
      }
    });

    it('splits an unclosed quote that never closes at once when whole rows follow its line', () => {
      const text = 'id,d\n1,a\n2,"open\n3,b\n4,c\n';
      // Not a row cut short: the lines after it are rows. Its line is broken, the rows are kept,
      // whether or not the tail was accepted (a growing feed would otherwise hold it again and again).
      for (const accepted of [false, true])
        expect(records(read(text, 5, accepted))).toEqual([
          ['id', 'd'],
          ['1', 'a'],
          'broken:2,"open',
          ['3', 'b'],
          ['4', 'c'],
        ]);
      // Lines that are not rows (a quoted field cut short): held as a tail until accepted.
      const cut = 'id,d\n1,a\n2,"open\nmore text\n';
      expect(records(read(cut, 5, false))).toEqual([['id', 'd'], ['1', 'a'], 'tail:2,"open\nmore text\n']);
    });

    it('dead-letters a record whose quote closes lines away with text after it, even of the right width', () => {
      // The quote opened on row 1 closes on row 3; row 2 is too short, so the lines are not rows.
      const text = 'id,d,e\n1,"open,x\n2,short\n3,"q"w,z\n4,ok,ok\n';
      expect(records(read(text, 5, true))).toEqual([
        ['id', 'd', 'e'],
        'broken:1,"open,x\n2,short\n3,"q"w,z',
        ['4', 'ok', 'ok'],
      ]);
    });

    it('splits an unclosed quote that swallows more than the record limit, in bounded memory', () => {
      const rows = Array.from({ length: 200 }, (_, i) => `${i + 10},row ${i}`).join('\n');
      const text = `id,d\n1,"open\n${rows}\n`;
      const events = read(text, 97, true, { ...opts, maxRecordChars: 300 });
      const got = records(events).filter((r) => Array.isArray(r));
      expect(got).toHaveLength(201);
      expect(got.at(-1)).toEqual(['209', 'row 199']);
      expect(events.filter((e) => e.kind === 'broken').map((e) => e.raw)).toEqual(['1,"open']);
    });

    it('takes a short record whose quoted field spans lines as one record, not an unclosed quote', () => {
      // Well-formed CSV with a field too few: the lines after its first are no rows of their own.
      const text = 'id,d,e\n1,a,b\n2,"first\nline\nnote"\n3,c,d\n';
      for (const size of [1, 4, 1000]) {
        const events = read(text, size);
        expect(records(events), `size ${size}`).toEqual([
          ['id', 'd', 'e'],
          ['1', 'a', 'b'],
          ['2', 'first\nline\nnote'],
          ['3', 'c', 'd'],
        ]);
        expect(events.find((e) => e.kind === 'record' && e.fields[0] === '2')).toMatchObject({
          raw: '2,"first\nline\nnote"',
          line: 3,
        });
      }
    });

    it('keeps a legitimate multi-line quoted field whose record has the header shape', () => {
      expect(records(read('id,d\n1,"line one\nline two"\n2,x\n', 3))).toEqual([
        ['id', 'd'],
        ['1', 'line one\nline two'],
        ['2', 'x'],
      ]);
    });
  });
});
