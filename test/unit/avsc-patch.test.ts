// The avsc patch (patches/avsc+5.7.9.patch) writes short ASCII strings in one pass: every string
// still encodes as Avro says, its UTF-8 byte length as a zigzag varint, then its UTF-8 bytes.
import avro from 'avsc';
import { describe, expect, it } from 'vitest';

/** Avro's encoding of a string, by the specification. */
function reference(s: string): Buffer {
  const bytes = Buffer.from(s, 'utf8');
  const varint: number[] = [];
  for (let v = bytes.length * 2; ; v = Math.floor(v / 128)) {
    if (v < 128) {
      varint.push(v);
      break;
    }
    varint.push((v % 128) | 128);
  }
  return Buffer.concat([Buffer.from(varint), bytes]);
}

describe('avsc patch', () => {
  const type = avro.Type.forSchema('string');
  it.each([
    '',
    'a',
    'Field Team',
    '04/09/2026 13:06:40',
    'abc\u007f',
    'x'.repeat(63),
    'x'.repeat(64),
    'x'.repeat(300),
    'é',
    'Zürich 80€',
    '日本語',
    'a😀b',
    'é'.repeat(40),
  ])('encodes %j as the specification says, and reads it back', (s) => {
    const encoded = type.toBuffer(s);
    expect(encoded.equals(reference(s))).toBe(true);
    expect(type.fromBuffer(encoded)).toBe(s);
  });

  it('reports the bytes missing when the buffer is too small, as before', () => {
    expect(type.encode('abcdefgh', Buffer.alloc(5), 0)).toBe(-4);
    expect(type.encode('abcdefgh', Buffer.alloc(9), 0)).toBe(9);
  });
});
