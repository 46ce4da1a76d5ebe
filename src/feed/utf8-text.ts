// A feed body's bytes as text, chunk by chunk, with invalid UTF-8 kept visible: each byte that is
// not part of a valid sequence becomes a lone surrogate (U+DC80..U+DCFF, Python's
// "surrogateescape"), which valid UTF-8 never decodes to. A row whose text is then not well formed
// (String.prototype.isWellFormed) held bytes that are not UTF-8, and is dead-lettered instead of
// being published with replacement characters (csv-records.ts). Valid chunks, nearly all of them,
// take Node's own decoder.
import { isUtf8 } from 'node:buffer';

export class Utf8Text {
  /** The bytes of a sequence cut by the end of the previous chunk. */
  private carry: Buffer | undefined;

  write(chunk: Buffer): string {
    let bytes = this.carry ? Buffer.concat([this.carry, chunk]) : chunk;
    this.carry = undefined;
    const cut = completeLength(bytes);
    if (cut < bytes.length) {
      this.carry = Buffer.from(bytes.subarray(cut));
      bytes = bytes.subarray(0, cut);
    }
    return decode(bytes);
  }

  /** What is left: an unfinished sequence at the body's end, its bytes escaped. */
  end(): string {
    const rest = this.carry;
    this.carry = undefined;
    return rest ? decode(rest) : '';
  }
}

/** The bytes `b` up to a sequence the chunk's end cut (a lead byte whose continuation is to come). */
function completeLength(b: Buffer): number {
  const n = b.length;
  for (let back = 1; back <= 3 && back <= n; back++) {
    const c = b[n - back] as number;
    if ((c & 0xc0) === 0x80) continue; // a continuation byte: look further back
    const need = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 1;
    return need > back ? n - back : n;
  }
  return n;
}

function decode(b: Buffer): string {
  if (isUtf8(b)) return b.toString('utf8');
  let out = '';
  let start = 0;
  let i = 0;
  while (i < b.length) {
    const len = sequenceLength(b, i);
    if (len > 0) {
      i += len;
      continue;
    }
    out += b.toString('utf8', start, i) + String.fromCharCode(0xdc00 + (b[i] as number));
    i++;
    start = i;
  }
  return out + b.toString('utf8', start, b.length);
}

/** The length of the valid UTF-8 sequence at `i`, or 0 when the byte there does not start one. */
function sequenceLength(b: Buffer, i: number): number {
  const c = b[i] as number;
  if (c < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf) => {
    const x = b[i + k];
    return x !== undefined && x >= lo && x <= hi;
  };
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if (c === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0; // no encoded surrogates
  if (c >= 0xe1 && c <= 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (c === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xf1 && c <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}
